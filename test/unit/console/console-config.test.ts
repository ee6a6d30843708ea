import { describe, expect, it } from 'vitest';
import {
  MAX_PROMPT_LENGTH as CONSOLE_MAX_PROMPT_LENGTH,
  MAX_START_TIMEOUT_SECONDS as CONSOLE_MAX_START_TIMEOUT_SECONDS,
} from '../../../console/src/console-config.ts';
import { API_ROUTES, routeKey } from '../../../functions/api/api-routes.ts';
import {
  MAX_PROMPT_LENGTH,
  MAX_START_TIMEOUT_SECONDS,
} from '../../../functions/shared/jobs/job-request.ts';
import { consoleConfigDocument } from '../../../infra/console/console-config.ts';
import { contentSecurityPolicy } from '../../../infra/console/console-headers.ts';

describe('consoleConfigDocument', () => {
  it('gives the console the API URL, the catalogue the API validates with and the route keys', () => {
    const models = {
      'veo-3': {
        sizes: ['1280x720', '720x1280'],
        seconds: ['4', '8'],
        defaultSize: '1280x720',
        defaultSeconds: '8',
        pricePerSecondUsd: 0.4,
      },
    };

    const config = consoleConfigDocument(
      'https://abc.execute-api.eu-west-1.amazonaws.com/',
      {
        PROVIDER_BASE_URL: 'https://videos.example.test/v1',
        PROVIDER_MODEL: 'veo-3',
        PROVIDER_MODELS: JSON.stringify(models),
        OVER_BUDGET_ACTION: 'reject',
      },
      API_ROUTES.map(routeKey),
    );

    expect(config).toEqual({
      apiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
      defaultModel: 'veo-3',
      // Parsed: the catalogue says who serves each model (/v1/videos unless it says bedrock).
      models: { 'veo-3': { ...models['veo-3'], provider: 'openai-videos' } },
      routes: API_ROUTES.map(routeKey).sort(),
      overBudgetAction: 'reject',
    });
  });

  it('refuses an environment without the over-budget action rather than guess it', () => {
    expect(() =>
      consoleConfigDocument(
        'http://127.0.0.1:4000',
        { PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1' },
        [],
      ),
    ).toThrow(/OVER_BUDGET_ACTION/);
  });

  it('uses the default catalogue when none is configured', () => {
    const config = consoleConfigDocument(
      'http://127.0.0.1:4000',
      { PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1', OVER_BUDGET_ACTION: 'queue' },
      [],
    );

    expect(config.defaultModel).toBe('sora-2');
    expect(Object.keys(config.models)).toEqual(['sora-2', 'sora-2-pro']);
  });

  it('refuses a catalogue the API would refuse, naming it', () => {
    expect(() =>
      consoleConfigDocument(
        'http://127.0.0.1:4000',
        {
          PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1',
          PROVIDER_MODEL: 'nope',
          OVER_BUDGET_ACTION: 'queue',
        },
        [],
      ),
    ).toThrow(/nope/);
  });
});

describe("the console's prompt and start timeout limits", () => {
  it("are the API's, so the form refuses what the API would", () => {
    expect(CONSOLE_MAX_PROMPT_LENGTH).toBe(MAX_PROMPT_LENGTH);
    expect(CONSOLE_MAX_START_TIMEOUT_SECONDS).toBe(MAX_START_TIMEOUT_SECONDS);
  });
});

describe('contentSecurityPolicy', () => {
  it('allows scripts and styles from the console only, the API for requests and the bucket for media', () => {
    const csp = contentSecurityPolicy({
      api: 'https://api.example.test',
      content: 'https://bucket.example.test',
    });

    expect(csp.split('; ')).toEqual(
      expect.arrayContaining([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https://bucket.example.test",
        'media-src https://bucket.example.test',
        "connect-src 'self' https://api.example.test",
        "frame-ancestors 'none'",
      ]),
    );
  });
});
