import { type BedrockSettings, ConfigurationError } from '../config/plain-config.ts';
import { tracer } from '../observability/observability.ts';
import { tracedFetch } from '../observability/xray-tracer.ts';
import type { JobProvider } from '../provider/job-provider.ts';
import { ModelRoutingProvider } from '../provider/model-routing-provider.ts';
import type { ProviderConfig, ProviderSettings } from '../provider/provider-config.ts';
import { VideoProvider } from '../provider/video-provider.ts';
import { readSecretString } from '../secrets/read-secret.ts';

/** Hands out the provider; async because the API key comes from Secrets Manager. */
export type ProviderSource = (deployment?: string) => Promise<JobProvider>;

export interface ProviderSourceOptions {
  /** The provider settings (readConfig's `provider`). */
  settings: ProviderSettings;
  /** The secret whose SecretString is the API key (readConfig's `providerSecretId`). */
  secretId: string;
  /** Where Bedrock writes its videos (readConfig's `bedrock`); needed when the catalogue has Bedrock models. */
  bedrock?: BedrockSettings | undefined;
  /** Reads the API key by secret id (default: Secrets Manager, cached five minutes). */
  readSecret?: (secretId: string) => Promise<string>;
  build?: (config: ProviderConfig) => VideoProvider;
  /**
   * Builds the Bedrock provider: the task functions pass `buildBedrockProvider`
   * (bedrock-provider-source.ts); without it (the API) Bedrock calls fail, and the Bedrock SDK
   * stays out of the function's bundle.
   */
  buildBedrock?: (
    config: ProviderConfig,
    bedrock: BedrockSettings,
  ) => JobProvider | Promise<JobProvider>;
}

// The provider's HTTP calls are subsegments of the invocation's trace (in Lambda only).
const tracedProviderFetch = tracedFetch(tracer);

/** The production client: provider calls traced when tracing is on. */
function buildVideoProvider(config: ProviderConfig): VideoProvider {
  return new VideoProvider(config, tracer.isTracingEnabled() ? { fetch: tracedProviderFetch } : {});
}

/**
 * Builds the provider from the settings, once per container. The /v1/videos client takes the API
 * key in the secret, re-read through its cache on every call, so a rotated key gets a new client
 * without a redeploy. When the catalogue offers Bedrock models, calls are routed per model, and
 * the key is read only when a /v1/videos model is used (IAM authorizes Bedrock).
 */
export function createProviderSource(options: ProviderSourceOptions): ProviderSource {
  const readSecret = options.readSecret ?? readSecretString;
  const build = options.build ?? buildVideoProvider;
  let cached: { apiKey: string; provider: VideoProvider } | undefined;

  const videos = async () => {
    const apiKey = await readSecret(options.secretId);
    if (cached?.apiKey !== apiKey) {
      cached = { apiKey, provider: build({ ...options.settings, apiKey }) };
    }
    return cached.provider;
  };

  // The Bedrock settings are checked on first use, as the key is.
  let routing: ModelRoutingProvider | undefined;
  return async () => {
    if (routing) return routing;
    const config: ProviderConfig = { ...options.settings, apiKey: 'not-read-yet' };
    if (!Object.values(config.models).some((spec) => spec.provider === 'bedrock')) return videos();
    const settings = options.bedrock;
    // Built (and its SDK loaded) on the first Bedrock call: /v1/videos jobs never pay for it.
    // A function without the Bedrock settings still serves the /v1/videos models.
    const buildBedrock = options.buildBedrock;
    let bedrock: Promise<JobProvider> | undefined;
    routing = new ModelRoutingProvider(config, {
      videos,
      bedrock: () => {
        if (settings === undefined) {
          return Promise.reject(
            new ConfigurationError('BEDROCK_OUTPUT_BUCKET is required for Bedrock models'),
          );
        }
        if (buildBedrock === undefined) {
          return Promise.reject(new ConfigurationError('This function does not call Bedrock'));
        }
        bedrock ??= Promise.resolve(buildBedrock(config, settings)).catch((error: unknown) => {
          bedrock = undefined;
          throw error;
        });
        return bedrock;
      },
    });
    return routing;
  };
}
