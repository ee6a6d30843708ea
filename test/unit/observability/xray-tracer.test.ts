import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  daemonAddress,
  parseTraceHeader,
  runtimeTraceHeader,
  tracedFetch,
  udpSender,
  XRayTracer,
} from '../../../functions/shared/observability/xray-tracer.ts';

const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const LAMBDA = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x', _X_AMZN_TRACE_ID: TRACE };

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
  vi.unstubAllEnvs();
});

/** A UDP daemon on 127.0.0.1 keeping the documents it receives. */
async function fakeDaemon() {
  const socket = createSocket('udp4');
  const documents: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (message) => {
    const [header, body] = message.toString('utf8').split('\n');
    expect(JSON.parse(header ?? '')).toEqual({ format: 'json', version: 1 });
    documents.push(JSON.parse(body ?? ''));
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  closers.push(() => socket.close());
  const { port } = socket.address() as AddressInfo;
  const received = async (count: number) => {
    while (documents.length < count) await new Promise<void>((wake) => waiters.push(wake));
    return documents;
  };
  return { address: `127.0.0.1:${port}`, received };
}

function recordingTracer(env: Record<string, string | undefined>) {
  const documents: Record<string, unknown>[] = [];
  const tracer = new XRayTracer({
    serviceName: 'sora-pipeline',
    env,
    send: (document) => documents.push(document),
  });
  return { tracer, documents };
}

describe('XRayTracer', () => {
  it('sends the invocation as a "## name" subsegment of Lambda\'s segment, with ColdStart and Service', async () => {
    const daemon = await fakeDaemon();
    const env = { ...LAMBDA, AWS_XRAY_DAEMON_ADDRESS: daemon.address };
    const tracer = new XRayTracer({ serviceName: 'sora-pipeline', env, send: udpSender(env) });

    await tracer.traceInvocation('poll-provider-job', async () => {
      tracer.putAnnotation('jobId', 'job_1');
    });
    await tracer.traceInvocation('poll-provider-job', async () => {});

    const [first, second] = await daemon.received(2);
    expect(first).toMatchObject({
      type: 'subsegment',
      name: '## poll-provider-job',
      trace_id: '1-5759e988-bd862e3fe1be46a994272793',
      parent_id: '53995c3f42cd8ad8',
      annotations: { ColdStart: true, Service: 'sora-pipeline', jobId: 'job_1' },
    });
    expect(Number(first?.end_time)).toBeGreaterThanOrEqual(Number(first?.start_time));
    expect(second?.annotations).toEqual({ ColdStart: false, Service: 'sora-pipeline' });
  });

  it('records the error that ended an invocation as a fault, and rethrows it', async () => {
    const { tracer, documents } = recordingTracer(LAMBDA);
    const failure = new TypeError('boom');

    await expect(tracer.traceInvocation('api', async () => Promise.reject(failure))).rejects.toBe(
      failure,
    );

    expect(documents[0]).toMatchObject({
      fault: true,
      cause: { exceptions: [{ type: 'TypeError', message: 'boom' }] },
    });
  });

  it('traces each SDK call as an aws subsegment under the invocation', async () => {
    const { tracer, documents } = recordingTracer(LAMBDA);
    const client = tracer.captureAWSv3Client(failingDynamoDb().client);

    await tracer.traceInvocation('api', async () => {
      await client
        .send(new GetItemCommand({ TableName: 'jobs', Key: { pk: { S: 'x' } } }))
        .catch(() => undefined);
    });

    const [call, invocation] = documents;
    expect(call).toMatchObject({
      name: 'DynamoDB',
      namespace: 'aws',
      parent_id: invocation?.id,
      trace_id: invocation?.trace_id,
      aws: { operation: 'GetItem', request_id: 'req-1' },
      http: { response: { status: 400 } },
      error: true,
      cause: { exceptions: [{ type: 'ResourceNotFoundException' }] },
    });
    expect(call).not.toHaveProperty('fault');
  });

  it("hands the trace on to each SDK call's service, with the call's subsegment as parent", async () => {
    // As in Lambda: the SDK's own trace middleware would set the function's segment as parent.
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'api');
    vi.stubEnv('_X_AMZN_TRACE_ID', TRACE);
    const { tracer, documents } = recordingTracer(LAMBDA);
    const dynamo = failingDynamoDb();
    const client = tracer.captureAWSv3Client(dynamo.client);

    await tracer.traceInvocation('api', async () => {
      await client
        .send(new GetItemCommand({ TableName: 'jobs', Key: { pk: { S: 'x' } } }))
        .catch(() => undefined);
    });

    const [call] = documents;
    expect(dynamo.traceHeaders).toEqual([
      `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${String(call?.id)};Sampled=1`,
    ]);
  });

  it('hands an unsampled trace on as the runtime gave it, and sends nothing', async () => {
    const unsampled = `${TRACE.replace('Sampled=1', 'Sampled=0')};Lineage=a87bd80c:0`;
    const { tracer, documents } = recordingTracer({ ...LAMBDA, _X_AMZN_TRACE_ID: unsampled });
    const dynamo = failingDynamoDb();
    const client = tracer.captureAWSv3Client(dynamo.client);
    const seen: (string | null)[] = [];
    const fetch = tracedFetch(tracer, async (input, init) => {
      seen.push(new Request(input, init).headers.get('x-amzn-trace-id'));
      return new Response('ok');
    });

    await tracer.traceInvocation('api', async () => {
      await client
        .send(new GetItemCommand({ TableName: 'jobs', Key: { pk: { S: 'x' } } }))
        .catch(() => undefined);
      await fetch('https://provider.example.com/v1/videos');
    });

    expect(dynamo.traceHeaders).toEqual([unsampled]);
    expect(seen).toEqual([unsampled]);
    expect(documents).toEqual([]);
  });

  it("hands the trace on to the provider, with the call's subsegment as parent", async () => {
    const { tracer, documents } = recordingTracer(LAMBDA);
    const seen: Headers[] = [];
    const fetch = tracedFetch(tracer, async (input, init) => {
      seen.push(new Request(input, init).headers);
      return new Response('ok');
    });

    await tracer.traceInvocation('poll-provider-job', async () => {
      await fetch('https://provider.example.com/v1/videos/v1', {
        headers: { authorization: 'Bearer sk-test' },
      });
    });
    await fetch('https://provider.example.com/v1/videos/v1');

    const [call] = documents;
    expect(seen[0]?.get('x-amzn-trace-id')).toBe(
      `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${String(call?.id)};Sampled=1`,
    );
    // The request's own headers are kept.
    expect(seen[0]?.get('authorization')).toBe('Bearer sk-test');
    // Outside an invocation there is no trace to hand on.
    expect(seen[1]?.has('x-amzn-trace-id')).toBe(false);
  });

  it('reads the trace header the runtime keeps for the invocation before _X_AMZN_TRACE_ID', async () => {
    const perInvocation = TRACE.replace('53995c3f42cd8ad8', '0123456789abcdef');
    const store = await InvokeStore.getInstanceAsync();
    const key = InvokeStoreBase.PROTECTED_KEYS.X_RAY_TRACE_ID;
    try {
      const fromStore = await store.run({ [key]: perInvocation }, () =>
        runtimeTraceHeader({ _X_AMZN_TRACE_ID: TRACE }),
      );
      const fromEnv = await store.run({}, () => runtimeTraceHeader({ _X_AMZN_TRACE_ID: TRACE }));

      expect(fromStore).toBe(perInvocation);
      expect(fromEnv).toBe(TRACE);
    } finally {
      store.run({}, () => undefined);
    }
  });

  it('traces provider HTTP calls as remote subsegments named by host, without the query', async () => {
    const { tracer, documents } = recordingTracer(LAMBDA);
    const fetch = tracedFetch(tracer, async () => new Response('busy', { status: 503 }));

    await tracer.traceInvocation('poll-provider-job', async () => {
      await fetch('https://provider.example.com/v1/videos?after=cursor');
    });

    expect(documents[0]).toMatchObject({
      name: 'provider.example.com',
      namespace: 'remote',
      http: {
        request: { method: 'GET', url: 'https://provider.example.com/v1/videos' },
        response: { status: 503 },
      },
      fault: true,
    });
  });

  it('sends nothing for an unsampled invocation, outside Lambda, or when turned off', async () => {
    for (const env of [
      { ...LAMBDA, _X_AMZN_TRACE_ID: TRACE.replace('Sampled=1', 'Sampled=0') },
      { _X_AMZN_TRACE_ID: TRACE },
      { ...LAMBDA, POWERTOOLS_TRACE_ENABLED: 'false' },
    ]) {
      const { tracer, documents } = recordingTracer(env);

      await tracer.traceInvocation('api', async () => {
        await tracer.traceCall('DynamoDB', 'aws', async () => undefined);
      });

      expect(documents).toEqual([]);
    }
  });
});

