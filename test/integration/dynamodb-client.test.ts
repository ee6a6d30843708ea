import { randomUUID } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancellationReasons,
  conditionFailure,
} from '../../functions/shared/aws/dynamodb-refusals.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../support/dynamodb-local.ts';

/**
 * The pipeline's DynamoDB setup on DynamoDB Local: the document client as dynamodb-client.ts
 * builds it (values in and out as written), the refusals as dynamodb-refusals.ts reads them
 * (with the item a write was refused by), and a transaction's token applying it once.
 */

let dynamo: DynamoDbLocal;
let table: string;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  table = await dynamo.createJobsTable(`documents-${randomUUID()}`);
});

afterAll(async () => {
  await dynamo?.stop();
});

const key = (id: string) => ({ pk: `DOC#${id}`, sk: 'DOC' });

async function read(id: string) {
  const { Item } = await dynamo.documents.send(
    new GetCommand({ TableName: table, Key: key(id), ConsistentRead: true }),
  );
  return Item;
}

describe('the document client', () => {
  it('writes plain values (undefined dropped) and reads them back as written, binary included', async () => {
    const item = {
      ...key('a'),
      name: 'a',
      count: 3,
      price: 0.25,
      done: false,
      nothing: null,
      tags: new Set(['x', 'y']),
      list: [1, 'two', { three: 3 }],
      nested: { deep: { value: 'v' } },
      bytes: Buffer.from([0, 1, 2, 255]),
      dropped: undefined,
    };

    await dynamo.documents.send(new PutCommand({ TableName: table, Item: item }));
    const stored = await read('a');

    const { dropped: _dropped, bytes, ...rest } = item;
    expect(stored).toEqual({ ...rest, bytes: new Uint8Array(bytes) });
    // Stored as DynamoDB's own types: a set as a set, a number as a number, bytes as binary.
    const raw = await dynamo.client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'DOC#a' }, sk: { S: 'DOC' } } }),
    );
    expect(raw.Item?.tags).toEqual({ SS: ['x', 'y'] });
    expect(raw.Item?.count).toEqual({ N: '3' });
    expect(raw.Item?.bytes).toEqual({ B: new Uint8Array([0, 1, 2, 255]) });
    expect(raw.Item).not.toHaveProperty('dropped');
  });
});

describe('refusals', () => {
  it('answers a failed condition with the item it failed against, as plain values', async () => {
    await dynamo.documents.send(
      new PutCommand({ TableName: table, Item: { ...key('c'), state: 'DONE', n: 2 } }),
    );

    const error = await dynamo.documents
      .send(
        new PutCommand({
          TableName: table,
          Item: { ...key('c'), state: 'NEW' },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      )
      .catch((caught: unknown) => caught);

    expect(conditionFailure(error)).toEqual({ item: { ...key('c'), state: 'DONE', n: 2 } });
    expect(cancellationReasons(error)).toBeUndefined();
  });

  it('answers a failed condition on a missing item without one', async () => {
    const error = await dynamo.documents
      .send(
        new PutCommand({
          TableName: table,
          Item: { ...key('missing'), state: 'NEW' },
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      )
      .catch((caught: unknown) => caught);

    expect(conditionFailure(error)).toEqual({ item: undefined });
  });

  it('says why a transaction was cancelled, item by item, and writes nothing of it', async () => {
    await dynamo.documents.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { ...key('d1'), v: 1 } } },
          { Put: { TableName: table, Item: { ...key('d2'), v: 1 } } },
        ],
      }),
    );

    const error = await dynamo.documents
      .send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: table,
                Key: key('d1'),
                UpdateExpression: 'SET v = :two',
                ExpressionAttributeValues: { ':two': 2 },
              },
            },
            {
              ConditionCheck: {
                TableName: table,
                Key: key('d2'),
                ConditionExpression: 'v = :zero',
                ExpressionAttributeValues: { ':zero': 0 },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      )
      .catch((caught: unknown) => caught);

    expect(cancellationReasons(error)).toEqual([
      { code: 'None', item: undefined },
      { code: 'ConditionalCheckFailed', item: { ...key('d2'), v: 1 } },
    ]);
    expect(conditionFailure(error)).toBeUndefined();
    expect((await read('d1'))?.v).toBe(1);
  });
});

describe('transaction tokens', () => {
  it('applies a transaction once when it is sent again with the same token (a lost answer)', async () => {
    const once: TransactWriteCommandInput = {
      ClientRequestToken: randomUUID(),
      TransactItems: [
        {
          Update: {
            TableName: table,
            Key: key('e'),
            UpdateExpression: 'ADD #n :one',
            ConditionExpression: 'attribute_not_exists(#n) OR #n < :one',
            ExpressionAttributeNames: { '#n': 'n' },
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
      ],
    };

    await dynamo.documents.send(new TransactWriteCommand(once));
    await dynamo.documents.send(new TransactWriteCommand(once));
    const again = await dynamo.documents
      .send(new TransactWriteCommand({ ...once, ClientRequestToken: randomUUID() }))
      .catch((caught: unknown) => caught);

    expect((await read('e'))?.n).toBe(1);
    // A new token is a new transaction: its condition sees the first one's write.
    expect(cancellationReasons(again)?.map((reason) => reason.code)).toEqual([
      'ConditionalCheckFailed',
    ]);
  });
});
