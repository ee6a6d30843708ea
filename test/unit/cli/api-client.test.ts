import { describe, expect, it } from 'vitest';
import { ApiError, apiError } from '../../../infra/cli/api-client.ts';
import { resolveApiTarget } from '../../../infra/cli/api-target.ts';

describe('apiError', () => {
  const remote = { tokenSource: 'SORA_API_TOKEN' };

  it("says a 403 from API Gateway is the token's, and where the token came from", () => {
    const error = apiError(403, { message: 'Forbidden' }, remote);

    expect(error).toBeInstanceOf(ApiError);
    expect(error.message).toBe('the API refused the token (403 Forbidden): check SORA_API_TOKEN');
  });

  it('says the same of a 401', () => {
    expect(apiError(401, { message: 'Unauthorized' }, remote).message).toBe(
      'the API refused the token (401 Unauthorized): check SORA_API_TOKEN',
    );
  });

  it("keeps the API's own message and field for its own errors", () => {
    const error = apiError(
      400,
      { error: { code: 'invalid_request', message: 'must be 4, 8 or 12', field: 'seconds' } },
      remote,
    );

    expect(error).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(error.message).toBe('must be 4, 8 or 12 (field: seconds)');
  });
});

describe('resolveApiTarget', () => {
  it('names SORA_API_TOKEN as where a deployed API token comes from', async () => {
    const target = await resolveApiTarget(
      { SORA_API_URL: 'https://api.example.test/', SORA_API_TOKEN: 'secret-token' },
      {},
    );

    expect(target.tokenSource).toMatch(/^SORA_API_TOKEN /);
    expect(target.tokenSource).not.toContain('secret-token');
  });
});
