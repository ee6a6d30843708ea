import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DynamoRequestRateLimiter,
  unlimitedRequestRate,
} from '../../../functions/shared/limits/dynamo-request-rate-limiter.ts';

const TABLE = 'jobs-table';
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(client);
const limiter = new DynamoRequestRateLimiter({ client, tableName: TABLE, requestsPerMinute: 20 });

beforeEach(() => {
  dynamo.reset();
});

describe('DynamoRequestRateLimiter', () => {
  it("counts the request on the current UTC minute's item while it is under the limit", async () => {
    dynamo.on(UpdateCommand).resolves({});
    const now = new Date('2026-03-01T10:05:42.500Z');

    const taken = await limiter.tryTake(now);

    expect(taken).toBe(true);
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: 'LIMIT#requests#2026-03-01T10:05', sk: 'LIMIT' },
      UpdateExpression: 'ADD #count :one SET #expiresAt = :expiresAt',
      ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
      ExpressionAttributeNames: { '#count': 'count', '#expiresAt': 'expiresAt' },
      ExpressionAttributeValues: {
        ':one': 1,
        ':limit': 20,
        // An hour after the minute ends.
        ':expiresAt': Date.parse('2026-03-01T10:06:00.000Z') / 1000 + 3600,
      },
    });
  });

  it("answers false when the minute's allowance is spent", async () => {
    dynamo
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));

    await expect(limiter.tryTake(new Date())).resolves.toBe(false);
  });

  it('refuses a limit below one (0 means no limiter at all)', () => {
    expect(
      () => new DynamoRequestRateLimiter({ client, tableName: TABLE, requestsPerMinute: 0 }),
    ).toThrow(RangeError);
  });
});

describe('unlimitedRequestRate', () => {
  it('always lets the request go, without touching DynamoDB', async () => {
    await expect(unlimitedRequestRate.tryTake(new Date())).resolves.toBe(true);
    expect(dynamo.calls()).toHaveLength(0);
  });
});
