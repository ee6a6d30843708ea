/**
 * Reads a string secret from Secrets Manager (GetSecretValue through the shared SDK client,
 * secrets-manager-client.ts), cached per container.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManager } from '../aws/secrets-manager-client.ts';

/** A required secret is missing, empty or malformed. Names the secret id, never its value. */
export class SecretUnavailableError extends Error {
  override name = 'SecretUnavailableError';
}

// Cached for five minutes: a rotated key is picked up without a redeploy, and a warm Lambda
// does not call Secrets Manager on every invocation.
const MAX_AGE_MS = 300_000;

const cache = new Map<string, { value: string; readAt: number }>();

export interface ReadSecretOptions {
  /** Read again once the cached copy is this old (a change that must apply sooner, e.g. a revoked API token). */
  maxAgeMs?: number;
  /** The Secrets Manager client (tests); the shared one by default. */
  client?: SecretsManagerClient;
}

/**
 * Reads a string secret by id (name or ARN), cached per container for five minutes, or for
 * `maxAgeMs`.
 */
export async function readSecretString(
  secretId: string,
  options: ReadSecretOptions = {},
): Promise<string> {
  const maxAgeMs = options.maxAgeMs ?? MAX_AGE_MS;
  const cached = cache.get(secretId);
  if (cached && Date.now() - cached.readAt < maxAgeMs) return cached.value;
  const client = options.client ?? secretsManager();
  let value: string | undefined;
  try {
    ({ SecretString: value } = await client.send(
      new GetSecretValueCommand({ SecretId: secretId }),
    ));
  } catch (error) {
    throw new SecretUnavailableError(`Secret ${secretId} could not be read`, { cause: error });
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new SecretUnavailableError(`Secret ${secretId} is empty or not a string`);
  }
  cache.set(secretId, { value: value.trim(), readAt: Date.now() });
  return value.trim();
}
