import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoConcurrencySemaphore } from '../../../functions/shared/limits/dynamo-concurrency-semaphore.ts';
import {
  conditionFailed,
  fakeDynamoDocuments,
  resetFakeDynamoDocuments,
} from '../../support/fake-dynamo-documents.ts';

const TABLE = 'jobs-table';
const KEY = { pk: 'LIMIT#concurrency', sk: 'LIMIT' };

const db = fakeDynamoDocuments();
const semaphore = new DynamoConcurrencySemaphore({ client: db, tableName: TABLE, limit: 2 });

beforeEach(() => {
  resetFakeDynamoDocuments(db);
});

describe('DynamoConcurrencySemaphore.acquire', () => {
  it('adds the job to the holders only while there is room or it already holds a slot', async () => {
    db.update.mockResolvedValue({});

    const acquired = await semaphore.acquire('job_a');

    expect(acquired).toBe(true);
    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
        TableName: TABLE,
        Key: KEY,
        UpdateExpression: 'ADD #holders :holder',
        ConditionExpression:
          'attribute_not_exists(#holders) OR size(#holders) < :limit OR contains(#holders, :jobId)',
        ExpressionAttributeNames: { '#holders': 'holders' },
        ExpressionAttributeValues: {
          ':holder': new Set(['job_a']),
          ':limit': 2,
          ':jobId': 'job_a',
        },
      }),
    );
  });

  it('answers false when the slots are full (the condition fails)', async () => {
    db.update.mockRejectedValue(conditionFailed());

    await expect(semaphore.acquire('job_c')).resolves.toBe(false);
  });

  it('lets other DynamoDB errors through', async () => {
    db.update.mockRejectedValue(new Error('ProvisionedThroughputExceeded'));

    await expect(semaphore.acquire('job_c')).rejects.toThrow('ProvisionedThroughputExceeded');
  });
});

describe('DynamoConcurrencySemaphore.release', () => {
  it('deletes the job from the holders only if it holds a slot, and says it freed one', async () => {
    db.update.mockResolvedValue({});

    const freed = await semaphore.release('job_a');

    expect(freed).toBe(true);
    expect(db.update).toHaveBeenCalledWith(
      expect.objectContaining({
        TableName: TABLE,
        Key: KEY,
        UpdateExpression: 'DELETE #holders :holder',
        ConditionExpression: 'contains(#holders, :jobId)',
        ExpressionAttributeNames: { '#holders': 'holders' },
        ExpressionAttributeValues: { ':holder': new Set(['job_a']), ':jobId': 'job_a' },
      }),
    );
  });

  it('answers false for a job that holds no slot (nothing freed, nothing to hand off)', async () => {
    db.update.mockRejectedValue(conditionFailed('no'));

    expect(await semaphore.release('job_a')).toBe(false);
  });
});

describe('DynamoConcurrencySemaphore.holders', () => {
  it('reads the holders consistently, sorted', async () => {
    db.get.mockResolvedValue({ Item: { ...KEY, holders: new Set(['job_b', 'job_a']) } });

    const holders = await semaphore.holders();

    expect(holders).toEqual(['job_a', 'job_b']);
    expect(db.get).toHaveBeenCalledWith(
      expect.objectContaining({ TableName: TABLE, Key: KEY, ConsistentRead: true }),
    );
  });

  it('is empty when no job ever held a slot or the last one left', async () => {
    db.get.mockResolvedValueOnce({}).mockResolvedValueOnce({ Item: KEY });

    expect(await semaphore.holders()).toEqual([]);
    expect(await semaphore.holders()).toEqual([]);
  });
});
