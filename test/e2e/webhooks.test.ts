import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { now } from '../../functions/shared/clock.ts';
import { DynamoJobStore } from '../../functions/shared/jobs/dynamo-job-store.ts';
import { newJobId } from '../../functions/shared/jobs/job-id.ts';
import type { SchedulerSummary } from '../../functions/shared/scheduler/run-scheduler.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { localDocuments } from '../support/dynamodb-local.ts';
import { aJob } from '../support/job-fixtures.ts';
import { clientHeaders, type StackClient, stackClient } from './local-stack-client.ts';

// Signed webhook deliveries from the local stack to a receiver on 127.0.0.1, verified with the
// `standardwebhooks` package (not our signer) and the secret GET /webhooks/secret publishes.
const SPEED = 50;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

let stack: LocalStack;
let client: StackClient;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
const refusedOnce = new Set<string>();

beforeAll(async () => {
  // The receiver answers the first attempt of each completed-event delivery with a 500.
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(request.headers['webhook-id']);
      const refuse = id.endsWith('video_completed') && !refusedOnce.has(id);
      if (refuse) refusedOnce.add(id);
      const answered = refuse ? 500 : 204;
      received.push({ headers: request.headers, body, answered });
      response.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    clients: ['alice', 'bob'],
    scheduleTimer: false,
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  client = stackClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

const as = (name: string) => clientHeaders(stack, name);

/** The jobs table of the stack, for records a test writes as an earlier run would have left them. */
function jobStore(): DynamoJobStore {
  return new DynamoJobStore({
    client: localDocuments(stack.dynamodbEndpoint),
    tableName: stack.table,
  });
}

/** The Standard Webhooks headers of a delivery, as a verifier takes them. */
function signatureHeaders(delivery: Received | undefined): Record<string, string> {
  return {
    'webhook-id': String(delivery?.headers['webhook-id']),
    'webhook-timestamp': String(delivery?.headers['webhook-timestamp']),
    'webhook-signature': String(delivery?.headers['webhook-signature']),
  };
}

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('webhooks', () => {
  it('delivers signed events that verify with the published secret, retrying a 500 under the same webhook-id', async () => {
    const { body: secret } = await client.api('GET', '/webhooks/secret', { headers: as('alice') });
    const { body: bobsSecret } = await client.api('GET', '/webhooks/secret', {
      headers: as('bob'),
    });
    const { status, body } = await client.api('POST', '/videos', {
      headers: as('alice'),
      body: {
        prompt: 'A kite over the dunes',
        seconds: '4',
        webhook: { url: receiverUrl, events: ['video.started', 'video.completed'] },
      },
    });
    const jobId = (body as { id: string }).id;
    await client.executionEnd(jobId);
    const completed = await until(
      () => received.filter((delivery) => delivery.headers['webhook-id']?.includes(jobId)),
      (deliveries) =>
        deliveries.some((d) => d.answered === 204 && JSON.parse(d.body).type === 'video.completed'),
    );
    const view = await until(
      () => client.api('GET', `/videos/${jobId}`, { headers: as('alice') }),
      ({ body: job }) =>
        (job as { webhook?: { lastDelivery?: { status: string } } }).webhook?.lastDelivery
          ?.status === 'delivered',
    );

    expect(status).toBe(202);
    const key = (secret as { key: string }).key;
    expect(key).toMatch(/^whsec_/);
    expect((bobsSecret as { key: string }).key).not.toBe(key);
    const verifier = new Webhook(key);
    const bobsVerifier = new Webhook((bobsSecret as { key: string }).key);
    const types: string[] = [];
    for (const delivery of completed) {
      const headers = signatureHeaders(delivery);
      const payload = verifier.verify(delivery.body, headers) as {
        type: string;
        data: { id: string };
      };
      expect(() => bobsVerifier.verify(delivery.body, headers)).toThrow();
      expect(payload.data.id).toBe(jobId);
      types.push(`${payload.type}:${delivery.answered}`);
    }
    expect(types).toEqual(['video.started:204', 'video.completed:500', 'video.completed:204']);
    const completedIds = completed
      .filter((delivery) => JSON.parse(delivery.body).type === 'video.completed')
      .map((delivery) => delivery.headers['webhook-id']);
    expect(new Set(completedIds).size).toBe(1);
    expect(view.body).toMatchObject({
      status: 'COMPLETED',
      webhook: {
        url: receiverUrl,
        lastDelivery: {
          event: 'video.completed',
          status: 'delivered',
          attempts: 2,
          httpStatus: 204,
        },
      },
    });
  });

  it('announces video.failed of a job the scheduler sweep closes (its execution is gone)', async () => {
    const { body: secret } = await client.api('GET', '/webhooks/secret', { headers: as('alice') });
    // A job started long ago whose execution no longer exists and that holds no provider job:
    // the sweep can only close it as FAILED execution_lost.
    const jobId = newJobId();
    await jobStore().create(
      aJob({
        jobId,
        client: 'alice',
        status: 'IN_PROGRESS',
        executionName: jobId,
        webhook: { url: receiverUrl, events: ['video.failed'] },
      }),
    );

    const summary = (await stack.runScheduler()) as SchedulerSummary;
    const [delivery] = await until(
      () => received.filter((found) => found.headers['webhook-id'] === `msg_${jobId}_video_failed`),
      (deliveries) => deliveries.length > 0,
    );

    expect(summary.reconciled).toContain(jobId);
    const payload = new Webhook((secret as { key: string }).key).verify(
      delivery?.body ?? '',
      signatureHeaders(delivery),
    );
    expect(payload).toMatchObject({
      type: 'video.failed',
      data: { id: jobId, status: 'FAILED', error: { code: 'execution_lost' } },
    });
  });

  it('queues again the ending of a job whose delivery was never queued (the scheduler backstop)', async () => {
    const { body: secret } = await client.api('GET', '/webhooks/secret', { headers: as('alice') });
    // A job that completed ten minutes ago (on the stack's clock) and asked for video.completed,
    // whose record shows no delivery: its own queueing was lost.
    const jobId = newJobId();
    const endedAt = new Date(now().getTime() - 10 * 60_000).toISOString();
    await jobStore().create(
      aJob({
        jobId,
        client: 'alice',
        status: 'COMPLETED',
        progress: 100,
        completedAt: endedAt,
        updatedAt: endedAt,
        webhook: { url: receiverUrl, events: ['video.completed'] },
      }),
    );

    const summary = (await stack.runScheduler()) as SchedulerSummary;
    const delivered = await until(
      () =>
        received.filter(
          (found) =>
            found.headers['webhook-id'] === `msg_${jobId}_video_completed` &&
            found.answered === 204,
        ),
      (deliveries) => deliveries.length > 0,
    );

    expect(summary.webhooksRequeued).toEqual([jobId]);
    const [delivery] = delivered;
    const payload = new Webhook((secret as { key: string }).key).verify(
      delivery?.body ?? '',
      signatureHeaders(delivery),
    );
    expect(payload).toMatchObject({
      type: 'video.completed',
      timestamp: endedAt,
      data: { id: jobId, status: 'COMPLETED' },
    });
  });

  it('refuses a webhook URL that is neither https nor this machine', async () => {
    const response = await client.api('POST', '/videos', {
      headers: as('alice'),
      body: { prompt: 'A kite', webhook: { url: 'http://169.254.169.254/latest/meta-data' } },
    });

    expect(response).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request', field: 'webhook.url' } },
    });
  });

  it.each([
    ['TypeScript', process.execPath, 'webhook-receiver.ts'],
    ['Python', 'python3', 'webhook-receiver.py'],
  ])('verifies deliveries with the guide’s %s receiver', async (_language, command, file) => {
    const { body: secret } = await client.api('GET', '/webhooks/secret', { headers: as('alice') });
    const receiverProcess: ChildProcess = spawn(
      command,
      [fileURLToPath(new URL(`../../docs/examples/${file}`, import.meta.url))],
      {
        env: { ...process.env, WEBHOOK_SECRET: (secret as { key: string }).key, PORT: '0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    receiverProcess.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      const port = await until(
        () => /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(output)?.[1],
        (found) => found !== undefined,
      );
      const { body } = await client.api('POST', '/videos', {
        headers: as('alice'),
        body: {
          prompt: `A receiver test in ${file}`,
          webhook: { url: `http://127.0.0.1:${port}/` },
        },
      });
      const jobId = (body as { id: string }).id;

      await until(
        () => output,
        (text) => text.includes(`verified video.completed ${jobId} COMPLETED`),
      );
    } finally {
      receiverProcess.kill();
    }
  });
});
