import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it, vi } from 'vitest';
import type { ApiHandler } from '../../../functions/api/api-handler.ts';
import { withClientRate } from '../../../functions/api/client-rate.ts';
import { jsonResponse } from '../../../functions/api/json-response.ts';
import type { ClientRateConfig } from '../../../functions/shared/limits/client-rate-config.ts';
import {
  type ClientRateLimiter,
  clientRateLimiter,
} from '../../../functions/shared/limits/dynamo-client-rate-limiter.ts';
import { httpApiEvent } from '../../support/http-api-event.ts';
import { recordingLogger } from '../../support/recording-logger.ts';

const NOW = new Date('2026-03-04T12:00:10.000Z');

/**
 * The jobs table as the counter sees it: ADD under the condition `count < :limit`, per item
 * (the command itself is asserted in dynamo-client-rate-limiter.test.ts, and on DynamoDB Local
 * in test/integration/client-rate.test.ts).
 */
function counterTable() {
  const counts = new Map<string, number>();
  const written: string[] = [];
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  mockClient(db)
    .on(UpdateCommand)
    .callsFake(
      async (input: {
        Key?: { pk?: unknown };
        ExpressionAttributeValues?: Record<string, unknown>;
      }) => {
        const pk = String(input.Key?.pk);
        written.push(pk);
        const count = counts.get(pk) ?? 0;
        if (count >= Number(input.ExpressionAttributeValues?.[':limit'])) {
          throw new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });
        }
        counts.set(pk, count + 1);
        return {};
      },
    );
  return { db, written };
}

function setup(options: { rate?: ClientRateConfig; limiter?: ClientRateLimiter } = {}) {
  const { db, written } = counterTable();
  const limiter =
    options.limiter ??
    clientRateLimiter(db, 'jobs', options.rate ?? { requestsPerWindow: 2, windowSeconds: 60 });
  const operation = vi.fn<ApiHandler>(async () => jsonResponse(200, { served: true }));
  const { logger, lines, text } = recordingLogger();
  const handler = withClientRate(operation, { limiter, clock: () => NOW, logger });
  const send = (client: string) =>
    handler(httpApiEvent({ method: 'GET', path: '/videos', authorizer: { client, admin: false } }));
  return { send, operation, written, lines, text };
}

describe('withClientRate', () => {
  it('runs the operation of a client under its rate', async () => {
    const { send, operation } = setup();

    const first = await send('bob');
    const second = await send('bob');

    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(operation).toHaveBeenCalledTimes(2);
  });

  it('answers a request over the rate 429 with Retry-After and the error envelope, running nothing', async () => {
    const { send, operation } = setup();
    await send('bob');
    await send('bob');

    const refused = await send('bob');

    expect(refused.statusCode).toBe(429);
    // 12:00:10 in a minute-long window: 50 s until it frees.
    expect(refused.headers?.['Retry-After']).toBe('50');
    expect(refused.headers?.['Cache-Control']).toBe('no-store');
    expect(JSON.parse(refused.body ?? '')).toEqual({
      error: {
        code: 'too_many_requests',
        message: 'Too many requests from this client; retry after the Retry-After seconds',
      },
    });
    expect(operation).toHaveBeenCalledTimes(2);
  });

  it("counts each client apart: bob over his rate does not touch alice's", async () => {
    const { send } = setup();
    for (let request = 0; request < 3; request += 1) await send('bob');

    const alice = await send('alice');
    const bob = await send('bob');

    expect(alice.statusCode).toBe(200);
    expect(bob.statusCode).toBe(429);
  });

  it('counts the default client for a context without a client name, as callerOf reads it', async () => {
    const { send, written } = setup();

    await send('Not A Client Name');

    expect(written[0]).toMatch(/^LIMIT#client-requests#default#/);
  });

  it('serves every request with a rate of 0, writing nothing', async () => {
    const { send, operation, written } = setup({
      rate: { requestsPerWindow: 0, windowSeconds: 1 },
    });

    for (let request = 0; request < 50; request += 1) {
      expect((await send('bob')).statusCode).toBe(200);
    }
    expect(operation).toHaveBeenCalledTimes(50);
    expect(written).toEqual([]);
  });

  it('logs a refusal with its client, code and wait', async () => {
    const { send, lines } = setup({ rate: { requestsPerWindow: 1, windowSeconds: 60 } });
    await send('bob');

    await send('bob');

    expect(lines.at(-1)).toMatchObject({
      level: 'info',
      message: 'Request refused',
      keys: { client: 'bob' },
      extra: [
        expect.objectContaining({
          statusCode: 429,
          code: 'too_many_requests',
          route: 'GET /videos',
          retryAfterSeconds: 50,
        }),
      ],
    });
  });

  it('runs the operation when the counter cannot be written, with a warning', async () => {
    const limiter: ClientRateLimiter = {
      take: async () => {
        throw new Error('DynamoDB unreachable');
      },
    };
    const { send, operation, lines } = setup({ limiter });

    const response = await send('bob');

    expect(response.statusCode).toBe(200);
    expect(operation).toHaveBeenCalledTimes(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      message: 'Client request rate not checked',
      keys: { client: 'bob' },
    });
  });
});
