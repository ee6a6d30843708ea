import { createHash } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SchedulerSummary } from '../../functions/shared/scheduler/run-scheduler.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import { lastNoonUtc } from '../support/clock-start.ts';
import { blackPng } from '../support/png.ts';
import { clientHeaders, type StackClient, stackClient } from './local-stack-client.ts';

// Cancel, batches and clients through the local stack's HTTP API, on one concurrency slot so a
// second job waits parked. A 4 s clip renders in about a simulated minute: a second here; a 12 s
// sora-2-pro clip (the one cancelled while it renders) for five minutes: six seconds here.
const SPEED = 50;

let stack: LocalStack;
let client: StackClient;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    // The usage checks count today's jobs: start far from midnight so the test stays in one day.
    clockStartMs: lastNoonUtc(),
    clients: ['alice', 'bob'],
    context: { 'limits:maxConcurrentJobs': '1' },
    scheduleTimer: false,
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  client = stackClient(stack);
});

afterAll(async () => {
  await stack?.stop();
});

/** Headers of a named client of the stack. */
const as = (name: string) => clientHeaders(stack, name);

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const creates = () => stack.simulator?.stats.creates ?? Number.NaN;

describe('cancel', () => {
  it('cancels a waiting job with no provider call, and a running one frees its slot for the next', async () => {
    const alice = as('alice');
    const submit = async (prompt: string, model = 'sora-2') => {
      const { status, body } = await client.api('POST', '/videos', {
        body: { prompt, model, seconds: model === 'sora-2' ? '4' : '12' },
        headers: alice,
      });
      expect(status).toBe(202);
      return body as { id: string; deferred: boolean; deferredReason?: string };
    };
    const running = await submit(
      'A lighthouse in a storm, to be cancelled while it renders',
      'sora-2-pro',
    );
    await until(
      () => client.jobRecord(running.id),
      (record) => record?.providerJobId !== undefined,
    );
    const waiting = await submit('A harbour at night, to be cancelled while it waits');
    // Its workflow's AdmitJob step finds the one slot taken and parks it in alice's queue.
    const parked = await until(
      () => client.jobRecord(waiting.id),
      (record) => record?.deferredReason === 'capacity',
    );
    const createsBefore = creates();

    const cancelWaiting = await client.api('POST', `/videos/${waiting.id}/cancel`, {
      headers: alice,
    });
    const cancelRunning = await client.api('POST', `/videos/${running.id}/cancel`, {
      headers: alice,
    });
    const execution = await client.executionEnd(running.id);
    const next = await submit('A field of sunflowers, started on the freed slot');
    const nextExecution = await client.executionEnd(next.id);
    const again = await client.api('POST', `/videos/${waiting.id}/cancel`, { headers: alice });

    expect(parked).toMatchObject({ status: 'QUEUED', deferred: true, deferredReason: 'capacity' });
    expect(cancelWaiting).toMatchObject({ status: 200, body: { status: 'CANCELLED' } });
    expect(cancelRunning).toMatchObject({ status: 200, body: { status: 'CANCELLED' } });
    expect(execution.status).toBe('ABORTED');
    expect(next.deferred).toBe(false);
    expect(nextExecution.status).toBe('SUCCEEDED');
    // The waiting job never reached the provider; only the next one did.
    expect(creates()).toBe(createsBefore + 1);
    expect(await client.jobRecord(waiting.id)).not.toHaveProperty('createAttemptedAt');
    expect(again).toMatchObject({ status: 200, body: { status: 'CANCELLED' } });
    const usage = await client.api('GET', '/usage', { headers: as('admin') });
    expect(usage.body).toMatchObject({ concurrency: { inUse: 0 }, jobs: { completed: 2 } });
  });

  it('refuses to cancel a completed job with 409', async () => {
    const jobId = await client.submit({ prompt: 'A short clip that finishes', seconds: '4' });
    await client.executionEnd(jobId);

    const response = await client.api('POST', `/videos/${jobId}/cancel`);

    expect(response).toMatchObject({
      status: 409,
      body: { error: { code: 'video_not_cancellable' } },
    });
  });
});

