import { beforeEach, describe, expect, it } from 'vitest';
import {
  DynamoRequestRateLimiter,
  unlimitedRequestRate,
} from '../../../functions/shared/limits/dynamo-request-rate-limiter.ts';
import {
  conditionFailed,
  fakeDynamoDocuments,
  resetFakeDynamoDocuments,
} from '../../support/fake-dynamo-documents.ts';

const TABLE = 'jobs-table';
const db = fakeDynamoDocuments();
const limiter = new DynamoRequestRateLimiter({
  client: db,
  tableName: TABLE,
  requestsPerMinute: 20,
});

beforeEach(() => {
  resetFakeDynamoDocuments(db);
});

describe('DynamoRequestRateLimiter', () => {
  it("counts the request on the current UTC minute's item while it is under the limit", async () => {
    db.update.mockResolvedValue({});
    const now = new Date('2026-03-01T10:05:42.500Z');

    const taken = await limiter.tryTake(now);

    expect(taken).toBe(true);
    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
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
      }),
    );
  });

  it("answers false when the minute's allowance is spent", async () => {
    db.update.mockRejectedValue(conditionFailed('failed'));

    await expect(limiter.tryTake(new Date())).resolves.toBe(false);
  });

  it('refuses a limit below one (0 means no limiter at all)', () => {
    expect(
      () => new DynamoRequestRateLimiter({ client: db, tableName: TABLE, requestsPerMinute: 0 }),
    ).toThrow(RangeError);
  });
});

describe('unlimitedRequestRate', () => {
  it('always lets the request go, without touching DynamoDB', async () => {
    await expect(unlimitedRequestRate.tryTake(new Date())).resolves.toBe(true);
    for (const operation of Object.values(db)) expect(operation).not.toHaveBeenCalled();
  });
});
