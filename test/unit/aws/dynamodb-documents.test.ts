import { afterEach, describe, expect, it } from 'vitest';
import { DynamoDocumentClient } from '../../../functions/shared/aws/dynamodb-documents.ts';
import { closeEndpoints, endpoint, json } from '../../support/aws-json-endpoint.ts';

afterEach(closeEndpoints);

const documents = (url: string) =>
  new DynamoDocumentClient({
    env: {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_ENDPOINT_URL_DYNAMODB: url,
    },
  });

const transaction = {
  TransactItems: [{ Put: { TableName: 't', Item: { pk: 'a', sk: 'b', n: 1 } } }],
};

describe('DynamoDocumentClient.transactWrite', () => {
  it('sends DynamoDB JSON with one ClientRequestToken, the same on each retry', async () => {
    const server = await endpoint(json(500, { __type: 'InternalServerError' }), json(200, {}));

    await documents(server.url).transactWrite(transaction);

    const [first, retry] = server.received.map((request) => request.body);
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

    await client.transactWrite({ ...transaction, ClientRequestToken: 'mine' });
    await client.transactWrite(transaction);
    await client.transactWrite(transaction);

    const tokens = server.received.map((request) => request.body.ClientRequestToken);
    expect(tokens[0]).toBe('mine');
    expect(new Set(tokens).size).toBe(3);
  });
});