describe('batches', () => {
  it('lists the jobs of a dropped file by its batch id and cancels the waiting ones', async () => {
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
    });
    const lines = [0, 1, 2].map((i) => JSON.stringify({ prompt: `Batch clip ${i}` }));
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'batches/cancel-me.jsonl',
        Body: lines.join('\n'),
      }),
    );
    await stack.whenEventsIdle();
    const listed = await until(
      () => client.api('GET', '/videos?limit=100'),
      ({ body }) =>
        (body as { videos: { prompt: string }[] }).videos.some((v) => v.prompt === 'Batch clip 0'),
    );
    const batchId = (listed.body as { videos: { prompt: string; batchId?: string }[] }).videos.find(
      (video) => video.prompt === 'Batch clip 0',
    )?.batchId;
    const createsBefore = creates();

    const batch = await client.api('GET', `/videos?batch=${batchId}`);
    const cancelled = await client.api('POST', `/batches/${batchId}/cancel`);
    const summary = (await stack.runScheduler()) as SchedulerSummary;

    expect(batchId).toMatch(/^batch_/);
    expect((batch.body as { videos: unknown[] }).videos).toHaveLength(3);
    expect(cancelled.body).toMatchObject({ batchId, more: false });
    expect((cancelled.body as { cancelled: string[] }).cancelled).toHaveLength(3);
    expect(summary.started).toEqual([]);
    expect(creates()).toBe(createsBefore);
  });
});

describe('clients', () => {
  it("keeps each client's jobs and Idempotency-Keys to itself; the admin sees all", async () => {
    const request = { prompt: 'A paper boat on a river', seconds: '4', defer: true };
    const headers = (name: string) => ({ ...as(name), 'Idempotency-Key': 'same-key' });

    const alice = await client.api('POST', '/videos', { body: request, headers: headers('alice') });
    const bob = await client.api('POST', '/videos', { body: request, headers: headers('bob') });
    const aliceId = (alice.body as { id: string }).id;
    const bobsView = await client.api('GET', `/videos/${aliceId}`, { headers: as('bob') });
    const bobsCancel = await client.api('POST', `/videos/${aliceId}/cancel`, {
      headers: as('bob'),
    });
    const bobsList = await client.api('GET', '/videos?limit=100', { headers: as('bob') });
    const adminsView = await client.api('GET', `/videos/${aliceId}`, { headers: as('admin') });

    expect([alice.status, bob.status]).toEqual([202, 202]);
    expect((bob.body as { id: string }).id).not.toBe(aliceId);
    expect(bob.body).toMatchObject({ client: 'bob' });
    expect(bobsView.status).toBe(404);
    expect(bobsCancel.status).toBe(404);
    const bobsIds = (bobsList.body as { videos: { id: string; client: string }[] }).videos;
    expect(bobsIds.every((video) => video.client === 'bob')).toBe(true);
    expect(adminsView).toMatchObject({ status: 200, body: { id: aliceId, client: 'alice' } });
  });
});

describe('remix', () => {
  it('remixes a completed video at the provider into a new job with its own video', async () => {
    const alice = as('alice');
    const { body: original } = await client.api('POST', '/videos', {
      body: { prompt: 'A red bicycle by a canal', seconds: '4', size: '1280x720' },
      headers: alice,
    });
    const sourceId = (original as { id: string }).id;
    await client.executionEnd(sourceId);

    const remix = await client.api('POST', `/videos/${sourceId}/remix`, {
      body: { prompt: 'The same bicycle in the snow' },
      headers: alice,
    });
    const remixId = (remix.body as { id: string }).id;
    const execution = await client.executionEnd(remixId);
    const view = await client.api('GET', `/videos/${remixId}`, { headers: alice });
    const source = await client.jobRecord(sourceId);
    const record = await client.jobRecord(remixId);
    const simulator = stack.simulator;
    if (!simulator) throw new Error('the e2e stack runs the simulator');
    const atProvider = await fetch(`${simulator.baseURL}/videos/${String(record?.providerJobId)}`, {
      headers: { authorization: `Bearer ${simulator.knobs.apiKey}` },
    }).then((response) => response.json() as Promise<{ remixed_from_video_id: string | null }>);
    const bobs = await client.api('POST', `/videos/${sourceId}/remix`, {
      body: { prompt: 'Not mine to remix' },
      headers: as('bob'),
    });

    expect(remix).toMatchObject({
      status: 202,
      body: { remixOf: sourceId, model: 'sora-2', size: '1280x720', seconds: '4' },
    });
    expect(execution.status).toBe('SUCCEEDED');
    expect(view.body).toMatchObject({ status: 'COMPLETED', remixOf: sourceId });
    expect(atProvider.remixed_from_video_id).toBe(source?.providerJobId);
    const key = (record?.result as { key: string } | undefined)?.key ?? '';
    expect(key).not.toBe((source?.result as { key: string } | undefined)?.key);
    expect((await client.objectBytes(key)).length).toBeGreaterThan(0);
    expect(bobs.status).toBe(404);
  });

  it('refuses to remix a video that is not completed, and a remix that changes the size', async () => {
    const alice = as('alice');
    const { body: waiting } = await client.api('POST', '/videos', {
      body: { prompt: 'Waits for the schedule', defer: true },
      headers: alice,
    });
    const id = (waiting as { id: string }).id;

    const notDone = await client.api('POST', `/videos/${id}/remix`, {
      body: { prompt: 'x' },
      headers: alice,
    });
    const resized = await client.api('POST', `/videos/${id}/remix`, {
      body: { prompt: 'x', size: '720x1280' },
      headers: alice,
    });

    expect(notDone).toMatchObject({
      status: 409,
      body: { error: { code: 'video_not_completed' } },
    });
    expect(resized).toMatchObject({ status: 400, body: { error: { field: 'size' } } });
  });
});

