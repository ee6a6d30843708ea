import { afterEach, describe, expect, it, vi } from 'vitest';
import { authorizerEvent, httpApiEvent } from '../../support/http-api-event.ts';

// The entry modules build nothing at import (a cold start loads code only); they read their
// configuration on the first invocation, which fails naming what is missing.

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
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
  it('fails its first invocation without the tokens secret id', async () => {
    vi.stubEnv('API_TOKENS_SECRET_ID', '');
    const { handler } = await import('../../../functions/api/authorizer.ts');

    await expect(handler(authorizerEvent({ authorization: 'Bearer t' }))).rejects.toThrow(
      /API_TOKENS_SECRET_ID/,
    );
  });
});
