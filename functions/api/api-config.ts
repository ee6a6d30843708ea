import { z } from 'zod';
import { type ProviderConfig, providerConfigFromEnv } from '../shared/provider/provider-config.ts';

/** Configuration of the API and authorizer functions is missing or invalid. */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

// The API validates requests against the model catalogue but never calls the provider, so it
// is not given the provider key; this stands in for it in the parsed configuration.
const NO_API_KEY = 'not-used-by-the-api';

const apiEnvSchema = z.object({
  JOBS_TABLE_NAME: z.string().min(1),
  VIDEOS_BUCKET_NAME: z.string().min(1),
  STATE_MACHINE_ARN: z.string().min(1),
  WEBHOOK_STATE_MACHINE_ARN: z.string().min(1),
  WEBHOOK_SECRET_ID: z.string().min(1),
});

const authorizerEnvSchema = z.object({
  API_TOKENS_SECRET_ID: z.string().min(1),
});

export interface ApiConfig {
  jobsTableName: string;
  videosBucketName: string;
  stateMachineArn: string;
  webhookStateMachineArn: string;
  webhookSecretId: string;
  providerConfig: ProviderConfig;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the API function's configuration, failing loudly with every missing variable named. */
export function readApiConfig(env: Env): ApiConfig {
  const parsed = parseEnv(apiEnvSchema, env);
  let providerConfig: ProviderConfig;
  try {
    providerConfig = providerConfigFromEnv(env, NO_API_KEY);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ConfigurationError(detail, { cause: error });
  }
  return {
    jobsTableName: parsed.JOBS_TABLE_NAME,
    videosBucketName: parsed.VIDEOS_BUCKET_NAME,
    stateMachineArn: parsed.STATE_MACHINE_ARN,
    webhookStateMachineArn: parsed.WEBHOOK_STATE_MACHINE_ARN,
    webhookSecretId: parsed.WEBHOOK_SECRET_ID,
    providerConfig,
  };
}

export function readAuthorizerConfig(env: Env): { apiTokensSecretId: string } {
  return { apiTokensSecretId: parseEnv(authorizerEnvSchema, env).API_TOKENS_SECRET_ID };
}

function parseEnv<Schema extends z.ZodType>(schema: Schema, env: Env): z.output<Schema> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const names = [...new Set(result.error.issues.map((issue) => issue.path.map(String).join('.')))];
  throw new ConfigurationError(`Missing or empty environment variable(s): ${names.join(', ')}`, {
    cause: result.error,
  });
}