/**
 * A DynamoDB client whose requests never leave the process: each answers 400 (no table) and
 * leaves its X-Amzn-Trace-Id header in `traceHeaders`.
 */
function failingDynamoDb() {
  const traceHeaders: (string | undefined)[] = [];
  const client = new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { headers: Record<string, string> }) => {
        traceHeaders.push(request.headers['X-Amzn-Trace-Id']);
        return {
          response: {
            statusCode: 400,
            headers: { 'x-amzn-requestid': 'req-1' },
            body: Buffer.from(
              JSON.stringify({ __type: 'ResourceNotFoundException', message: 'no table' }),
            ),
          },
        };
      },
    },
  });
  return { client, traceHeaders };
}

describe('trace header and daemon address', () => {
  it('parses the Lambda trace header', () => {
    expect(parseTraceHeader(TRACE)).toEqual({
      root: '1-5759e988-bd862e3fe1be46a994272793',
      parent: '53995c3f42cd8ad8',
      sampled: true,
    });
    expect(parseTraceHeader('Root=1-abc')).toBeUndefined();
  });

  it('reads both forms of AWS_XRAY_DAEMON_ADDRESS', () => {
    expect(daemonAddress('169.254.79.129:2000')).toEqual({ host: '169.254.79.129', port: 2000 });
    expect(daemonAddress('tcp:10.0.0.1:2001 udp:10.0.0.2:2002')).toEqual({
      host: '10.0.0.2',
      port: 2002,
    });
    expect(daemonAddress(undefined)).toEqual({ host: '127.0.0.1', port: 2000 });
  });
});
