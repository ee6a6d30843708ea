import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoSpendingBudget } from '../../../functions/shared/limits/dynamo-spending-budget.ts';
import { LimitContentionError } from '../../../functions/shared/limits/limit-errors.ts';

const TABLE = 'jobs-table';
const DAY = '2026-03-01';
const JOB_KEY = { pk: 'BUDGET#JOB#job_a', sk: 'BUDGET' };
const DAY_KEY = { pk: `BUDGET#DAY#${DAY}`, sk: 'BUDGET' };
const ADMIT = 'attribute_not_exists(#committed) OR #committed <= :maxBefore';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(client);

function budget(dailyLimitUsd: number | null = 10) {
  return new DynamoSpendingBudget({
    client,
    tableName: TABLE,
    dailyLimitUsd,
    maxAttempts: 3,
    backoffMs: () => 1,
  });
}

/**
 * A cancelled job-record + day transaction; `refusedBy` is the job record as it stood, as
 * DynamoDB sends it back to a write that asked for it (ALL_OLD), in its own types.
 */
function canceled(jobRecord: string, day: string, refusedBy?: Record<string, unknown>) {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: [
      { Code: jobRecord, ...(refusedBy === undefined ? {} : { Item: marshall(refusedBy) }) },
      { Code: day },
    ],
  });
}

