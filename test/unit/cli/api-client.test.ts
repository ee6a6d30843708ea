import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, apiError } from '../../../infra/cli/api-client.ts';
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

describe('ApiClient.download', () => {
  it('refuses a video id that is not a job id before any request or file, so no path escapes --out', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch');
    const dir = await mkdtemp(join(tmpdir(), 'cli-download-'));
    const api = new ApiClient({
      apiUrl: 'http://127.0.0.1:9',
      headers: {},
      description: 'SORA_API_URL',
      tokenSource: 'SORA_API_TOKEN',
    });

    const download = api.download({ id: '../../escaped', status: 'COMPLETED' } as never, dir);

    await expect(download).rejects.toMatchObject({ code: 'invalid_response' });
    expect(fetch).not.toHaveBeenCalled();
    expect(await readdir(dir)).toEqual([]);
    fetch.mockRestore();
  });
});
