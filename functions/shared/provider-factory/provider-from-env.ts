import { z } from 'zod';
import { type ProviderConfig, providerConfigFromEnv } from '../provider/provider-config.ts';
import { VideoProvider } from '../provider/video-provider.ts';
import { readSecretString } from '../secrets/read-secret.ts';

/** Hands out the provider client; async because the API key comes from Secrets Manager. */
export type ProviderSource = () => Promise<VideoProvider>;

export interface ProviderSourceOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads the API key by secret id (default: Secrets Manager, cached five minutes). */
  readSecret?: (secretId: string) => Promise<string>;
  build?: (config: ProviderConfig) => VideoProvider;
}

const envSchema = z.object({
  PROVIDER_SECRET_ID: z.string({ error: 'PROVIDER_SECRET_ID is required' }).trim().min(1, {
    error: 'PROVIDER_SECRET_ID is required',
  }),
});

/** The environment is missing what the provider client needs. */
export class ProviderEnvironmentError extends Error {
  override name = 'ProviderEnvironmentError';
}

/**
 * Builds the VideoProvider from the environment (PROVIDER_BASE_URL, PROVIDER_MODEL, ...) and the
 * API key in the secret PROVIDER_SECRET_ID, once per container. The secret is re-read through
 * its cache on every call, so a rotated key gets a new client without a redeploy.
 */
export function createProviderSource(options: ProviderSourceOptions = {}): ProviderSource {
  const env = options.env ?? process.env;
  const readSecret = options.readSecret ?? readSecretString;
  const build = options.build ?? ((config: ProviderConfig) => new VideoProvider(config));
  let cached: { apiKey: string; provider: VideoProvider } | undefined;

  return async () => {
    const parsed = envSchema.safeParse(env);
    if (!parsed.success) {
      throw new ProviderEnvironmentError(parsed.error.issues.map((i) => i.message).join('; '));
    }
    const apiKey = await readSecret(parsed.data.PROVIDER_SECRET_ID);
    if (cached?.apiKey !== apiKey) {
      cached = { apiKey, provider: build(providerConfigFromEnv(env, apiKey)) };
    }
    return cached.provider;
  };
}
