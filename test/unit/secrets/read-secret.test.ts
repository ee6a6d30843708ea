import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readSecretString } from '../../../functions/shared/secrets/read-secret.ts';
import { closeEndpoints, endpoint, json } from '../../support/aws-json-endpoint.ts';

const START = Date.parse('2026-03-04T12:00:00.000Z');

const env = (url: string) => ({
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret',
  AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
});

beforeEach(() => {
  // Only Date: the endpoint's sockets keep their real timers.
  vi.useFakeTimers({ toFake: ['Date'], now: START });
});

afterEach(async () => {
  vi.useRealTimers();
  await closeEndpoints();
});

/** A Secrets Manager endpoint and a read of `secretId` at an offset (ms after START). */
async function secretsManager(secretId: string, options?: { maxAgeMs?: number }) {
  const server = await endpoint(json(200, { SecretString: 'value' }));
  return {
    calls: () => server.received.length,
    readAt: async (offset: number) => {
      vi.setSystemTime(START + offset);
      return readSecretString(secretId, env(server.url), options);
    },
  };
}

// Each test reads its own secret id: the cache is per container (module), shared by the tests.
describe('readSecretString', () => {
  it('keeps a secret it read for five minutes by default', async () => {
    const secrets = await secretsManager('default-age');

    await expect(secrets.readAt(0)).resolves.toBe('value');
    await secrets.readAt(299_999);
    expect(secrets.calls()).toBe(1);
    await secrets.readAt(300_000);
    expect(secrets.calls()).toBe(2);
  });

  it('reads again once the maxAgeMs it is given has passed', async () => {
    const secrets = await secretsManager('short-age', { maxAgeMs: 30_000 });

    await expect(secrets.readAt(0)).resolves.toBe('value');
    await secrets.readAt(29_999);
    expect(secrets.calls()).toBe(1);
    await secrets.readAt(30_000);
    expect(secrets.calls()).toBe(2);
  });
});
