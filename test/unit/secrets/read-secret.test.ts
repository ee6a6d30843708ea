import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  readSecretString,
  SecretUnavailableError,
} from '../../../functions/shared/secrets/read-secret.ts';

const client = new SecretsManagerClient({ region: 'us-east-1' });
const secrets = mockClient(client);

beforeEach(() => {
  secrets.reset();
});

describe('readSecretString', () => {
  it('reads the secret string by id, trimmed, and keeps it for the next invocations', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: ' sk-test-1 \n' });

    const first = await readSecretString('provider-key-1', client);
    const second = await readSecretString('provider-key-1', client);

    expect([first, second]).toEqual(['sk-test-1', 'sk-test-1']);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, {
      SecretId: 'provider-key-1',
    });
  });

  it('names the secret that could not be read, keeping the cause', async () => {
    const missing = new ResourceNotFoundException({ message: 'not found', $metadata: {} });
    secrets.on(GetSecretValueCommand).rejects(missing);

    const read = readSecretString('api-tokens-2', client);

    await expect(read).rejects.toBeInstanceOf(SecretUnavailableError);
    await expect(read).rejects.toMatchObject({
      message: 'Secret api-tokens-2 could not be read',
      cause: missing,
    });
  });

  it('refuses an empty or binary secret, never quoting its value', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '   ' });
    const empty = readSecretString('empty-3', client);
    await expect(empty).rejects.toThrow('Secret empty-3 is empty or not a string');

    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    await expect(readSecretString('binary-4', client)).rejects.toBeInstanceOf(
      SecretUnavailableError,
    );
  });
});
