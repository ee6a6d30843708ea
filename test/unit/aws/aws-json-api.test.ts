import { afterEach, describe, expect, it } from 'vitest';
import {
  AwsJsonClient,
  type AwsJsonClientOptions,
  AwsServiceError,
} from '../../../functions/shared/aws/aws-json-api.ts';
import { DYNAMODB_SERVICE } from '../../../functions/shared/aws/dynamodb-documents.ts';
import { XRayTracer } from '../../../functions/shared/observability/xray-tracer.ts';
import { closeEndpoints, endpoint, json } from '../../support/aws-json-endpoint.ts';

afterEach(closeEndpoints);

const env = (url: string) => ({
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret',
  AWS_SESSION_TOKEN: 'session-token',
  AWS_ENDPOINT_URL_DYNAMODB: url,
});

const client = (url: string, options: AwsJsonClientOptions = {}) =>
  new AwsJsonClient(DYNAMODB_SERVICE, { env: env(url), ...options });

describe('AwsJsonClient.call', () => {
  it('posts the input as signed JSON to the operation and answers the JSON', async () => {
    const server = await endpoint(json(200, { Item: { pk: { S: 'a' } } }));

    const answer = await client(server.url).call('GetItem', { TableName: 't' });

    expect(answer).toEqual({ Item: { pk: { S: 'a' } } });
    const [request] = server.received;
    expect(request?.body).toEqual({ TableName: 't' });
    expect(request?.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
    expect(request?.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request?.headers['x-amz-security-token']).toBe('session-token');
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/dynamodb\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$/,
    );
  });

  it('names the error by its __type and keeps the answer, without another try for a refusal', async () => {
    const server = await endpoint(
      json(
        400,
        {
          __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
          message: 'The conditional request failed',
          Item: { pk: { S: 'a' } },
        },
        { 'x-amzn-requestid': 'req-1' },
      ),
    );

    const error = await client(server.url)
      .call('PutItem', {})
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsServiceError);
    expect(error).toMatchObject({
      name: 'ConditionalCheckFailedException',
      message: 'The conditional request failed',
      status: 400,
      requestId: 'req-1',
      details: { Item: { pk: { S: 'a' } } },
    });
    expect(server.received).toHaveLength(1);
  });

  it('reads a type with a trailing :<url> and a capitalised Message', async () => {
    const server = await endpoint(
      json(400, { __type: 'ValidationException:http://internal', Message: 'bad key' }),
    );

    await expect(client(server.url).call('GetItem', {})).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'bad key',
    });
  });

  it('tries again after throttling and a 5xx, and answers the try that succeeds', async () => {
    const server = await endpoint(
      json(400, { __type: 'ProvisionedThroughputExceededException', message: 'slow down' }),
      json(500, {}),
      json(200, { ok: true }),
    );

    await expect(client(server.url).call('UpdateItem', { n: 1 })).resolves.toEqual({ ok: true });
    expect(server.received.map((request) => request.body)).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }]);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const server = await endpoint(json(503, { __type: 'ServiceUnavailable' }));

    await expect(client(server.url, { maxAttempts: 2 }).call('Query', {})).rejects.toMatchObject({
      name: 'ServiceUnavailable',
      status: 503,
    });
    expect(server.received).toHaveLength(2);
  });

  it('ends an attempt that gets no answer within timeoutMs, and tries again', async () => {
    const server = await endpoint(
      () => {
        // Never answers.
      },
      json(200, { ok: true }),
    );

    await expect(client(server.url, { timeoutMs: 200 }).call('GetItem', {})).resolves.toEqual({
      ok: true,
    });
    expect(server.received).toHaveLength(2);
  });

  it('says which service, operation and host it could not reach, and why', async () => {
    const server = await endpoint(() => {
      // Never answers.
    });
    const closed = await endpoint(json(200, {}));
    await closed.close();

    const refused = client(closed.url, { maxAttempts: 1 }).call('GetItem', {});
    const silent = client(server.url, { maxAttempts: 1, timeoutMs: 100 }).call('PutItem', {});

    await expect(refused).rejects.toMatchObject({
      name: 'AwsNetworkError',
      code: 'ECONNREFUSED',
      message: `DynamoDB GetItem to ${new URL(closed.url).host}: could not connect (ECONNREFUSED)`,
    });
    await expect(silent).rejects.toMatchObject({
      name: 'AwsNetworkError',
      code: 'ETIMEDOUT',
      message: `DynamoDB PutItem to ${new URL(server.url).host}: no answer within 100 ms`,
    });
  });

  it('refuses to send without a region or credentials, naming the variables', async () => {
    const server = await endpoint(json(200, {}));
    const unconfigured = new AwsJsonClient(DYNAMODB_SERVICE, {
      env: { AWS_ENDPOINT_URL_DYNAMODB: server.url, AWS_REGION: 'eu-west-1' },
    });

    await expect(unconfigured.call('GetItem', {})).rejects.toThrow(
      'DynamoDB needs AWS_REGION and credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in the environment',
    );
    expect(server.received).toHaveLength(0);
  });

  it("calls the region's endpoint unless AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL says otherwise", async () => {
    const urls: string[] = [];
    const fetchSpy: typeof fetch = async (input) => {
      urls.push(String(input));
      return new Response('{}', { status: 200 });
    };
    const base = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' };

    for (const overrides of [
      {},
      { AWS_REGION: 'cn-north-1' },
      { AWS_ENDPOINT_URL: 'http://all.local:1' },
      { AWS_ENDPOINT_URL: 'http://all.local:1', AWS_ENDPOINT_URL_DYNAMODB: 'http://ddb.local:2' },
    ]) {
      await new AwsJsonClient(DYNAMODB_SERVICE, {
        env: { ...base, ...overrides },
        fetch: fetchSpy,
      }).call('GetItem', {});
    }

    expect(urls).toEqual([
      'https://dynamodb.eu-west-1.amazonaws.com/',
      'https://dynamodb.cn-north-1.amazonaws.com.cn/',
      'http://all.local:1/',
      'http://ddb.local:2/',
    ]);
  });

  it('lets a hook add to each attempt and see its answer', async () => {
    const server = await endpoint(
      json(400, { __type: 'ThrottlingException' }),
      json(200, { ConsumedCapacity: { CapacityUnits: 1 } }),
    );
    const api = client(server.url);
    const seen: { operation: string; status: number; answer: unknown }[] = [];
    const remove = api.hook((call) => {
      call.input.ReturnConsumedCapacity = 'TOTAL';
      return ({ status, answer }) => seen.push({ operation: call.operation, status, answer });
    });

    await api.call('GetItem', { TableName: 't' });
    remove();
    await api.call('GetItem', { TableName: 't' });

    expect(server.received.map((request) => request.body)).toEqual([
      { TableName: 't', ReturnConsumedCapacity: 'TOTAL' },
      { TableName: 't', ReturnConsumedCapacity: 'TOTAL' },
      { TableName: 't' },
    ]);
    expect(seen).toEqual([
      { operation: 'GetItem', status: 400, answer: { __type: 'ThrottlingException' } },
      { operation: 'GetItem', status: 200, answer: { ConsumedCapacity: { CapacityUnits: 1 } } },
    ]);
  });

  it('traces each call as an aws subsegment named for the service, with its retries', async () => {
    const server = await endpoint(
      json(400, { __type: 'ThrottlingException' }),
      json(200, {}, { 'x-amzn-requestid': 'req-2' }),
    );
    const documents: Record<string, unknown>[] = [];
    const tracer = new XRayTracer({
      serviceName: 'test',
      env: {
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        _X_AMZN_TRACE_ID:
          'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      },
      send: (document) => documents.push(document),
    });

    await tracer.traceInvocation('handler', () =>
      client(server.url, { tracer }).call('UpdateItem', {}),
    );

    expect(documents[0]).toMatchObject({
      name: 'DynamoDB',
      namespace: 'aws',
      aws: { operation: 'UpdateItem', region: 'eu-west-1', request_id: 'req-2', retries: 1 },
      http: { response: { status: 200 } },
    });
    expect(documents[0]).not.toHaveProperty('error');
    expect(documents[0]).not.toHaveProperty('throttle');
    expect(documents[1]).toMatchObject({ name: '## handler' });
  });
});
