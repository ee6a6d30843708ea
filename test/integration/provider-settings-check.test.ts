import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStackError } from '../../infra/local/local-errors.ts';
import { findFreePort } from '../../infra/local/ports.ts';
import { checkProvider } from '../../infra/local/provider-check.ts';
import { providerFromShell } from '../../infra/local/provider-from-shell.ts';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';

const KEY = 'sk-settings-check';

function settingsError(env: NodeJS.ProcessEnv): LocalStackError {
  try {
    providerFromShell(env);
  } catch (error) {
    if (error instanceof LocalStackError) return error;
    throw error;
  }
  throw new Error('expected a LocalStackError');
}

describe('provider settings from the shell, checked as a whole', () => {
  it('runs the simulator when no provider setting is set', () => {
    expect(providerFromShell({})).toBeUndefined();
  });

  it('refuses PROVIDER_MODEL and PROVIDER_MODELS set without a real provider, one line each', () => {
    const error = settingsError({ PROVIDER_MODEL: 'veo-3', PROVIDER_MODELS: '{oops' });

    expect(error.code).toBe('provider-settings');
    expect(error.lines).toEqual([
      expect.stringMatching(/^PROVIDER_MODEL is set, but it only applies to a real provider/),
      expect.stringMatching(/^PROVIDER_MODELS is set, but it only applies to a real provider/),
    ]);
  });

  it('reports every problem of a real provider at once: missing key, invalid JSON, bad timeout', () => {
    const error = settingsError({
      PROVIDER_BASE_URL: 'https://gateway.example.com/v1',
      PROVIDER_MODELS: '{"veo-3":',
      PROVIDER_TIMEOUT_MS: 'soon',
    });

    expect(error.lines).toEqual([
      'a real provider needs both PROVIDER_BASE_URL and PROVIDER_API_KEY; PROVIDER_API_KEY is not set',
      'models (PROVIDER_MODELS) is not valid JSON',
      expect.stringMatching(/^timeoutMs \(PROVIDER_TIMEOUT_MS\) /),
    ]);
  });

  it('names a PROVIDER_MODEL the catalogue does not list', () => {
    const error = settingsError({
      PROVIDER_BASE_URL: 'https://gateway.example.com/v1',
      PROVIDER_API_KEY: KEY,
      PROVIDER_MODEL: 'veo-3',
    });

    expect(error.lines).toEqual([
      expect.stringMatching(/defaultModel \(PROVIDER_MODEL\) "veo-3" is not in models/),
    ]);
  });

  it('names the bad field of a deployment in PROVIDER_MODELS', () => {
    const models = {
      'sora-2': {
        sizes: ['1280x720'],
        seconds: ['4'],
        defaultSize: '1280x720',
        defaultSeconds: '4',
        pricePerSecondUsd: 0.1,
        deployments: [
          { id: 'second', baseUrl: 'http://127.0.0.1:4011/v1', apiKey: 'sk-second' },
          { id: 'third', baseUrl: 'http://127.0.0.1:4012/v1', maxConcurrent: 0 },
        ],
      },
    };

    const error = settingsError({
      PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1',
      PROVIDER_API_KEY: KEY,
      PROVIDER_MODELS: JSON.stringify(models),
    });

    expect(error.lines).toEqual([
      'models.sora-2.deployments[1].maxConcurrent (PROVIDER_MODELS) must be a positive whole number',
    ]);
  });

  it('takes a valid real provider, its key out of the environment', () => {
    const env: NodeJS.ProcessEnv = {
      PROVIDER_BASE_URL: 'https://gateway.example.com/v1',
      PROVIDER_API_KEY: KEY,
      PROVIDER_MODEL: 'sora-2-pro',
      PROVIDER_TIMEOUT_MS: '30000',
    };

    const provider = providerFromShell(env);

    expect(provider).toEqual({
      baseUrl: 'https://gateway.example.com/v1',
      apiKey: KEY,
      model: 'sora-2-pro',
      timeoutMs: '30000',
    });
    expect(env.PROVIDER_API_KEY).toBeUndefined();
  });
});

describe('provider settings for Azure OpenAI', () => {
  it('takes PROVIDER_AUTH_HEADER=api-key for a real provider', () => {
    const provider = providerFromShell({
      PROVIDER_BASE_URL: 'https://contoso.openai.azure.com/openai/v1',
      PROVIDER_API_KEY: 'azure-key',
      PROVIDER_AUTH_HEADER: 'api-key',
    });

    expect(provider).toMatchObject({ authHeader: 'api-key' });
  });

  it('names PROVIDER_AUTH_HEADER when it is neither authorization nor api-key', () => {
    const error = settingsError({
      PROVIDER_BASE_URL: 'https://contoso.openai.azure.com/openai/v1',
      PROVIDER_API_KEY: 'azure-key',
      PROVIDER_AUTH_HEADER: 'bearer',
    });

    expect(error.lines).toEqual([expect.stringContaining('PROVIDER_AUTH_HEADER')]);
  });
});

describe('provider reachability check', () => {
  let simulator: RunningSimulator;
  let refusing: Server;
  let refusingUrl: string;

  beforeAll(async () => {
    simulator = await startSimulator({ apiKey: KEY });
    refusing = createServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"bad key","code":"invalid_api_key"}}');
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    refusingUrl = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/v1`;
  });

  afterAll(async () => {
    await simulator.close();
    await new Promise((resolve) => refusing.close(resolve));
  });

  it('passes a provider that answers GET /videos', async () => {
    await expect(
      checkProvider({ baseUrl: simulator.baseURL, apiKey: KEY }),
    ).resolves.toBeUndefined();
  });

  it('hints at the missing /v1 of a base URL', async () => {
    const root = simulator.baseURL.replace(/\/v1$/, '');

    const check = checkProvider({ baseUrl: root, apiKey: KEY });

    await expect(check).rejects.toThrow(
      `PROVIDER_BASE_URL ${root} has no /videos endpoint (GET 404); it usually ends in its version, e.g. ${root}/v1`,
    );
  });

  it('names a host nothing listens on within a second, not after a minute of retries', async () => {
    const baseUrl = `http://127.0.0.1:${await findFreePort()}/v1`;

    const check = checkProvider({ baseUrl, apiKey: KEY });

    await expect(check).rejects.toThrow(
      `PROVIDER_BASE_URL ${baseUrl} cannot be reached (ECONNREFUSED); check its host and port`,
    );
  });

  it('sends the key as api-key for Azure OpenAI (its /openai/v1 path), and is refused a wrong one', async () => {
    const baseUrl = `${simulator.url}/openai/v1`;

    await expect(
      checkProvider({ baseUrl, apiKey: KEY, authHeader: 'api-key' }),
    ).resolves.toBeUndefined();
    await expect(
      checkProvider({ baseUrl, apiKey: 'wrong-azure-key', authHeader: 'api-key' }),
    ).rejects.toThrow(/refused PROVIDER_API_KEY \(401\)/);
  });

  it('says the key was refused', async () => {
    const check = checkProvider({ baseUrl: refusingUrl, apiKey: 'sk-wrong' });

    await expect(check).rejects.toThrow(/refused PROVIDER_API_KEY \(401\)/);
  });
});