const ALL_OLD = { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const;

function transactItems(call = 0) {
  return dynamo.commandCalls(TransactWriteCommand)[call]?.args[0].input.TransactItems ?? [];
}

function jobRecord(state: string, day = DAY, reservedMicroUsd = 400_000, client?: string) {
  return { Item: { ...JOB_KEY, day, state, reservedMicroUsd, ...(client ? { client } : {}) } };
}

const BOB_KEY = { pk: `BUDGET#CLIENTS#${DAY}`, sk: 'CLIENT#bob' };

beforeEach(() => {
  dynamo.reset();
});

describe('DynamoSpendingBudget.reserve', () => {
  it('writes the job record and adds to the day in one transaction, admitted only under the limit', async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo.on(TransactWriteCommand).resolves({});

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
      ...ALL_OLD,
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
    dynamo.on(GetCommand).resolves({});
    dynamo.on(TransactWriteCommand).rejects(canceled('None', 'ConditionalCheckFailed'));

    await expect(budget(10).reserve('job_a', 0.4, DAY)).resolves.toBe('exceeded');
  });

  it('counts a job once: an existing reservation answers reserved without a write', async () => {
    dynamo.on(GetCommand).resolves(jobRecord('reserved'));

    const result = await budget(10).reserve('job_a', 0.4, DAY);

    expect(result).toBe('reserved');
    expect(dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('answers reserved when a parallel reserve of the same job wrote the record first', async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo
      .on(TransactWriteCommand)
      .rejects(canceled('ConditionalCheckFailed', 'None', jobRecord('reserved').Item));

    await expect(budget(10).reserve('job_a', 0.4, DAY)).resolves.toBe('reserved');
    expect(dynamo).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    // The record that won came back with the refusal: read once, before the write.
    expect(dynamo).toHaveReceivedCommandTimes(GetCommand, 1);
  });

  it('reserves a released record again, only from released', async () => {
    dynamo.on(GetCommand).resolves(jobRecord('released', '2026-02-27'));
    dynamo.on(TransactWriteCommand).resolves({});

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
    dynamo.on(GetCommand).resolves({});

    await expect(budget(1).reserve('job_a', 1.2, DAY)).resolves.toBe('exceeded');
    expect(dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('records reservations without a condition when there is no budget', async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo.on(TransactWriteCommand).resolves({});

    await expect(budget(null).reserve('job_a', 1000, DAY)).resolves.toBe('reserved');
    expect(transactItems()[1]?.Update?.ConditionExpression).toBeUndefined();
  });

  it('retries transaction conflicts, then gives up with LimitContentionError', async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo.on(TransactWriteCommand).rejects(canceled('None', 'TransactionConflict'));

    await expect(budget(10).reserve('job_a', 0.4, DAY)).rejects.toThrow(LimitContentionError);
    expect(dynamo).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
  });

  it('succeeds after a conflict that clears', async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo
      .on(TransactWriteCommand)
      .rejectsOnce(canceled('TransactionConflict', 'None'))
      .resolves({});

    await expect(budget(10).reserve('job_a', 0.4, DAY)).resolves.toBe('reserved');
  });
});

describe('DynamoSpendingBudget.release', () => {
  it("moves the record from reserved to released and takes its cost off its own day's totals", async () => {
    dynamo.on(GetCommand).resolves(jobRecord('reserved', '2026-02-28'));
    dynamo.on(TransactWriteCommand).resolves({});

    await budget().release('job_a', DAY);

    const [record, day] = transactItems();
    expect(record?.Update).toEqual({
      TableName: TABLE,
      Key: JOB_KEY,
      UpdateExpression: 'SET #state = :to',
      ConditionExpression: '#state = :from',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':from': 'reserved', ':to': 'released' },
      ...ALL_OLD,
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
    dynamo.on(GetCommand).resolves(record);

    await budget().release('job_a', DAY);

    expect(dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('goes on from the record the refusal answers when it moved on meanwhile, and stops there', async () => {
    dynamo.on(GetCommand).resolves(jobRecord('reserved'));
    dynamo
      .on(TransactWriteCommand)
      .rejects(canceled('ConditionalCheckFailed', 'None', jobRecord('spent').Item));

    await budget().release('job_a', DAY);

    expect(dynamo).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    expect(dynamo).toHaveReceivedCommandTimes(GetCommand, 1);
  });

  it('tries again from a record the refusal answers still reserved (another change of it)', async () => {
    dynamo.on(GetCommand).resolves(jobRecord('reserved'));
    dynamo
      .on(TransactWriteCommand)
      .rejectsOnce(canceled('ConditionalCheckFailed', 'None', jobRecord('reserved').Item))
      .resolves({});

    await budget().release('job_a', DAY);

    expect(dynamo).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });
});

describe('DynamoSpendingBudget.recordSpent', () => {
  it('turns the reservation into the actual cost on the reservation day', async () => {
    dynamo.on(GetCommand).resolves(jobRecord('reserved', '2026-02-28'));
    dynamo.on(TransactWriteCommand).resolves({});

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
    dynamo.on(GetCommand).resolves(jobRecord('spent'));

    await budget().recordSpent('job_a', 0.4, DAY);

    expect(dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('charges a job without a reservation to the given day, once', async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo.on(TransactWriteCommand).resolves({});

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
    dynamo.on(GetCommand).resolves(jobRecord('released'));
    dynamo.on(TransactWriteCommand).resolves({});

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
    dynamo.on(GetCommand).resolves({
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
    expect(dynamo).toHaveReceivedCommandWith(GetCommand, { Key: DAY_KEY, ConsistentRead: true });
  });

  it('is all zeros on a day without jobs, and limitUsd null without a budget', async () => {
    dynamo.on(GetCommand).resolves({});

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

describe("DynamoSpendingBudget with a client's own budget", () => {
  it("adds to the client's part of the day in the same transaction, admitted only under its limit, and records the limit", async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo.on(TransactWriteCommand).resolves({});

    const result = await budget(10).reserve('job_a', 0.4, DAY, { name: 'bob', dailyBudgetUsd: 2 });

    expect(result).toBe('reserved');
    const [put, day, client] = transactItems();
    expect(put?.Put?.Item).toMatchObject({ ...JOB_KEY, state: 'reserved', client: 'bob' });
    expect(day?.Update?.Key).toEqual(DAY_KEY);
    expect(client?.Update).toEqual({
      TableName: TABLE,
      Key: BOB_KEY,
      UpdateExpression:
        'ADD #committed :committed, #reserved :reserved, #started :started SET #limit = :limit',
      ConditionExpression: ADMIT,
      ExpressionAttributeNames: {
        '#committed': 'committedMicroUsd',
        '#reserved': 'reservedMicroUsd',
        '#started': 'startedJobs',
        '#limit': 'limitMicroUsd',
      },
      ExpressionAttributeValues: {
        ':committed': 400_000,
        ':reserved': 400_000,
        ':started': 1,
        ':maxBefore': 1_600_000,
        ':limit': 2_000_000,
      },
    });
  });

  it('tracks a client without a budget of its own unconditionally, and removes a limit it had', async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo.on(TransactWriteCommand).resolves({});

    await budget(10).reserve('job_a', 0.4, DAY, { name: 'bob' });

    const client = transactItems()[2]?.Update;
    expect(client?.Key).toEqual(BOB_KEY);
    expect(client?.UpdateExpression).toBe(
      'ADD #committed :committed, #reserved :reserved, #started :started REMOVE #limit',
    );
    expect(client?.ConditionExpression).toBeUndefined();
  });

  it("answers client-exceeded when only the client's condition fails, exceeded when the day's does too", async () => {
    dynamo.on(GetCommand).resolves({});
    const refused = (day: string) =>
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'None' }, { Code: day }, { Code: 'ConditionalCheckFailed' }],
      });
    const bob = { name: 'bob', dailyBudgetUsd: 2 };

    dynamo.on(TransactWriteCommand).rejects(refused('None'));
    const clientOnly = await budget(10).reserve('job_a', 0.4, DAY, bob);
    dynamo.on(TransactWriteCommand).rejects(refused('ConditionalCheckFailed'));
    const both = await budget(10).reserve('job_a', 0.4, DAY, bob);

    expect([clientOnly, both]).toEqual(['client-exceeded', 'exceeded']);
  });

  it("retries a conflict on the client's item", async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo
      .on(TransactWriteCommand)
      .rejectsOnce(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: [
            { Code: 'None' },
            { Code: 'None' },
            { Code: 'TransactionConflict' },
          ],
        }),
      )
      .resolves({});

    await expect(budget(10).reserve('job_a', 0.4, DAY, { name: 'bob' })).resolves.toBe('reserved');
    expect(dynamo).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it("never admits a job that costs more than the client's whole budget", async () => {
    dynamo.on(GetCommand).resolves({});

    const result = await budget(10).reserve('job_a', 1.2, DAY, { name: 'bob', dailyBudgetUsd: 1 });

    expect(result).toBe('client-exceeded');
    expect(dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('reserves a released record again for its new client, or for none', async () => {
    dynamo.on(GetCommand).resolves(jobRecord('released', DAY, 400_000, 'bob'));
    dynamo.on(TransactWriteCommand).resolves({});

    await budget(10).reserve('job_a', 0.4, DAY, { name: 'alice' });
    await budget(10).reserve('job_a', 0.4, DAY);

    expect(transactItems(0)[0]?.Update).toMatchObject({
      UpdateExpression:
        'SET #state = :to, #day = :day, #reservedMicroUsd = :reservedMicroUsd, #client = :client',
      ExpressionAttributeValues: { ':client': 'alice' },
    });
    expect(transactItems(0)[2]?.Update?.Key).toEqual({ ...BOB_KEY, sk: 'CLIENT#alice' });
    expect(transactItems(1)[0]?.Update).toMatchObject({
      UpdateExpression:
        'SET #state = :to, #day = :day, #reservedMicroUsd = :reservedMicroUsd REMOVE #client',
      ExpressionAttributeNames: { '#client': 'client' },
    });
    expect(transactItems(1)).toHaveLength(2);
  });

  it("returns a release to the client's part of its reservation day", async () => {
    dynamo.on(GetCommand).resolves(jobRecord('reserved', DAY, 400_000, 'bob'));
    dynamo.on(TransactWriteCommand).resolves({});

    await budget().release('job_a', '2026-03-02');

    expect(transactItems()[2]?.Update).toEqual({
      TableName: TABLE,
      Key: BOB_KEY,
      UpdateExpression: 'ADD #committed :committed, #reserved :reserved',
      ExpressionAttributeNames: {
        '#committed': 'committedMicroUsd',
        '#reserved': 'reservedMicroUsd',
      },
      ExpressionAttributeValues: { ':committed': -400_000, ':reserved': -400_000 },
    });
  });

  it("turns the client's reservation into the actual cost with the day's", async () => {
    dynamo.on(GetCommand).resolves(jobRecord('reserved', DAY, 400_000, 'bob'));
    dynamo.on(TransactWriteCommand).resolves({});

    await budget().recordSpent('job_a', 0.5, '2026-03-02');

    const [, day, client] = transactItems();
    expect(client?.Update?.Key).toEqual(BOB_KEY);
    expect(client?.Update?.ExpressionAttributeValues).toEqual(
      day?.Update?.ExpressionAttributeValues,
    );
    expect(client?.Update?.ExpressionAttributeValues).toEqual({
      ':committed': 100_000,
      ':reserved': -400_000,
      ':spent': 500_000,
      ':completed': 1,
    });
  });

  it("reads a client's part of a day, with the limit recorded on it", async () => {
    dynamo.on(GetCommand).resolves({
      Item: {
        ...BOB_KEY,
        committedMicroUsd: 900_000,
        reservedMicroUsd: 400_000,
        spentMicroUsd: 500_000,
        startedJobs: 2,
        completedJobs: 1,
        limitMicroUsd: 2_000_000,
      },
    });

    const usage = await budget(null).clientUsage('bob', DAY);

    expect(usage).toEqual({
      day: DAY,
      client: 'bob',
      limitUsd: 2,
      reservedUsd: 0.4,
      spentUsd: 0.5,
      startedJobs: 2,
      completedJobs: 1,
    });
    expect(dynamo).toHaveReceivedCommandWith(GetCommand, { Key: BOB_KEY, ConsistentRead: true });
  });
});