describe('image-to-video (input_reference)', () => {
  it('sends an uploaded image of the right size to the provider, and refuses a wrong one before any call', async () => {
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
    });
    const put = (key: string, body: Buffer) =>
      s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
    // An operator's uploads for the default client, under its prefix.
    await put('uploads/default/wide.png', blackPng(1280, 720));
    await put('uploads/default/tall.png', blackPng(720, 1280));
    const createsBefore = creates();

    const wrongSize = await client.api('POST', '/videos', {
      body: {
        prompt: 'From a still',
        size: '1280x720',
        input_reference: { key: 'uploads/default/tall.png' },
      },
    });
    const missing = await client.api('POST', '/videos', {
      body: {
        prompt: 'From a still',
        size: '1280x720',
        input_reference: { key: 'uploads/default/none.png' },
      },
    });
    const createsAfterRefusals = creates();
    const jobId = await client.submit({
      prompt: 'The still comes to life',
      size: '1280x720',
      seconds: '4',
      input_reference: { key: 'uploads/default/wide.png' },
    });
    const execution = await client.executionEnd(jobId);
    const record = await client.jobRecord(jobId);

    expect(wrongSize).toMatchObject({
      status: 400,
      body: { error: { field: 'input_reference.key' } },
    });
    expect(String((wrongSize.body as { error: { message: string } }).error.message)).toMatch(
      /720x1280.*1280x720/,
    );
    expect(missing).toMatchObject({
      status: 400,
      body: { error: { field: 'input_reference.key' } },
    });
    expect(createsAfterRefusals).toBe(createsBefore);
    expect(execution.status).toBe('SUCCEEDED');
    expect(record).toMatchObject({
      status: 'COMPLETED',
      inputReference: {
        key: 'uploads/default/wide.png',
        contentType: 'image/png',
        width: 1280,
        height: 720,
      },
    });
  });

  it("takes the image as the multipart file input_reference, stored under the client's uploads by its hash", async () => {
    const png = blackPng(720, 1280);
    const form = new FormData();
    form.set('prompt', 'A portrait still comes to life');
    form.set('seconds', '4');
    form.set('input_reference', new Blob([png], { type: 'image/png' }), 'portrait.png');
    // An image of another size (so another hash and key) for a 1280x720 video: refused.
    const wrongPng = blackPng(640, 480);
    const wrong = new FormData();
    wrong.set('prompt', 'Wrong size');
    wrong.set('size', '1280x720');
    wrong.set('input_reference', new Blob([wrongPng], { type: 'image/png' }), 'portrait.png');

    const response = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: stack.headers,
      body: form,
    });
    const refused = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: stack.headers,
      body: wrong,
    });
    const job = (await response.json()) as { id: string; size: string };
    const execution = await client.executionEnd(job.id);
    const record = await client.jobRecord(job.id);

    expect(response.status).toBe(202);
    expect(job.size).toBe('720x1280');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { field: 'input_reference' } });
    // Checked before it was stored: nothing of the refused image in uploads/.
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
    });
    const refusedKey = `uploads/default/sha256-${createHash('sha256').update(wrongPng).digest('hex')}.png`;
    await expect(
      s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: refusedKey })),
    ).rejects.toMatchObject({ name: 'NotFound' });
    expect(execution.status).toBe('SUCCEEDED');
    expect(record?.inputReference).toMatchObject({
      key: expect.stringMatching(/^uploads\/default\/sha256-[0-9a-f]{64}\.png$/),
      width: 720,
      height: 1280,
    });
  });
});

