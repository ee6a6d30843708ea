import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  clientRateLimiter,
  DynamoClientRateLimiter,
  unlimitedClientRate,
} from '../../../functions/shared/limits/dynamo-client-rate-limiter.ts';

const TABLE = 'jobs-table';
const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(db);
const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
const updates = () => dynamo.commandCalls(UpdateCommand).map((call) => call.args[0].input);
const limiter = new DynamoClientRateLimiter({
  client: db,
  tableName: TABLE,
  rate: { requestsPerWindow: 20, windowSeconds: 2 },
});

beforeEach(() => {
  dynamo.reset();
  dynamo.on(UpdateCommand).resolves({});
});

describe('DynamoClientRateLimiter', () => {
  it("counts the request on its client's item of the current window while under the limit", async () => {
    const now = new Date('2026-03-01T10:05:43.500Z');

    await expect(limiter.take('alice', now)).resolves.toEqual({ allowed: true });

    expect(dynamo).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      // The 2-second window that started at :42.
      Key: { pk: 'LIMIT#client-requests#alice#2026-03-01T10:05:42', sk: 'LIMIT' },
      UpdateExpression: 'ADD #count :one SET #expiresAt = :expiresAt',
      ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
      ExpressionAttributeNames: { '#count': 'count', '#expiresAt': 'expiresAt' },
      ExpressionAttributeValues: {
        ':one': 1,
        ':limit': 20,
        // An hour after the window ends.
        ':expiresAt': Date.parse('2026-03-01T10:05:44.000Z') / 1000 + 3600,
      },
    });
  });

  it('counts each client on an item of its own', async () => {
    const now = new Date('2026-03-01T10:05:43.500Z');

    await limiter.take('alice', now);
    await limiter.take('bob', now);

    expect(updates().map((input) => input.Key?.pk)).toEqual([
      'LIMIT#client-requests#alice#2026-03-01T10:05:42',
      'LIMIT#client-requests#bob#2026-03-01T10:05:42',
    ]);
  });

  it('refuses a request over the limit with the whole seconds left in the window, rounded up', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed());

    await expect(limiter.take('alice', new Date('2026-03-01T10:05:42.000Z'))).resolves.toEqual({
      allowed: false,
      retryAfterSeconds: 2,
    });
    await expect(limiter.take('alice', new Date('2026-03-01T10:05:43.200Z'))).resolves.toEqual({
      allowed: false,
      retryAfterSeconds: 1,
    });
  });

  it('answers Retry-After from the start of a long window to its end', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed());
    const hourly = new DynamoClientRateLimiter({
      client: db,
      tableName: TABLE,
      rate: { requestsPerWindow: 2, windowSeconds: 3600 },
    });

    await expect(hourly.take('bob', new Date('2026-03-01T12:00:10.000Z'))).resolves.toEqual({
      allowed: false,
      retryAfterSeconds: 3590,
    });
    expect(updates()[0]?.Key?.pk).toBe('LIMIT#client-requests#bob#2026-03-01T12:00:00');
  });

  it('lets any other DynamoDB error through', async () => {
    const throttled = new Error('ProvisionedThroughputExceededException');
    dynamo.on(UpdateCommand).rejects(throttled);

    await expect(limiter.take('alice', new Date())).rejects.toBe(throttled);
  });

  it('refuses a limit below one request or a window below one second', () => {
    const build = (requestsPerWindow: number, windowSeconds: number) => () =>
      new DynamoClientRateLimiter({
        client: db,
        tableName: TABLE,
        rate: { requestsPerWindow, windowSeconds },
      });

    expect(build(0, 1)).toThrow(/requestsPerWindow/);
    expect(build(1, 0)).toThrow(/windowSeconds/);
  });
});

describe('clientRateLimiter', () => {
  it('is no limit at all for a rate of 0 requests: every request runs, nothing is written', async () => {
    const limiter = clientRateLimiter(db, TABLE, { requestsPerWindow: 0, windowSeconds: 1 });

    expect(limiter).toBe(unlimitedClientRate);
    for (let request = 0; request < 100; request += 1) {
      await expect(limiter.take('alice', new Date())).resolves.toEqual({ allowed: true });
    }
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('counts in DynamoDB for a rate of at least one request', async () => {
    const limiter = clientRateLimiter(db, TABLE, { requestsPerWindow: 1, windowSeconds: 1 });

    await limiter.take('alice', new Date());

    expect(limiter).toBeInstanceOf(DynamoClientRateLimiter);
    expect(dynamo).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });
});
