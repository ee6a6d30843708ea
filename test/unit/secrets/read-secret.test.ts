import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  readSecretString,
  SecretUnavailableError,
} from '../../../functions/shared/secrets/read-secret.ts';

const client = new SecretsManagerClient({ region: 'us-east-1' });
const secrets = mockClient(client);

beforeEach(() => {
  secrets.reset();
});

afterEach(() => {
  vi.useRealTimers();
});

const START = Date.parse('2026-03-04T12:00:00.000Z');

/** Reads `secretId` at an offset (ms after START). */
function readAt(secretId: string, offset: number, options: { maxAgeMs?: number } = {}) {
  vi.setSystemTime(START + offset);
  return readSecretString(secretId, { ...options, client });
}

describe('readSecretString', () => {
  it('reads the secret string by id, trimmed, and keeps it for the next invocations', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: ' sk-test-1 \n' });

    const first = await readSecretString('provider-key-1', { client });
    const second = await readSecretString('provider-key-1', { client });

    expect([first, second]).toEqual(['sk-test-1', 'sk-test-1']);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, {
      SecretId: 'provider-key-1',
    });
  });

  it('names the secret that could not be read, keeping the cause', async () => {
    const missing = new ResourceNotFoundException({ message: 'not found', $metadata: {} });
    secrets.on(GetSecretValueCommand).rejects(missing);

    const read = readSecretString('api-tokens-2', { client });

    await expect(read).rejects.toBeInstanceOf(SecretUnavailableError);
    await expect(read).rejects.toMatchObject({
      message: 'Secret api-tokens-2 could not be read',
      cause: missing,
    });
  });

  it('refuses an empty or binary secret, never quoting its value', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '   ' });
    const empty = readSecretString('empty-3', { client });
    await expect(empty).rejects.toThrow('Secret empty-3 is empty or not a string');

    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    await expect(readSecretString('binary-4', { client })).rejects.toBeInstanceOf(
      SecretUnavailableError,
    );
  });

  it('keeps a secret it read for five minutes by default', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: START });
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'value' });

    await expect(readAt('default-age', 0)).resolves.toBe('value');
    await readAt('default-age', 299_999);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    await readAt('default-age', 300_000);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('reads again once the maxAgeMs it is given has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: START });
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'value' });

    await expect(readAt('short-age', 0, { maxAgeMs: 30_000 })).resolves.toBe('value');
    await readAt('short-age', 29_999, { maxAgeMs: 30_000 });
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    await readAt('short-age', 30_000, { maxAgeMs: 30_000 });
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });
});
