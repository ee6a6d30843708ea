import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../functions/api/openapi.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { eventually, type StackClient, sha256, stackClient } from './local-stack-client.ts';

// A 4 s sora-2 clip renders for about a minute in the simulator: a bit over 1 s at this speed,
// and the rate-limit window (one simulated minute) is 1.2 s.
const SPEED = 50;
const CONTENT_BYTES = 6 * 1024 * 1024;

let stack: LocalStack;
let client: StackClient;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    speed: SPEED,
    // Larger than one multipart part, so the download exercises a real multipart upload.
    simulator: { contentSizeBytes: CONTENT_BYTES },
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  client = stackClient(stack);
});

afterAll(async () => {
  await stack?.stop();
  // This stack runs its own DynamoDB Local, a java child process: nothing of it may outlive it.
  const { pid } = stack.dynamoDb;
  expect(pid).toBeTypeOf('number');
  expect(() => process.kill(pid ?? 0, 0)).toThrow();
});

/** The provider's own bytes for a video, straight from the simulator. */
async function providerContent(providerJobId: string): Promise<Buffer> {
  const simulator = stack.simulator;
  if (!simulator) throw new Error('the e2e stack runs the simulator');
  const response = await fetch(`${simulator.baseURL}/videos/${providerJobId}/content`, {
    headers: { authorization: `Bearer ${simulator.knobs.apiKey}` },
  });
  return Buffer.from(await response.arrayBuffer());
}

describe('a job submitted over HTTP', () => {
  it('reaches COMPLETED with the provider bytes in S3 and a matching DynamoDB record', async () => {
    const jobId = await client.submit({
      prompt: 'A lighthouse at dawn',
      seconds: '8',
      size: '1280x720',
    });

    const execution = await client.executionEnd(jobId);
    const view = await client.api('GET', `/videos/${jobId}`);
    const record = await client.jobRecord(jobId);
    const result = record?.result as { bucket: string; key: string; bytes: number; sha256: string };
    const stored = await client.objectBytes(result.key);
    const served = await providerContent(String(record?.providerJobId));

    expect(execution.status).toBe('SUCCEEDED');
    expect(view.body).toMatchObject({
      id: jobId,
      status: 'COMPLETED',
      progress: 100,
      video: { bytes: CONTENT_BYTES, sha256: sha256(served), contentType: 'video/mp4' },
    });
    expect(stored.length).toBe(CONTENT_BYTES);
    expect(sha256(stored)).toBe(sha256(served));
    expect(record).toMatchObject({
      jobId,
      status: 'COMPLETED',
      source: 'api',
      prompt: 'A lighthouse at dawn',
      model: 'sora-2',
      size: '1280x720',
      seconds: '8',
      providerStatus: 'completed',
      result: { bucket: stack.bucket, bytes: CONTENT_BYTES, sha256: sha256(served) },
    });
  });

  it('serves the stored video through GET /videos/{id}/content', async () => {
    const jobId = await client.submit({ prompt: 'A paper boat in the rain' });
    await client.executionEnd(jobId);
    const record = await client.jobRecord(jobId);

    const link = await fetch(`${stack.apiUrl}/videos/${jobId}/content`, {
      headers: stack.headers,
      redirect: 'manual',
    });
    const location = link.headers.get('location') ?? '';
    const video = Buffer.from(await (await fetch(location)).arrayBuffer());

    expect(link.status).toBe(302);
    expect(sha256(video)).toBe((record?.result as { sha256?: string } | undefined)?.sha256);
  });
});

describe('a job the provider refuses', () => {
  it('ends FAILED with the moderation reason and leaves nothing in S3', async () => {
    const marker = stack.simulator?.knobs.moderationMarker ?? '';
    const jobId = await client.submit({ prompt: `A street fight ${marker}` });

    const execution = await client.executionEnd(jobId);
    const view = await client.api('GET', `/videos/${jobId}`);

    expect(execution.status).toBe('FAILED');
    expect(view.body).toMatchObject({
      status: 'FAILED',
      error: { code: 'moderation_blocked', retryable: false },
    });
    expect((view.body as { error: { message: string } }).error.message).toMatch(/moderation/i);
    expect(await client.objectKeys(`videos/${jobId}`)).toEqual([]);
  });
});

