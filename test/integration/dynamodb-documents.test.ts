import { randomUUID } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsServiceError } from '../../functions/shared/aws/aws-json-api.ts';
import {
  cancellationReasons,
  isConditionFailed,
} from '../../functions/shared/aws/dynamodb-documents.ts';
import {
  type DynamoDbLocal,
  localDocuments,
  startDynamoDbLocal,
} from '../support/dynamodb-local.ts';

/**
 * The pipeline's document client (dynamodb-documents.ts) on DynamoDB Local: the same values in
 * and out as lib-dynamodb's commands, and DynamoDB's refusals as named errors.
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

describe('DynamoDocumentClient', () => {
  it('writes plain values (undefined dropped) and reads them back as written', async () => {
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
      dropped: undefined,
    };

    await dynamo.documents.put({ TableName: table, Item: item });
    const { Item } = await dynamo.documents.get({
      TableName: table,
      Key: key('a'),
      ConsistentRead: true,
    });

    const { dropped: _dropped, ...stored } = item;
    expect(Item).toEqual(stored);
    // Stored as DynamoDB's own types, as the SDK would write them.
    const raw = await dynamo.client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'DOC#a' }, sk: { S: 'DOC' } } }),
    );
    expect(raw.Item?.tags).toEqual({ SS: ['x', 'y'] });
    expect(raw.Item?.count).toEqual({ N: '3' });
    expect(raw.Item).not.toHaveProperty('dropped');
  });

  it('answers no Item for a key that is not there', async () => {
    const output = await dynamo.documents.get({ TableName: table, Key: key('missing') });

    expect(output.Item).toBeUndefined();
  });

  it('updates with plain expression values and answers the new attributes', async () => {
    await dynamo.documents.put({ TableName: table, Item: { ...key('b'), count: 1 } });

    const { Attributes } = await dynamo.documents.update({
      TableName: table,
      Key: key('b'),
      UpdateExpression: 'ADD #count :one, #holders :holder',
      ExpressionAttributeNames: { '#count': 'count', '#holders': 'holders' },
      ExpressionAttributeValues: { ':one': 1, ':holder': new Set(['job_1']) },
      ReturnValues: 'ALL_NEW',
    });

    expect(Attributes).toEqual({ ...key('b'), count: 2, holders: new Set(['job_1']) });
  });

  it('pages a query with plain keys', async () => {
    const partition = `PAGE#${randomUUID()}`;
    for (const sk of ['1', '2', '3']) {
      await dynamo.documents.put({ TableName: table, Item: { pk: partition, sk, n: Number(sk) } });
    }
    const query = {
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': partition },
      Limit: 2,
    };

    const first = await dynamo.documents.query(query);
    const second = await dynamo.documents.query({
      ...query,
      ExclusiveStartKey: first.LastEvaluatedKey,
    });

    expect(first.Items).toEqual([
      { pk: partition, sk: '1', n: 1 },
      { pk: partition, sk: '2', n: 2 },
    ]);
    expect(first.LastEvaluatedKey).toEqual({ pk: partition, sk: '2' });
    expect(second.Items).toEqual([{ pk: partition, sk: '3', n: 3 }]);
  });

  it('refuses a failed condition as ConditionalCheckFailedException, with the item as it was', async () => {
    await dynamo.documents.put({ TableName: table, Item: { ...key('c'), state: 'DONE' } });

    const error = await dynamo.documents
      .put({
        TableName: table,
        Item: { ...key('c'), state: 'NEW' },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      })
      .catch((caught: unknown) => caught);

    expect(isConditionFailed(error)).toBe(true);
    expect((error as AwsServiceError).details.Item).toEqual({ ...key('c'), state: 'DONE' });
    expect(cancellationReasons(error)).toBeUndefined();
  });

  it('writes a transaction all or nothing, and says why one was cancelled, item by item', async () => {
    await dynamo.documents.transactWrite({
      TransactItems: [
        { Put: { TableName: table, Item: { ...key('d1'), v: 1 } } },
        { Put: { TableName: table, Item: { ...key('d2'), v: 1 } } },
      ],
    });

    const error = await dynamo.documents
      .transactWrite({
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
      })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsServiceError);
    const reasons = cancellationReasons(error);
    expect(reasons?.map((reason) => reason.Code)).toEqual(['None', 'ConditionalCheckFailed']);
    expect(reasons?.[1]?.Item).toEqual({ ...key('d2'), v: 1 });
    expect(isConditionFailed(error)).toBe(false);
    const { Item } = await dynamo.documents.get({
      TableName: table,
      Key: key('d1'),
      ConsistentRead: true,
    });
    expect(Item?.v).toBe(1);
  });

  it('applies a transaction once when its retry carries the same token (a lost answer)', async () => {
    const once = {
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

    await dynamo.documents.transactWrite(once);
    await dynamo.documents.transactWrite(once);
    const again = await dynamo.documents
      .transactWrite({ ...once, ClientRequestToken: randomUUID() })
      .catch((caught: unknown) => caught);

    const { Item } = await dynamo.documents.get({
      TableName: table,
      Key: key('e'),
      ConsistentRead: true,
    });
    expect(Item?.n).toBe(1);
    // A new token is a new transaction: its condition sees the first one's write.
    expect(cancellationReasons(again)?.map((reason) => reason.Code)).toEqual([
      'ConditionalCheckFailed',
    ]);
  });

  it('names a refusal of the request itself, and does not try it again', async () => {
    // Three tries allowed, as in production (the shared client of these tests has one).
    const documents = localDocuments(dynamo.endpoint);
    let attempts = 0;
    documents.api.hook(() => {
      attempts += 1;
      return undefined;
    });

    await expect(
      documents.get({ TableName: 'no-such-table', Key: key('a') }),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException', status: 400 });
    expect(attempts).toBe(1);
  });
});
