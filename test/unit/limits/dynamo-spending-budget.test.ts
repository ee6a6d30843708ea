import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoSpendingBudget } from '../../../functions/shared/limits/dynamo-spending-budget.ts';
import { LimitContentionError } from '../../../functions/shared/limits/limit-errors.ts';
import {
  fakeDynamoDocuments,
  resetFakeDynamoDocuments,
  transactionCanceled,
} from '../../support/fake-dynamo-documents.ts';

const TABLE = 'jobs-table';
const DAY = '2026-03-01';
const JOB_KEY = { pk: 'BUDGET#JOB#job_a', sk: 'BUDGET' };
const DAY_KEY = { pk: `BUDGET#DAY#${DAY}`, sk: 'BUDGET' };
const ADMIT = 'attribute_not_exists(#committed) OR #committed <= :maxBefore';

const db = fakeDynamoDocuments();

function budget(dailyLimitUsd: number | null = 10) {
  return new DynamoSpendingBudget({
    client: db,
    tableName: TABLE,
    dailyLimitUsd,
    maxAttempts: 3,
    backoffMs: () => 1,
  });
}

function transactItems(call = 0) {
  return db.transactWrite.mock.calls[call]?.[0].TransactItems ?? [];
}

function jobRecord(state: string, day = DAY, reservedMicroUsd = 400_000) {
  return { Item: { ...JOB_KEY, day, state, reservedMicroUsd } };
}

beforeEach(() => {
  resetFakeDynamoDocuments(db);
});

