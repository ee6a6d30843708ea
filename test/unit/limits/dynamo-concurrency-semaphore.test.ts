import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoConcurrencySemaphore } from '../../../functions/shared/limits/dynamo-concurrency-semaphore.ts';

const TABLE = 'jobs-table';
const KEY = { pk: 'LIMIT#concurrency', sk: 'LIMIT' };

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(client);
const semaphore = new DynamoConcurrencySemaphore({ client, tableName: TABLE, limit: 2 });

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

beforeEach(() => {
  dynamo.reset();
});

describe('DynamoConcurrencySemaphore.acquire', () => {
  it('adds the job to the holders only while there is room or it already holds a slot', async () => {
    dynamo.on(UpdateCommand).resolves({});

    const acquired = await semaphore.acquire('job_a');

    expect(acquired).toBe(true);
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      UpdateExpression: 'ADD #holders :holder',
      ConditionExpression:
        'attribute_not_exists(#holders) OR size(#holders) < :limit OR contains(#holders, :jobId)',
      ExpressionAttributeNames: { '#holders': 'holders' },
      ExpressionAttributeValues: { ':holder': new Set(['job_a']), ':limit': 2, ':jobId': 'job_a' },
    });
  });

  it('answers false when the slots are full (the condition fails)', async () => {
    dynamo.on(UpdateCommand).rejects(conditionFailed());

    await expect(semaphore.acquire('job_c')).resolves.toBe(false);
  });

  it('lets other DynamoDB errors through', async () => {
    dynamo.on(UpdateCommand).rejects(new Error('ProvisionedThroughputExceeded'));

    await expect(semaphore.acquire('job_c')).rejects.toThrow('ProvisionedThroughputExceeded');
  });
});

describe('DynamoConcurrencySemaphore.release', () => {
  it('deletes the job from the holders only if it holds a slot, and says it freed one', async () => {
    dynamo.on(UpdateCommand).resolves({});

    const freed = await semaphore.release('job_a');

    expect(freed).toBe(true);
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: KEY,
      UpdateExpression: 'DELETE #holders :holder',
      ConditionExpression: 'contains(#holders, :jobId)',
      ExpressionAttributeNames: { '#holders': 'holders' },
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
