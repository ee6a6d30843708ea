import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { useClock } from '../../../functions/shared/clock.ts';
import { DynamoConcurrencySemaphore } from '../../../functions/shared/limits/dynamo-concurrency-semaphore.ts';

const TABLE = 'jobs-table';
const KEY = { pk: 'LIMIT#concurrency', sk: 'LIMIT' };

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(client);
const NOW = new Date('2026-03-01T10:00:00.000Z');
const semaphore = new DynamoConcurrencySemaphore({
  client,
  tableName: TABLE,
  limit: 2,
  now: () => NOW,
});

/** A failed condition, with the item as it stood when the write asked for it (ALL_OLD). */
const conditionFailed = (item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(item === undefined ? {} : { Item: marshall(item) }),
  });

beforeEach(() => {
  dynamo.reset();
});

describe('DynamoConcurrencySemaphore.acquire', () => {
  it("adds the job to the holders and its client's holders while the pool has room, noting when the client was served", async () => {
    dynamo.on(UpdateCommand).resolves({});

    const acquired = await semaphore.acquire('job_a', { client: 'alice', weight: 4 });

    expect(acquired).toBe(true);
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      // The client's virtual clock moves on by 1 / weight, by ADD (no concurrent tick is lost).
      UpdateExpression: 'ADD #holders :holder, #mine :holder, #clock :tick SET #served = :now',
      ConditionExpression:
        'NOT contains(#holders, :jobId) AND (attribute_not_exists(#holders) OR size(#holders) < :limit)',
      ExpressionAttributeNames: {
        '#holders': 'holders',
        '#mine': 'holders#alice',
        '#served': 'served#alice',
        '#clock': 'vclock#alice',
      },
      ExpressionAttributeValues: {
        ':tick': 0.25,
        ':holder': new Set(['job_a']),
        ':limit': 2,
        ':jobId': 'job_a',
        ':now': NOW.toISOString(),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it("checks the client's cap in the same condition when it has one", async () => {
    dynamo.on(UpdateCommand).resolves({});

    await semaphore.acquire('job_b', { client: 'bob', maxConcurrent: 1 });

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      ConditionExpression:
        'NOT contains(#holders, :jobId) AND (attribute_not_exists(#holders) OR size(#holders) < :limit) AND (attribute_not_exists(#mine) OR size(#mine) < :cap)',
      ExpressionAttributeNames: expect.objectContaining({ '#mine': 'holders#bob' }),
      ExpressionAttributeValues: expect.objectContaining({ ':cap': 1 }),
    });
  });

  it('counts a job without a client as the default client', async () => {
    dynamo.on(UpdateCommand).resolves({});

    await semaphore.acquire('job_a');

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      ExpressionAttributeNames: expect.objectContaining({ '#mine': 'holders#default' }),
    });
  });

  it('answers false when the pool is full or the client at its cap (the condition fails)', async () => {
    dynamo
      .on(UpdateCommand)
      .rejectsOnce(conditionFailed({ ...KEY, holders: new Set(['job_x', 'job_y']) }))
      .rejectsOnce(conditionFailed());

    await expect(semaphore.acquire('job_c')).resolves.toBe(false);
    await expect(semaphore.acquire('job_c')).resolves.toBe(false);
  });

  it('answers true for a job that already holds a slot, read from the refused item (a retried acquire)', async () => {
    dynamo
      .on(UpdateCommand)
      .rejects(conditionFailed({ ...KEY, holders: new Set(['job_a', 'job_b']) }));

    await expect(semaphore.acquire('job_a')).resolves.toBe(true);
  });

  it('lets other DynamoDB errors through', async () => {
    dynamo.on(UpdateCommand).rejects(new Error('ProvisionedThroughputExceeded'));

    await expect(semaphore.acquire('job_c')).rejects.toThrow('ProvisionedThroughputExceeded');
  });

  it("stamps the pipeline's clock when given none (the clock admission's marks are measured on)", async () => {
    dynamo.on(UpdateCommand).resolves({});
    const restore = useClock(() => Date.parse('2031-05-06T07:08:09.000Z'));
    try {
      await new DynamoConcurrencySemaphore({ client, tableName: TABLE, limit: 2 }).acquire('job_a');
    } finally {
      restore();
    }

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      ExpressionAttributeValues: expect.objectContaining({ ':now': '2031-05-06T07:08:09.000Z' }),
    });
  });
});

