/**
 * Reads a string secret from Secrets Manager (GetSecretValue over its JSON API, aws-json-api.ts:
 * signed with the function's credentials from the environment, retried, traced as an `aws`
 * subsegment `SecretsManager`), cached per container. Not the AWS SDK: the authorizer's only AWS
 * call would otherwise bring the SDK into its bundle.
 */
import { AwsJsonClient } from '../aws/aws-json-api.ts';

/** A required secret is missing, empty or malformed. Names the secret id, never its value. */
export class SecretUnavailableError extends Error {
  override name = 'SecretUnavailableError';
}

type Env = Readonly<Record<string, string | undefined>>;

// Cached for five minutes: a rotated key is picked up without a redeploy, and a warm Lambda
// does not call Secrets Manager on every invocation.
const MAX_AGE_MS = 300_000;

const cache = new Map<string, { value: string; readAt: number }>();

/**
 * Reads a string secret by id (name or ARN), cached per container for five minutes, or for
 * `maxAgeMs` (a secret whose change must apply sooner, e.g. a revoked API token).
 */
export async function readSecretString(
  secretId: string,
  env: Env = process.env,
  options: { maxAgeMs?: number } = {},
): Promise<string> {
  const maxAgeMs = options.maxAgeMs ?? MAX_AGE_MS;
  const cached = cache.get(secretId);
  if (cached && Date.now() - cached.readAt < maxAgeMs) return cached.value;
  let value: unknown;
  try {
    value = await getSecretValue(secretId, env);
  } catch (error) {
    throw new SecretUnavailableError(`Secret ${secretId} could not be read`, { cause: error });
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new SecretUnavailableError(`Secret ${secretId} is empty or not a string`);
  }
  cache.set(secretId, { value: value.trim(), readAt: Date.now() });
  return value.trim();
}

const SECRETS_MANAGER_SERVICE = {
  traceName: 'SecretsManager',
  signingName: 'secretsmanager',
  hostPrefix: 'secretsmanager',
  endpointId: 'SECRETS_MANAGER',
  targetPrefix: 'secretsmanager',
  jsonVersion: '1.1',
} as const;

async function getSecretValue(secretId: string, env: Env): Promise<unknown> {
  const answer = await new AwsJsonClient(SECRETS_MANAGER_SERVICE, { env }).call('GetSecretValue', {
    SecretId: secretId,
  });
  return answer.SecretString;
}