describe('DynamoSpendingBudget.reserve', () => {
  it('writes the job record and adds to the day in one transaction, admitted only under the limit', async () => {
    db.get.mockResolvedValue({});
    db.transactWrite.mockResolvedValue({});

    const result = await budget(10).reserve('job_a', 0.4, DAY);

    expect(result).toBe('reserved');
    const [put, day] = transactItems();
    expect(put?.Put).toEqual({
      TableName: TABLE,
      Item: {
        ...JOB_KEY,
        day: DAY,
        state: 'reserved',
        reservedMicroUsd: 400_000,
        expiresAt: Date.parse(`${DAY}T00:00:00.000Z`) / 1000 + 90 * 24 * 3600,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(day?.Update).toEqual({
      TableName: TABLE,
      Key: DAY_KEY,
      UpdateExpression: 'ADD #committed :committed, #reserved :reserved, #started :started',
      ConditionExpression: ADMIT,
      ExpressionAttributeNames: {
        '#committed': 'committedMicroUsd',
        '#reserved': 'reservedMicroUsd',
        '#started': 'startedJobs',
      },
      ExpressionAttributeValues: {
        ':committed': 400_000,
        ':reserved': 400_000,
        ':started': 1,
        ':maxBefore': 9_600_000,
      },
    });
  });

  it('answers exceeded when the day condition fails', async () => {
    db.get.mockResolvedValue({});
    db.transactWrite.mockRejectedValue(transactionCanceled('None', 'ConditionalCheckFailed'));

    await expect(budget(10).reserve('job_a', 0.4, DAY)).resolves.toBe('exceeded');
  });

  it('counts a job once: an existing reservation answers reserved without a write', async () => {
    db.get.mockResolvedValue(jobRecord('reserved'));

    const result = await budget(10).reserve('job_a', 0.4, DAY);

    expect(result).toBe('reserved');
    expect(db.transactWrite).not.toHaveBeenCalled();
  });

  it('answers reserved when a parallel reserve of the same job wrote the record first', async () => {
    db.get.mockResolvedValueOnce({}).mockResolvedValue(jobRecord('reserved'));
    db.transactWrite.mockRejectedValue(transactionCanceled('ConditionalCheckFailed', 'None'));

    await expect(budget(10).reserve('job_a', 0.4, DAY)).resolves.toBe('reserved');
    expect(db.transactWrite).toHaveBeenCalledTimes(1);
  });

  it('reserves a released record again, only from released', async () => {
    db.get.mockResolvedValue(jobRecord('released', '2026-02-27'));
    db.transactWrite.mockResolvedValue({});

    await budget(10).reserve('job_a', 0.4, DAY);

    expect(transactItems()[0]?.Update).toMatchObject({
      Key: JOB_KEY,
      UpdateExpression: 'SET #state = :to, #day = :day, #reservedMicroUsd = :reservedMicroUsd',
      ConditionExpression: '#state = :from',
      ExpressionAttributeValues: {
        ':from': 'released',
        ':to': 'reserved',
        ':day': DAY,
        ':reservedMicroUsd': 400_000,
      },
    });
    expect(transactItems()[1]?.Update?.Key).toEqual(DAY_KEY);
  });

  it('never admits a job that costs more than the whole budget', async () => {
    db.get.mockResolvedValue({});

    await expect(budget(1).reserve('job_a', 1.2, DAY)).resolves.toBe('exceeded');
    expect(db.transactWrite).not.toHaveBeenCalled();
  });

  it('records reservations without a condition when there is no budget', async () => {
    db.get.mockResolvedValue({});
    db.transactWrite.mockResolvedValue({});

    await expect(budget(null).reserve('job_a', 1000, DAY)).resolves.toBe('reserved');
    expect(transactItems()[1]?.Update?.ConditionExpression).toBeUndefined();
  });

  it('retries transaction conflicts, then gives up with LimitContentionError', async () => {
    db.get.mockResolvedValue({});
    db.transactWrite.mockRejectedValue(transactionCanceled('None', 'TransactionConflict'));

    await expect(budget(10).reserve('job_a', 0.4, DAY)).rejects.toThrow(LimitContentionError);
    expect(db.transactWrite).toHaveBeenCalledTimes(3);
  });

  it('succeeds after a conflict that clears', async () => {
    db.get.mockResolvedValue({});
    db.transactWrite
      .mockRejectedValueOnce(transactionCanceled('TransactionConflict', 'None'))
      .mockResolvedValue({});

    await expect(budget(10).reserve('job_a', 0.4, DAY)).resolves.toBe('reserved');
  });
});

describe('DynamoSpendingBudget.release', () => {
  it("moves the record from reserved to released and takes its cost off its own day's totals", async () => {
    db.get.mockResolvedValue(jobRecord('reserved', '2026-02-28'));
    db.transactWrite.mockResolvedValue({});

    await budget().release('job_a', DAY);

    const [record, day] = transactItems();
    expect(record?.Update).toEqual({
      TableName: TABLE,
      Key: JOB_KEY,
      UpdateExpression: 'SET #state = :to',
      ConditionExpression: '#state = :from',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':from': 'reserved', ':to': 'released' },
    });
    expect(day?.Update).toEqual({
      TableName: TABLE,
      Key: { pk: 'BUDGET#DAY#2026-02-28', sk: 'BUDGET' },
      UpdateExpression: 'ADD #committed :committed, #reserved :reserved',
      ExpressionAttributeNames: {
        '#committed': 'committedMicroUsd',
        '#reserved': 'reservedMicroUsd',
      },
      ExpressionAttributeValues: { ':committed': -400_000, ':reserved': -400_000 },
    });
  });

  it.each([
    ['no record', {}],
    ['a released record', jobRecord('released')],
    ['a spent record', jobRecord('spent')],
  ])('changes nothing for %s', async (_case, record) => {
    db.get.mockResolvedValue(record);

    await budget().release('job_a', DAY);

    expect(db.transactWrite).not.toHaveBeenCalled();
  });

  it('re-reads when the record moved on meanwhile, and stops there', async () => {
    db.get.mockResolvedValueOnce(jobRecord('reserved')).mockResolvedValue(jobRecord('spent'));
    db.transactWrite.mockRejectedValue(transactionCanceled('ConditionalCheckFailed', 'None'));

    await budget().release('job_a', DAY);

    expect(db.transactWrite).toHaveBeenCalledTimes(1);
    expect(db.get).toHaveBeenCalledTimes(2);
  });
});

describe('DynamoSpendingBudget.recordSpent', () => {
  it('turns the reservation into the actual cost on the reservation day', async () => {
    db.get.mockResolvedValue(jobRecord('reserved', '2026-02-28'));
    db.transactWrite.mockResolvedValue({});

    await budget().recordSpent('job_a', 0.5, DAY);

    const [record, day] = transactItems();
    expect(record?.Update).toMatchObject({
      UpdateExpression: 'SET #state = :to, #spentMicroUsd = :spentMicroUsd',
      ConditionExpression: '#state = :from',
      ExpressionAttributeValues: { ':from': 'reserved', ':to': 'spent', ':spentMicroUsd': 500_000 },
    });
    expect(day?.Update).toMatchObject({
      Key: { pk: 'BUDGET#DAY#2026-02-28', sk: 'BUDGET' },
      UpdateExpression:
        'ADD #committed :committed, #reserved :reserved, #spent :spent, #completed :completed',
      ExpressionAttributeValues: {
        ':committed': 100_000,
        ':reserved': -400_000,
        ':spent': 500_000,
        ':completed': 1,
      },
    });
    expect(day?.Update?.ConditionExpression).toBeUndefined();
  });

  it('is a no-op once spent', async () => {
    db.get.mockResolvedValue(jobRecord('spent'));

    await budget().recordSpent('job_a', 0.4, DAY);

    expect(db.transactWrite).not.toHaveBeenCalled();
  });

  it('charges a job without a reservation to the given day, once', async () => {
    db.get.mockResolvedValue({});
    db.transactWrite.mockResolvedValue({});

    await budget().recordSpent('job_a', 0.4, DAY);

    const [put, day] = transactItems();
    expect(put?.Put).toMatchObject({
      Item: { ...JOB_KEY, day: DAY, state: 'spent', spentMicroUsd: 400_000 },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(day?.Update).toMatchObject({
      Key: DAY_KEY,
      ExpressionAttributeValues: { ':committed': 400_000, ':spent': 400_000, ':completed': 1 },
    });
  });

  it('charges a released job in full, without touching reservations', async () => {
    db.get.mockResolvedValue(jobRecord('released'));
    db.transactWrite.mockResolvedValue({});

    await budget().recordSpent('job_a', 0.4, DAY);

    expect(transactItems()[1]?.Update?.ExpressionAttributeValues).toEqual({
      ':committed': 400_000,
      ':spent': 400_000,
      ':completed': 1,
    });
  });
});

describe('DynamoSpendingBudget.usage', () => {
  it("reads the day's totals in dollars, with the configured limit", async () => {
    db.get.mockResolvedValue({
      Item: {
        ...DAY_KEY,
        committedMicroUsd: 1_300_000,
        reservedMicroUsd: 800_000,
        spentMicroUsd: 500_000,
        startedJobs: 3,
        completedJobs: 1,
        orphanedMicroUsd: 400_000,
        orphanedJobs: 1,
      },
    });

    const usage = await budget(10).usage(DAY);

    expect(usage).toEqual({
      day: DAY,
      limitUsd: 10,
      reservedUsd: 0.8,
      spentUsd: 0.5,
      startedJobs: 3,
      completedJobs: 1,
      orphanedUsd: 0.4,
      orphanedJobs: 1,
    });
    expect(db.get).toHaveBeenCalledWith(
      expect.objectContaining({ Key: DAY_KEY, ConsistentRead: true }),
    );
  });

  it('is all zeros on a day without jobs, and limitUsd null without a budget', async () => {
    db.get.mockResolvedValue({});

    const usage = await budget(null).usage(DAY);

    expect(usage).toEqual({
      day: DAY,
      limitUsd: null,
      reservedUsd: 0,
      spentUsd: 0,
      startedJobs: 0,
      completedJobs: 0,
      orphanedUsd: 0,
      orphanedJobs: 0,
    });
  });
});