describe('DynamoConcurrencySemaphore.release', () => {
  it("deletes the job from the holders and its client's holders only if it holds a slot, and says it freed one", async () => {
    dynamo.on(UpdateCommand).resolves({});

    const freed = await semaphore.release('job_a', 'alice');

    expect(freed).toBe(true);
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      UpdateExpression: 'DELETE #holders :holder, #mine :holder',
      ConditionExpression: 'contains(#holders, :jobId)',
      ExpressionAttributeNames: { '#holders': 'holders', '#mine': 'holders#alice' },
      ExpressionAttributeValues: { ':holder': new Set(['job_a']), ':jobId': 'job_a' },
    });
  });

  it('answers false for a job that holds no slot (nothing freed, nothing to hand off)', async () => {
    dynamo
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));

    expect(await semaphore.release('job_a')).toBe(false);
  });
});

describe('DynamoConcurrencySemaphore.holders', () => {
  it('reads the holders consistently, sorted', async () => {
    dynamo.on(GetCommand).resolves({ Item: { ...KEY, holders: new Set(['job_b', 'job_a']) } });

    const holders = await semaphore.holders();

    expect(holders).toEqual(['job_a', 'job_b']);
    expect(dynamo).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: KEY,
      ConsistentRead: true,
    });
  });

  it('is empty when no job ever held a slot or the last one left', async () => {
    dynamo.on(GetCommand).resolvesOnce({}).resolvesOnce({ Item: KEY });

    expect(await semaphore.holders()).toEqual([]);
    expect(await semaphore.holders()).toEqual([]);
  });
});

describe('DynamoConcurrencySemaphore.slotHolders and state', () => {
  const item = {
    ...KEY,
    holders: new Set(['job_a1', 'job_b1', 'job_old']),
    'holders#alice': new Set(['job_a1']),
    'holders#bob': new Set(['job_b1']),
    waitingClients: new Set(['bob', 'carol']),
    'weight#bob': 2,
    'cap#bob': 3,
    'weight#carol': 1,
    'served#alice': '2026-03-01T09:00:00.000Z',
    'served#bob': '2026-03-01T09:30:00.000Z',
    'marked#bob': '2026-03-01T09:31:00.000Z',
    'vclock#alice': 3,
    'vclock#bob': 1.5,
    'holders@eastus': new Set(['job_b1']),
  };

  it("names each holder's client; a holder from before the per-client sets is the default client's", async () => {
    dynamo.on(GetCommand).resolves({ Item: item });

    expect(await semaphore.slotHolders()).toEqual([
      { jobId: 'job_a1', client: 'alice' },
      { jobId: 'job_b1', client: 'bob', deployment: 'eastus' },
      { jobId: 'job_old', client: 'default' },
    ]);
  });

  it('reads the whole pool consistently: in use, and per client its holders, waiting, weight, cap, last served, clock', async () => {
    dynamo.on(GetCommand).resolves({ Item: item });

    const state = await semaphore.state();

    expect(state).toEqual({
      limit: 2,
      inUse: 3,
      clients: {
        alice: {
          running: 1,
          holders: ['job_a1'],
          waiting: false,
          weight: 1,
          lastServedAt: '2026-03-01T09:00:00.000Z',
          virtualClock: 3,
        },
        bob: {
          running: 1,
          holders: ['job_b1'],
          waiting: true,
          weight: 2,
          maxConcurrent: 3,
          lastServedAt: '2026-03-01T09:30:00.000Z',
          virtualClock: 1.5,
        },
        carol: { running: 0, holders: [], waiting: true, weight: 1, virtualClock: 0 },
      },
      deployments: { eastus: { holders: ['job_b1'] } },
    });
    expect(dynamo).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: KEY,
      ConsistentRead: true,
    });
  });

  it('is an empty pool when the item does not exist', async () => {
    dynamo.on(GetCommand).resolves({});

    expect(await semaphore.state()).toEqual({ limit: 2, inUse: 0, clients: {}, deployments: {} });
  });
});