describe("clients' uploads", () => {
  const put = (key: string, body: Buffer) => {
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
    });
    return s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
  };
  const fromKey = (key: string) => ({
    prompt: 'From a still',
    size: '1280x720',
    seconds: '4',
    input_reference: { key },
  });
  /** The raw answer: status, content type and body text, with `key` written as KEY. */
  async function rawAnswer(headers: Record<string, string>, key: string) {
    const response = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(fromKey(key)),
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: (await response.text()).replaceAll(key, 'KEY'),
    };
  }

  it("refuses bob alice's uploads exactly as a missing key, and lets alice and an admin use them", async () => {
    const alice = as('alice');
    const bob = as('bob');
    // Alice sends an image with her request: stored under her prefix.
    const form = new FormData();
    form.set('prompt', 'Alice animates her still');
    form.set('size', '1280x720');
    form.set('seconds', '4');
    form.set('input_reference', new Blob([blackPng(1280, 720)], { type: 'image/png' }), 'a.png');
    const sent = await fetch(`${stack.apiUrl}/videos`, {
      method: 'POST',
      headers: alice,
      body: form,
    });
    const aliceJob = (await sent.json()) as { id: string };
    const aliceRecord = await client.jobRecord(aliceJob.id);
    const aliceKey = String((aliceRecord?.inputReference as { key?: unknown } | undefined)?.key);
    // An operator's upload for alice, and one of another size (its refusal would say so).
    await put('uploads/alice/operator.png', blackPng(1280, 720));
    await put('uploads/alice/portrait.png', blackPng(720, 1280));
    await put('uploads/shared/operator.png', blackPng(1280, 720));
    const createsBefore = creates();
    const bobsJobs = async () =>
      (
        (await client.api('GET', '/videos?limit=100', { headers: bob })).body as {
          videos: unknown[];
        }
      ).videos.length;
    const bobsJobsBefore = await bobsJobs();

    const missing = await rawAnswer(bob, 'uploads/bob/none.png');
    const probes = await Promise.all(
      [
        aliceKey,
        'uploads/alice/operator.png',
        'uploads/alice/portrait.png',
        'uploads/shared/operator.png',
      ].map((key) => rawAnswer(bob, key)),
    );
    const bobsJobsAfterProbes = await bobsJobs();
    const aliceOwn = await client.api('POST', '/videos', {
      body: fromKey('uploads/alice/operator.png'),
      headers: alice,
    });
    const adminAny = await client.api('POST', '/videos', {
      body: fromKey('uploads/shared/operator.png'),
      headers: as('admin'),
    });

    expect(sent.status).toBe(202);
    expect(aliceKey).toMatch(/^uploads\/alice\/sha256-[0-9a-f]{64}\.png$/);
    expect(missing).toEqual({
      status: 400,
      contentType: expect.stringMatching(/^application\/json/),
      body: expect.stringContaining('"field":"input_reference.key"'),
    });
    for (const probe of probes) expect(probe).toEqual(missing);
    expect(bobsJobsAfterProbes).toBe(bobsJobsBefore);
    expect(aliceOwn.status).toBe(202);
    expect(adminAny.status).toBe(202);
    expect(createsBefore).toBeGreaterThan(0);
  });

  it.each([
    'uploads/../videos/job_x/thumbnail.webp',
    'uploads/./a.png',
    'uploads//a.png',
    'uploads/bob\\a.png',
    'uploads/bob/%2e%2e/a.png',
    'uploads/bob/a\u0007.png',
  ])('answers the path key %j with 400 naming input_reference.key', async (key) => {
    const answer = await client.api('POST', '/videos', { body: fromKey(key), headers: as('bob') });

    expect(answer).toMatchObject({
      status: 400,
      body: { error: { field: 'input_reference.key' } },
    });
  });
});
