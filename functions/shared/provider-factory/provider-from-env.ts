import { z } from 'zod';
import { s3 } from '../aws/clients.ts';
import { tracer } from '../observability/observability.ts';
import type { JobProvider } from '../provider/job-provider.ts';
import { ModelRoutingProvider } from '../provider/model-routing-provider.ts';
import { type ProviderConfig, providerConfigFromEnv } from '../provider/provider-config.ts';
import { VideoProvider } from '../provider/video-provider.ts';
import { readSecretString } from '../secrets/read-secret.ts';

/** Hands out the provider; async because the API key comes from Secrets Manager. */
export type ProviderSource = () => Promise<JobProvider>;

export interface ProviderSourceOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads the API key by secret id (default: Secrets Manager, cached five minutes). */
  readSecret?: (secretId: string) => Promise<string>;
  build?: (config: ProviderConfig) => VideoProvider;
  /** Builds the Bedrock provider (tests); default: Bedrock Runtime and S3 clients from the env. */
  buildBedrock?: (
    config: ProviderConfig,
    bedrock: BedrockSettings,
  ) => JobProvider | Promise<JobProvider>;
}

const envSchema = z.object({
  PROVIDER_SECRET_ID: z.string({ error: 'PROVIDER_SECRET_ID is required' }).trim().min(1, {
    error: 'PROVIDER_SECRET_ID is required',
  }),
});

const bedrockEnvSchema = z.object({
  BEDROCK_OUTPUT_BUCKET: z
    .string({ error: 'BEDROCK_OUTPUT_BUCKET is required for Bedrock models' })
    .trim()
    .min(1, { error: 'BEDROCK_OUTPUT_BUCKET is required for Bedrock models' }),
  /** Defaults to the function's own region (AWS_REGION). */
  BEDROCK_REGION: z.string().trim().min(1).optional(),
});

export type BedrockSettings = { bucket: string; region: string | undefined };

/** The environment is missing what the provider client needs. */
export class ProviderEnvironmentError extends Error {
  override name = 'ProviderEnvironmentError';
}

/**
 * Builds the provider from the environment (PROVIDER_BASE_URL, PROVIDER_MODELS, ...), once per
 * container. The /v1/videos client takes the API key in the secret PROVIDER_SECRET_ID, re-read
 * through its cache on every call, so a rotated key gets a new client without a redeploy. When
 * the catalogue offers Bedrock models, calls are routed per model, and the key is read only when
 * a /v1/videos model is used (IAM authorizes Bedrock).
 */
export function createProviderSource(options: ProviderSourceOptions = {}): ProviderSource {
  const env = options.env ?? process.env;
  const readSecret = options.readSecret ?? readSecretString;
  const build = options.build ?? ((config: ProviderConfig) => new VideoProvider(config));
  let cached: { apiKey: string; provider: VideoProvider } | undefined;

  const videos = async () => {
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

  // The catalogue and the Bedrock settings are checked without the key, on first use.
  let routing: ModelRoutingProvider | undefined;
  return async () => {
    if (routing) return routing;
    const config = providerConfigFromEnv(env, 'not-read-yet');
    if (!Object.values(config.models).some((spec) => spec.provider === 'bedrock')) return videos();
    const parsed = bedrockEnvSchema.safeParse(env);
    if (!parsed.success) {
      throw new ProviderEnvironmentError(parsed.error.issues.map((i) => i.message).join('; '));
    }
    const settings = {
      bucket: parsed.data.BEDROCK_OUTPUT_BUCKET,
      region: parsed.data.BEDROCK_REGION,
    };
    // Built (and its SDK loaded) on the first Bedrock call: /v1/videos jobs never pay for it.
    const buildBedrock = options.buildBedrock ?? defaultBedrock;
    let bedrock: Promise<JobProvider> | undefined;
    routing = new ModelRoutingProvider(config, {
      videos,
      bedrock: () => {
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

async function defaultBedrock(
  config: ProviderConfig,
  settings: BedrockSettings,
): Promise<JobProvider> {
  const [{ BedrockRuntimeClient }, { BedrockProvider }] = await Promise.all([
    import('@aws-sdk/client-bedrock-runtime'),
    import('../provider/bedrock/bedrock-provider.ts'),
  ]);
  // SDK retries are safe here: a repeated clientRequestToken starts no second invocation.
  // The endpoint comes from AWS_ENDPOINT_URL_BEDROCK_RUNTIME on the local stack.
  const client = tracer.captureAWSv3Client(
    new BedrockRuntimeClient({
      maxAttempts: config.maxRetries + 1,
      ...(settings.region ? { region: settings.region } : {}),
    }),
  );
  return new BedrockProvider({
    bedrock: client,
    s3,
    bucket: settings.bucket,
    idleTimeoutMs: config.timeoutMs,
  });
}
