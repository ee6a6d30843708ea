import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createDynamoDocumentClient } from '../../../functions/shared/aws/dynamodb-client.ts';
import { closeEndpoints, endpoint, json } from '../../support/aws-json-endpoint.ts';

/**
 * The pipeline's DynamoDB document client (dynamodb-client.ts) as it reaches the wire: what the
 * stores rely on it to send, and how often it tries.
 */

afterEach(closeEndpoints);

const documents = (url: string) =>
  createDynamoDocumentClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 's' },
  });

const transaction = {
  TransactItems: [{ Put: { TableName: 't', Item: { pk: 'a', sk: 'b', n: 1 } } }],
};

describe('TransactWriteItems', () => {
  it('carries one ClientRequestToken, the same on each retry (a lost answer applies once)', async () => {
    const server = await endpoint(json(500, { __type: 'InternalServerError' }), json(200, {}));

    await documents(server.url).send(new TransactWriteCommand(transaction));

    const [first, retry] = server.received.map((request) => request.body);
    expect(server.received).toHaveLength(2);
    expect(first).toEqual({
      ClientRequestToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
      TransactItems: [
        { Put: { TableName: 't', Item: { pk: { S: 'a' }, sk: { S: 'b' }, n: { N: '1' } } } },
      ],
    });
    expect(retry).toEqual(first);
  });

  it("keeps the caller's token, and gives each call a token of its own", async () => {
    const server = await endpoint(json(200, {}));
    const client = documents(server.url);

    await client.send(new TransactWriteCommand({ ...transaction, ClientRequestToken: 'mine' }));
    await client.send(new TransactWriteCommand(transaction));
    await client.send(new TransactWriteCommand(transaction));

    const tokens = server.received.map((request) => request.body.ClientRequestToken);
    expect(tokens[0]).toBe('mine');
    expect(new Set(tokens).size).toBe(3);
  });
});

describe('retries', () => {
  it('tries a failing call four times in all, the SDK default for DynamoDB', async () => {
    const server = await endpoint(json(500, { __type: 'InternalServerError' }));

    await expect(
      documents(server.url).send(new TransactWriteCommand(transaction)),
    ).rejects.toMatchObject({ name: 'InternalServerError', $metadata: { attempts: 4 } });
    expect(server.received).toHaveLength(4);
  });

  it('never tries a refusal again (a failed condition is an answer)', async () => {
    const server = await endpoint(
      json(400, {
        __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
        message: 'The conditional request failed',
      }),
    );

    await expect(
      documents(server.url).send(
        new PutCommand({
          TableName: 't',
          Item: { pk: 'a' },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    expect(server.received).toHaveLength(1);
  });
});

describe('values', () => {
  it('sends a Buffer as a binary attribute (base64), leaving undefined attributes out', async () => {
    const server = await endpoint(json(200, {}));

    await documents(server.url).send(
      new PutCommand({
        TableName: 't',
        Item: { pk: 'a', data: Buffer.from('video'), gone: undefined },
      }),
    );

    expect(server.received[0]?.body.Item).toEqual({
      pk: { S: 'a' },
      data: { B: Buffer.from('video').toString('base64') },
    });
  });
});
