import { afterEach, describe, expect, it, vi } from 'vitest';

// The entry modules read their configuration at import (cold start).

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('functions/api/handler.ts', () => {
  it('builds the handler from the environment', async () => {
    vi.stubEnv('JOBS_TABLE_NAME', 'jobs');
    vi.stubEnv('VIDEOS_BUCKET_NAME', 'videos');
    vi.stubEnv('STATE_MACHINE_ARN', 'arn:aws:states:us-east-1:123456789012:stateMachine:generate');
    vi.stubEnv('PROVIDER_BASE_URL', 'http://127.0.0.1:4010/v1');
    vi.stubEnv(
      'WEBHOOK_STATE_MACHINE_ARN',
      'arn:aws:states:us-east-1:123456789012:stateMachine:webhooks',
    );
    vi.stubEnv('WEBHOOK_SECRET_ID', 'webhook-signing');

    const module = await import('../../../functions/api/handler.ts');

    expect(module.handler).toBeTypeOf('function');
    expect(module.createApiHandler).toBeTypeOf('function');
  });

  it('fails at import when a variable is missing', async () => {
    vi.stubEnv('JOBS_TABLE_NAME', '');

    await expect(import('../../../functions/api/handler.ts')).rejects.toThrow(/JOBS_TABLE_NAME/);
  });
});

describe('functions/api/authorizer.ts', () => {
  it('fails at import without the tokens secret id', async () => {
    vi.stubEnv('API_TOKENS_SECRET_ID', '');

    await expect(import('../../../functions/api/authorizer.ts')).rejects.toThrow(
      /API_TOKENS_SECRET_ID/,
    );
  });

  it('builds the handler when the secret id is set', async () => {
    vi.stubEnv('API_TOKENS_SECRET_ID', 'api-tokens');

    const module = await import('../../../functions/api/authorizer.ts');

    expect(module.handler).toBeTypeOf('function');
  });
});
