/**
 * The Bedrock provider of the task functions (create, poll, download), kept out of
 * provider-from-env.ts so that functions that never call Bedrock (the API) do not bundle its SDK.
 * Its SDK, and the S3 client it reads Bedrock's output with, are imported when the first
 * Bedrock job needs them: a chunk of their own (infra/constructs/function-bundle.ts) that a
 * container serving only /v1/videos jobs never loads.
 */

import { hostedClientConfig } from '../aws/aws-client.ts';
import type { FunctionConfig } from '../config/function-config.ts';
import type { BedrockSettings } from '../config/plain-config.ts';
import { tracer } from '../observability/observability.ts';
import type { JobProvider } from '../provider/job-provider.ts';
import type { ProviderConfig } from '../provider/provider-config.ts';
import { createProviderSource, type ProviderSource } from './provider-from-env.ts';

/** The provider of a task function: /v1/videos, and Bedrock for the catalogue's Bedrock models. */
export function taskProviderSource(
  config: Pick<FunctionConfig, 'provider' | 'providerSecretId' | 'bedrock'>,
): ProviderSource {
  return createProviderSource({
    settings: config.provider,
    secretId: config.providerSecretId,
    bedrock: config.bedrock,
    buildBedrock: buildBedrockProvider,
  });
}

export async function buildBedrockProvider(
  config: ProviderConfig,
  settings: BedrockSettings,
): Promise<JobProvider> {
  const [{ BedrockRuntimeClient }, { BedrockProvider }, { s3 }] = await Promise.all([
    import('@aws-sdk/client-bedrock-runtime'),
    import('../provider/bedrock/bedrock-provider.ts'),
    import('../aws/s3-client.ts'),
  ]);
  // SDK retries are safe here: a repeated clientRequestToken starts no second invocation.
  // The endpoint comes from AWS_ENDPOINT_URL_BEDROCK_RUNTIME on the local stack.
  const client = tracer.captureAWSv3Client(
    new BedrockRuntimeClient({
      maxAttempts: config.maxRetries + 1,
      ...hostedClientConfig('BEDROCK_RUNTIME'),
      ...(settings.region ? { region: settings.region } : {}),
    }),
  );
  return new BedrockProvider({
    bedrock: client,
    s3: s3(),
    bucket: settings.bucket,
    idleTimeoutMs: config.timeoutMs,
  });
}
