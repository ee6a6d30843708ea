import { type BedrockSettings, ConfigurationError } from '../config/plain-config.ts';
import { tracer } from '../observability/observability.ts';
import { tracedFetch } from '../observability/xray-tracer.ts';
import {
  DEFAULT_DEPLOYMENT,
  type DeploymentSpec,
  deploymentEndpoint,
} from '../provider/deployments.ts';
import type { JobProvider } from '../provider/job-provider.ts';
import { ModelRoutingProvider } from '../provider/model-routing-provider.ts';
import type { ProviderConfig, ProviderSettings } from '../provider/provider-config.ts';
import { VideoProvider } from '../provider/video-provider.ts';
import { readSecretString } from '../secrets/read-secret.ts';
import { keyForDeployment } from './deployment-keys.ts';

/**
 * Hands out the provider of one deployment (deployments.ts): its /v1/videos calls go to that
 * deployment's endpoint with its key. No deployment: `default`, the provider's base URL, where
 * every job that records no deployment was created. Async because the key comes from Secrets
 * Manager; rejects with a ConfigurationError for a deployment the catalogue does not list.
 */
export type ProviderSource = (deployment?: string) => Promise<JobProvider>;

export interface ProviderSourceOptions {
  /** The provider settings (readConfig's `provider`). */
  settings: ProviderSettings;
  /**
   * The secret whose SecretString is the API key, or a JSON object of keys by deployment id
   * (readConfig's `providerSecretId`). A deployment's own `apiKey` (local stack) comes first.
   */
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
 * Builds the providers from the settings: one /v1/videos client per deployment, once per
 * container. A client takes its key from the secret (one key, or the deployment's in a JSON map),
 * re-read through its cache on every call, so a rotated key gets a new client without a
 * redeploy. When the catalogue offers Bedrock models, calls are routed per model, and a key is
 * read only when a /v1/videos model is used (IAM authorizes Bedrock).
 */
export function createProviderSource(options: ProviderSourceOptions): ProviderSource {
  const readSecret = options.readSecret ?? readSecretString;
  const build = options.build ?? buildVideoProvider;
  const clients = new Map<string, { apiKey: string; provider: VideoProvider }>();

  const videos = async (deployment: DeploymentSpec) => {
    const apiKey =
      deployment.apiKey ??
      keyForDeployment(await readSecret(options.secretId), deployment.id, options.secretId);
    const cached = clients.get(deployment.id);
    if (cached?.apiKey === apiKey) return cached.provider;
    const provider = build({ ...options.settings, baseUrl: deployment.baseUrl, apiKey });
    clients.set(deployment.id, { apiKey, provider });
    return provider;
  };

  const hasBedrock = Object.values(options.settings.models).some(
    (spec) => spec.provider === 'bedrock',
  );
  // The Bedrock provider is shared by every deployment's routing (Bedrock has no deployments).
  let bedrock: Promise<JobProvider> | undefined;
  const bedrockProvider = (config: ProviderConfig) => {
    const settings = options.bedrock;
    // Built (and its SDK loaded) on the first Bedrock call: /v1/videos jobs never pay for it.
    // A function without the Bedrock settings still serves the /v1/videos models.
    const buildBedrock = options.buildBedrock;
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
  };

  // The Bedrock settings are checked on first use, as the key is.
  const routing = new Map<string, ModelRoutingProvider>();
  return async (id = DEFAULT_DEPLOYMENT) => {
    const deployment = deploymentEndpoint(options.settings, id);
    if (deployment === undefined) {
      throw new ConfigurationError(
        `Deployment "${id}" is not in the model catalogue (PROVIDER_MODELS): no model lists it`,
      );
    }
    if (!hasBedrock) return videos(deployment);
    let provider = routing.get(id);
    if (provider === undefined) {
      const config: ProviderConfig = { ...options.settings, apiKey: 'not-read-yet' };
      provider = new ModelRoutingProvider(config, {
        videos: () => videos(deployment),
        bedrock: () => bedrockProvider(config),
      });
      routing.set(id, provider);
    }
    return provider;
  };
}
