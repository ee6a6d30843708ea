import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import type { RunningSimulator } from '../../infra/local/simulator/simulator.ts';
import { eventually, type StackClient, sha256, stackClient } from './local-stack-client.ts';

// A 5 s Ray2 clip renders for about 90 simulated seconds: under 2 s at this speed.
const SPEED = 50;
const CONTENT_BYTES = 6 * 1024 * 1024;
const RAY2 = 'luma.ray-v2:0';

let stack: LocalStack;
let client: StackClient;
let simulator: RunningSimulator;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    // Larger than one multipart part: the move to the video's key is a real multipart upload.
    simulator: { contentSizeBytes: CONTENT_BYTES },
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  client = stackClient(stack);
  if (!stack.simulator) throw new Error('the e2e stack runs the simulator');
  simulator = stack.simulator;
});

afterAll(async () => {
  await stack?.stop();
  // On the run's shared DynamoDB Local its jobs table goes with it; the JVM serves the others on.
  expect(stack.dynamoDb.pid).toBeUndefined();
  const dynamoDb = new DynamoDBClient({
    endpoint: stack.dynamoDb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const { TableNames = [] } = await dynamoDb.send(new ListTablesCommand({}));
    expect(TableNames).not.toContain(stack.table);
    expect(stack.table).toMatch(/^stack-[0-9a-f]{8}-/);
  } finally {
    dynamoDb.destroy();
  }
});

const invocationsOf = (jobId: string) =>
  simulator.stats.bedrockInvocations.filter(
    (invocation) => invocation.clientRequestToken === jobId.replace('_', '-'),
  );

describe('a Luma Ray2 job on Bedrock (the simulator)', () => {
  it('completes: one invocation, its MP4 verified and moved to the video key', async () => {
    const jobId = await client.submit({ prompt: 'A cat playing piano', model: RAY2 });

    const execution = await client.executionEnd(jobId);
    const record = await client.jobRecord(jobId);
    const result = record?.result as { key: string; bytes: number; sha256: string };
    const stored = await client.objectBytes(result.key);
    const [invocation, ...others] = invocationsOf(jobId);

    expect(execution.status).toBe('SUCCEEDED');
    expect(others).toEqual([]);
    expect(invocation).toMatchObject({
      status: 'Completed',
      s3Uri: `s3://${stack.bucket}/bedrock-output/${jobId}/`,
      size: '1280x720',
      seconds: '5',
    });
    expect(record).toMatchObject({
      status: 'COMPLETED',
      model: RAY2,
      providerJobId: invocation?.invocationArn,
      providerStatus: 'completed',
      actualCostUsd: 7.5,
      result: { bucket: stack.bucket, bytes: CONTENT_BYTES },
    });
    expect(stored.length).toBe(CONTENT_BYTES);
    expect(sha256(stored)).toBe(result.sha256);
    // Moved, not copied: Bedrock's object is gone once the video is at its key.
    expect(await client.objectKeys(`bedrock-output/${jobId}/`)).toEqual([]);
  });

  it('rides out injected 5xx, throttling and a lost create answer with one invocation', async () => {
    const before = simulator.stats;
    simulator.configure({ failNextRequests: 4, requestsPerMinute: 1, dropNextCreateResponses: 1 });
    try {
      const jobIds = await Promise.all([
        client.submit({ prompt: 'A fox in the snow', model: RAY2, size: '960x540' }),
        client.submit({ prompt: 'A heron at the lake', model: RAY2, seconds: '9' }),
      ]);
      await eventually(() => simulator.stats.rateLimited > before.rateLimited);
      simulator.configure({ requestsPerMinute: null });
      // A refused create (a 5xx, the throttling) sends its job back to the queue: a later
      // execution invokes it. The jobs end when their records say so.
      const records = await client.jobsEnded(jobIds);

      expect(records.map((record) => record?.status)).toEqual(['COMPLETED', 'COMPLETED']);
      expect(simulator.stats.serverErrors - before.serverErrors).toBeGreaterThanOrEqual(4);
      expect(simulator.stats.droppedCreateResponses - before.droppedCreateResponses).toBe(1);
      // One paid invocation per job, whatever the retries: the clientRequestToken holds.
      expect(jobIds.map((jobId) => invocationsOf(jobId).length)).toEqual([1, 1]);
      expect(records.map((record) => record?.actualCostUsd)).toEqual([3.75, 13.5]);
    } finally {
      simulator.configure({ failNextRequests: 0, requestsPerMinute: null });
    }
  });

  it('ends FAILED with the reason when the render fails, and stores nothing', async () => {
    const jobId = await client.submit({
      prompt: `A storm ${simulator.knobs.renderFailureMarker}`,
      model: RAY2,
    });

    const execution = await client.executionEnd(jobId);
    const view = await client.api('GET', `/videos/${jobId}`);

    expect(execution.status).toBe('FAILED');
    expect(view.body).toMatchObject({
      status: 'FAILED',
      error: { code: 'video_generation_failed' },
    });
    expect(await client.objectKeys(`videos/${jobId}`)).toEqual([]);
  });

  it('ends FAILED as moderation_blocked when Bedrock refuses the prompt', async () => {
    const jobId = await client.submit({
      prompt: `A street fight ${simulator.knobs.moderationMarker}`,
      model: RAY2,
    });

    const execution = await client.executionEnd(jobId);
    const view = await client.api('GET', `/videos/${jobId}`);

    expect(execution.status).toBe('FAILED');
    expect(view.body).toMatchObject({
      status: 'FAILED',
      error: { code: 'moderation_blocked', retryable: false },
    });
    expect(invocationsOf(jobId)).toEqual([]);
  });

  it('refuses what Ray2 cannot render before anything starts, naming the field', async () => {
    const executions = client.executionCount();
    const invocations = simulator.stats.bedrockInvocations.length;

    const badSize = await client.api('POST', '/videos', {
      body: { prompt: 'A cat', model: RAY2, size: '1920x1080' },
    });
    const badSeconds = await client.api('POST', '/videos', {
      body: { prompt: 'A cat', model: RAY2, seconds: '4' },
    });

    expect(badSize).toMatchObject({ status: 400, body: { error: { field: 'size' } } });
    expect(badSeconds).toMatchObject({ status: 400, body: { error: { field: 'seconds' } } });
    expect(client.executionCount()).toBe(executions);
    expect(simulator.stats.bedrockInvocations).toHaveLength(invocations);
  });

  it('tells clients where Bedrock runs (stack.json bedrockEndpoint)', () => {
    expect(stack.info().bedrockEndpoint).toBe(simulator.bedrockEndpoint);
  });
});
