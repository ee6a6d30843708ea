import { tracer } from '../observability/observability.ts';
import { tracedFetch } from '../observability/xray-tracer.ts';
import type { ProviderConfig, ProviderSettings } from '../provider/provider-config.ts';
import { VideoProvider } from '../provider/video-provider.ts';
import { readSecretString } from '../secrets/read-secret.ts';

/** Hands out the provider client; async because the API key comes from Secrets Manager. */
export type ProviderSource = () => Promise<VideoProvider>;

export interface ProviderSourceOptions {
  /** The provider settings (readConfig's `provider`). */
  settings: ProviderSettings;
  /** The secret whose SecretString is the API key (readConfig's `providerSecretId`). */
  secretId: string;
  /** Reads the API key by secret id (default: Secrets Manager, cached five minutes). */
  readSecret?: (secretId: string) => Promise<string>;
  build?: (config: ProviderConfig) => VideoProvider;
}

// The provider's HTTP calls are subsegments of the invocation's trace (in Lambda only).
const tracedProviderFetch = tracedFetch(tracer);

/** The production client: provider calls traced when tracing is on. */
function buildVideoProvider(config: ProviderConfig): VideoProvider {
  return new VideoProvider(config, tracer.isTracingEnabled() ? { fetch: tracedProviderFetch } : {});
}

/**
 * Builds the VideoProvider from the settings and the API key in the secret, once per container.
 * The secret is re-read through its cache on every call, so a rotated key gets a new client
 * without a redeploy.
 */
export function createProviderSource(options: ProviderSourceOptions): ProviderSource {
  const readSecret = options.readSecret ?? readSecretString;
  const build = options.build ?? buildVideoProvider;
  let cached: { apiKey: string; provider: VideoProvider } | undefined;

  return async () => {
    const apiKey = await readSecret(options.secretId);
    if (cached?.apiKey !== apiKey) {
      cached = { apiKey, provider: build({ ...options.settings, apiKey }) };
    }
    return cached.provider;
  };
}
