import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { secretsManager } from '../aws/clients.ts';

/** A required secret is missing, empty or malformed. Names the secret id, never its value. */
export class SecretUnavailableError extends Error {
  override name = 'SecretUnavailableError';
}

// Cached for five minutes: a rotated key is picked up without a redeploy, and a warm Lambda
// does not call Secrets Manager on every invocation.
const maxAgeSeconds = 300;

/** Reads a string secret by id (name or ARN), cached per container. */
export async function readSecretString(secretId: string): Promise<string> {
  let value: unknown;
  try {
    value = await getSecret(secretId, { maxAge: maxAgeSeconds, awsSdkV3Client: secretsManager });
  } catch (error) {
    throw new SecretUnavailableError(`Secret ${secretId} could not be read`, { cause: error });
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new SecretUnavailableError(`Secret ${secretId} is empty or not a string`);
  }
  return value.trim();
}