describe('DynamoConcurrencySemaphore.markWaiting and clearWaiting', () => {
  it('catches a client back from rest up to a virtual time, never moving its clock back', async () => {
    dynamo
      .on(UpdateCommand, { UpdateExpression: 'SET #clock = :to' })
      .rejects(new ConditionalCheckFailedException({ message: 'ahead', $metadata: {} }))
      .on(UpdateCommand)
      .resolves({});

    // Refused (its clock is ahead already): swallowed, and the mark is still made.
    await semaphore.markWaiting('bob', { weight: 1 }, 7.5);

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      UpdateExpression: 'SET #clock = :to',
      ConditionExpression: 'attribute_not_exists(#clock) OR #clock < :to',
      ExpressionAttributeNames: { '#clock': 'vclock#bob' },
      ExpressionAttributeValues: { ':to': 7.5 },
    });
    expect(dynamo).toHaveReceivedCommandTimes(UpdateCommand, 2);
  });

  it('adds the client to the waiting clients with its weight and cap, noting when it was marked', async () => {
    dynamo.on(UpdateCommand).resolves({});

    await semaphore.markWaiting('bob', { weight: 2, maxConcurrent: 3 });

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      UpdateExpression: 'ADD #waiting :client SET #weight = :weight, #marked = :now, #cap = :cap',
      ExpressionAttributeNames: {
        '#waiting': 'waitingClients',
        '#weight': 'weight#bob',
        '#cap': 'cap#bob',
        '#marked': 'marked#bob',
      },
      ExpressionAttributeValues: {
        ':client': new Set(['bob']),
        ':weight': 2,
        ':now': NOW.toISOString(),
        ':cap': 3,
      },
    });
  });

  it('removes a cap the client no longer has', async () => {
    dynamo.on(UpdateCommand).resolves({});

    await semaphore.markWaiting('bob', { weight: 1 });

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'ADD #waiting :client SET #weight = :weight, #marked = :now REMOVE #cap',
      ExpressionAttributeValues: {
        ':client': new Set(['bob']),
        ':weight': 1,
        ':now': NOW.toISOString(),
      },
    });
  });

  it('takes the client off the waiting clients unless it was marked at or after markedBefore', async () => {
    dynamo.on(UpdateCommand).resolves({});

    await semaphore.clearWaiting('bob', '2026-03-01T09:59:50.000Z');

    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      UpdateExpression: 'DELETE #waiting :client',
      ConditionExpression: 'attribute_not_exists(#marked) OR #marked < :markedBefore',
      ExpressionAttributeNames: { '#waiting': 'waitingClients', '#marked': 'marked#bob' },
      ExpressionAttributeValues: {
        ':client': new Set(['bob']),
        ':markedBefore': '2026-03-01T09:59:50.000Z',
      },
    });
  });

  it('keeps a client marked lately (the condition fails) and lets other errors through', async () => {
    const throttled = new Error('Rate exceeded');
    dynamo.on(UpdateCommand).rejectsOnce(conditionFailed()).rejectsOnce(throttled);

    await expect(semaphore.clearWaiting('bob', NOW.toISOString())).resolves.toBeUndefined();
    await expect(semaphore.clearWaiting('bob', NOW.toISOString())).rejects.toBe(throttled);
  });
});
