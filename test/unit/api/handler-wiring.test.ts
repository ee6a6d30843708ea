import { afterEach, describe, expect, it, vi } from 'vitest';
import { API_TOKENS_MAX_AGE_SECONDS } from '../../../functions/api/token-authorizer.ts';
import { closeEndpoints, endpoint, json } from '../../support/aws-json-endpoint.ts';
import { authorizerEvent, httpApiEvent } from '../../support/http-api-event.ts';

// The entry modules build nothing at import (a cold start loads code only); they read their
// configuration on the first invocation, which fails naming what is missing.

afterEach(async () => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  vi.resetModules();
  await closeEndpoints();
});

describe('functions/api/handler.ts', () => {
  it('imports without an environment and exports the handler and its factory', async () => {
    vi.stubEnv('JOBS_TABLE_NAME', '');

    const module = await import('../../../functions/api/handler.ts');

    expect(module.handler).toBeTypeOf('function');
    expect(module.createApiHandler).toBeTypeOf('function');
  });

  it('fails its first invocation naming every missing variable', async () => {
    vi.stubEnv('JOBS_TABLE_NAME', '');
    vi.stubEnv('STATE_MACHINE_ARN', '');
    const { handler } = await import('../../../functions/api/handler.ts');

    await expect(handler(httpApiEvent({ method: 'GET', path: '/videos' }))).rejects.toThrow(
      /Missing or empty environment variable\(s\): JOBS_TABLE_NAME, .*STATE_MACHINE_ARN/,
    );
  });
});

describe('functions/api/authorizer.ts', () => {
  it('reads the tokens secret again after API_TOKENS_MAX_AGE_SECONDS: a revoked token is refused', async () => {
    const start = Date.parse('2026-03-04T12:00:00.000Z');
    const secret = (tokens: string[]) => json(200, { SecretString: JSON.stringify({ tokens }) });
    const server = await endpoint(secret(['kept', 'revoked']), secret(['kept']));
    vi.stubEnv('API_TOKENS_SECRET_ID', 'api-tokens');
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', server.url);
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    const { handler } = await import('../../../functions/api/authorizer.ts');
    const authorizedAt = async (offsetMs: number) => {
      vi.setSystemTime(start + offsetMs);
      return (await handler(authorizerEvent({ authorization: 'Bearer revoked' }))).isAuthorized;
    };

    await expect(authorizedAt(0)).resolves.toBe(true);
    await expect(authorizedAt(API_TOKENS_MAX_AGE_SECONDS * 1000 - 1)).resolves.toBe(true);
    await expect(authorizedAt(API_TOKENS_MAX_AGE_SECONDS * 1000)).resolves.toBe(false);
    expect(server.received).toHaveLength(2);
  });

  it('fails its first invocation without the tokens secret id', async () => {
    vi.stubEnv('API_TOKENS_SECRET_ID', '');
    const { handler } = await import('../../../functions/api/authorizer.ts');

    await expect(handler(authorizerEvent({ authorization: 'Bearer t' }))).rejects.toThrow(
      /API_TOKENS_SECRET_ID/,
    );
  });
});
