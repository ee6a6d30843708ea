import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { lastNoonUtc } from '../support/clock-start.ts';
import { clientHeaders, type StackClient, stackClient } from './local-stack-client.ts';

// Each client's own request rate through the local stack's HTTP API: 2 requests per hour-long
// window, on a clock started at noon UTC, so every request of the test falls in the window of
// 12:00-13:00 and the outcome does not depend on timing.
const WINDOW_SECONDS = 3600;

let stack: LocalStack;
let client: StackClient;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    clockStartMs: lastNoonUtc(),
    clients: ['alice', 'bob'],
    clientRate: { requestsPerWindow: 2, windowSeconds: WINDOW_SECONDS },
    scheduleTimer: false,
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  client = stackClient(stack);
});

afterAll(async () => {
  await stack?.stop();
});

const as = (name: string) => clientHeaders(stack, name);

describe('per-client request rate', () => {
  it('answers a client over its rate 429 with Retry-After, running nothing, while another client is served', async () => {
    const bob = as('bob');
    const served = [
      await client.api('GET', '/videos', { headers: bob }),
      await client.api('GET', '/videos', { headers: bob }),
    ];

    const refused = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: { ...bob, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A submit over the rate: never recorded' }),
    });
    const alice = await client.api('GET', '/videos', { headers: as('alice') });

    expect(served.map((response) => response.status)).toEqual([200, 200]);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({
      error: {
        code: 'too_many_requests',
        message: 'Too many requests from this client; retry after the Retry-After seconds',
      },
    });
    // The seconds from the stack's time (the Date header) to the end of the noon window. The
    // header has whole seconds: in the window's first second it reads 12:00:00 exactly, which is
    // the window's start, not its end (a ceil here failed a quick run).
    const date = Date.parse(refused.headers.get('date') ?? '');
    const windowMs = WINDOW_SECONDS * 1000;
    const windowEnd = (Math.floor(date / windowMs) + 1) * windowMs;
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(Math.abs(retryAfter - (windowEnd - date) / 1000)).toBeLessThanOrEqual(1);
    expect(await client.jobCount()).toBe(0);
    expect(alice.status).toBe(200);
  });
});