describe('a provider answering 429 and 5xx for a while', () => {
  it('still completes every job', async () => {
    const simulator = stack.simulator;
    if (!simulator) throw new Error('the e2e stack runs the simulator');
    const before = simulator.stats;
    simulator.configure({ requestsPerMinute: 1, failNextRequests: 2 });

    const jobIds = await Promise.all([
      client.submit({ prompt: 'A fox in the snow' }),
      client.submit({ prompt: 'A heron at the lake' }),
    ]);
    // Both creates land inside one rate window: one of them is refused with a 429.
    await eventually(() => simulator.stats.rateLimited > before.rateLimited);
    simulator.configure({ requestsPerMinute: null });
    // A refused create (the 429, an answered 5xx) sends its job back to the queue: a later
    // execution creates it. The jobs end when their records say so.
    const records = await client.jobsEnded(jobIds);

    expect(records.map((record) => record?.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(simulator.stats.serverErrors - before.serverErrors).toBeGreaterThanOrEqual(2);
    // One paid job each, whatever the retries.
    expect(simulator.stats.creates - before.creates).toBe(2);
  });
});

describe('requests the API refuses', () => {
  it('start nothing when unauthenticated (401) or with a wrong token (403)', async () => {
    const executions = client.executionCount();
    const jobs = await client.jobCount();

    const missing = await client.api('POST', '/videos', {
      body: { prompt: 'A cat' },
      headers: {},
    });
    const wrong = await client.api('POST', '/videos', {
      body: { prompt: 'A cat' },
      headers: { authorization: 'Bearer not-the-token' },
    });

    expect(missing).toEqual({ status: 401, body: { message: 'Unauthorized' } });
    expect(wrong).toEqual({ status: 403, body: { message: 'Forbidden' } });
    expect(client.executionCount()).toBe(executions);
    expect(await client.jobCount()).toBe(jobs);
  });

  it('start nothing when the body is not declared JSON (415)', async () => {
    const jobs = await client.jobCount();

    const asText = await client.api('POST', '/videos', {
      rawBody: JSON.stringify({ prompt: 'A cat' }),
      headers: { ...stack.headers, 'content-type': 'text/plain' },
    });

    expect(asText).toMatchObject({
      status: 415,
      body: { error: { code: 'unsupported_media_type' } },
    });
    expect(await client.jobCount()).toBe(jobs);
  });

  it('start nothing when malformed (400), naming the bad field', async () => {
    const executions = client.executionCount();
    const jobs = await client.jobCount();

    const notJson = await client.api('POST', '/videos', {
      rawBody: '{"prompt":',
      headers: { ...stack.headers, 'content-type': 'application/json' },
    });
    const badSeconds = await client.api('POST', '/videos', {
      body: { prompt: 'A cat', seconds: '5' },
    });
    const noPrompt = await client.api('POST', '/videos', { body: { seconds: '4' } });

    expect(notJson.status).toBe(400);
    expect(badSeconds).toMatchObject({ status: 400, body: { error: { field: 'seconds' } } });
    expect(noPrompt).toMatchObject({ status: 400, body: { error: { field: 'prompt' } } });
    expect(client.executionCount()).toBe(executions);
    expect(await client.jobCount()).toBe(jobs);
  });
});

describe('the API description', () => {
  it('is served unauthenticated at /openapi.json and is the document the schemas generate', async () => {
    const response = await fetch(`${stack.apiUrl}/openapi.json`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual(
      JSON.parse(JSON.stringify(openApiDocument({ serverUrl: stack.apiUrl }))),
    );
  });
});
