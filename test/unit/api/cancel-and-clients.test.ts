import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createApiHandler } from '../../../functions/api/api-handler.ts';
import { intakeBatchId } from '../../../functions/shared/intake/intake-idempotency.ts';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import { newJobId } from '../../../functions/shared/jobs/job-id.ts';
import { clientWebhookSecret } from '../../../functions/shared/webhooks/webhook-signing.ts';
import { type HttpRequest, httpApiEvent } from '../../support/http-api-event.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { inMemoryCancelDeps } from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';
import { recordingLogger } from '../../support/recording-logger.ts';

const NOW = new Date('2026-03-04T05:06:07.000Z');
const DAY = '2026-03-04';
const ALICE = { client: 'alice', admin: false };
const BOB = { client: 'bob', admin: false };
const ADMIN = { client: 'ops', admin: true };

function setup() {
  const store = new InMemoryJobStore({ now: () => NOW });
  const cancel = inMemoryCancelDeps(store, () => NOW);
  const log = recordingLogger();
  const handler = createApiHandler({
    store,
    startExecution: async () => {},
    providerConfig: testProviderConfig(),
    clock: () => NOW,
    newJobId,
    contentLink: async (key) => `https://videos.example.com/${key}`,
    usage: async () => {
      throw new Error('not used');
    },
    clientBudget: async () => {
      throw new Error('not used');
    },
    cancel: cancel.deps,
    webhookSecret: async (client) => clientWebhookSecret('test-signing-secret', client),
    logger: log.logger,
  });
  const send = async (request: HttpRequest, authorizer: Record<string, unknown>) => {
    const response = await handler(httpApiEvent({ ...request, authorizer }));
    return { ...response, json: parseBody(response) as Record<string, unknown> };
  };
  return { store, cancel, send, lines: log.lines };
}

function parseBody(response: APIGatewayProxyStructuredResultV2): unknown {
  return response.body === undefined ? undefined : JSON.parse(response.body);
}

const aliceJob = (overrides: Partial<Job> = {}) =>
  aJob({ jobId: newJobId(NOW), client: 'alice', ...overrides });

describe('POST /videos/{id}/cancel', () => {
  it('cancels a parked job at once: no execution to stop, no provider call, nothing spent', async () => {
    const { store, cancel, send } = setup();
    const job = aliceJob({ deferred: true, deferredReason: 'capacity' });
    store.seed(job);

    const response = await send({ method: 'POST', path: `/videos/${job.jobId}/cancel` }, ALICE);

    expect(response.statusCode).toBe(200);
    expect(response.json).toMatchObject({ status: 'CANCELLED', cancelledAt: NOW.toISOString() });
    expect(cancel.stopped).toEqual([]);
    expect(cancel.deleted).toEqual([]);
    expect(cancel.budget.stateOf(job.jobId)).toBeUndefined();
  });

  it('stops a running job, deletes its provider job, counts it spent and hands its slot on', async () => {
    const { store, cancel, send } = setup();
    const job = aliceJob({
      status: 'IN_PROGRESS',
      executionName: 'exec-1',
      providerJobId: 'video_1',
      providerStatus: 'in_progress',
    });
    // Every slot taken (the job's among them), and one of bob's jobs waiting for one.
    const waiting = aJob({
      jobId: newJobId(NOW),
      client: 'bob',
      deferred: true,
      deferredReason: 'capacity',
    });
    store.seed(job, { ...waiting, executionName: waiting.jobId });
    await cancel.semaphore.acquire(job.jobId, { client: 'alice' });
    for (const other of ['job_o1', 'job_o2', 'job_o3']) {
      await cancel.semaphore.acquire(other, { client: 'carol' });
    }
    await cancel.semaphore.markWaiting('bob', { weight: 1 });
    await cancel.budget.reserve(job.jobId, job.estimatedCostUsd, DAY);

    const response = await send({ method: 'POST', path: `/videos/${job.jobId}/cancel` }, ALICE);

    expect(response.statusCode).toBe(200);
    expect((await store.get(job.jobId))?.status).toBe('CANCELLED');
    expect(cancel.stopped).toEqual(['exec-1']);
    expect(cancel.deleted).toEqual(['video_1']);
    expect(cancel.budget.stateOf(job.jobId)).toBe('spent');
    expect(cancel.semaphore.holds(job.jobId)).toBe(false);
    // The freed slot went to bob's waiting job, started in a new execution.
    expect(cancel.handOffs).toEqual([
      { jobId: waiting.jobId, executionName: `${waiting.jobId}-1` },
    ]);
    expect(cancel.semaphore.holds(waiting.jobId)).toBe(true);
  });

  it('answers a cancelled job again with 200 and refuses a finished one with 409', async () => {
    const { store, send } = setup();
    const cancelled = aliceJob({ status: 'CANCELLED', cancelledAt: NOW.toISOString() });
    const done = aliceJob({ status: 'COMPLETED' });
    store.seed(cancelled, done);

    const again = await send({ method: 'POST', path: `/videos/${cancelled.jobId}/cancel` }, ALICE);
    const finished = await send({ method: 'POST', path: `/videos/${done.jobId}/cancel` }, ALICE);

    expect(again.statusCode).toBe(200);
    expect(again.json).toMatchObject({ status: 'CANCELLED' });
    expect(finished.statusCode).toBe(409);
    expect(finished.json).toMatchObject({ error: { code: 'video_not_cancellable' } });
  });
});

describe('POST /batches/{id}/cancel and GET /videos?batch=', () => {
  it("cancels the caller's waiting jobs of a batch, and lists the batch", async () => {
    const { store, send } = setup();
    const batchId = intakeBatchId({ bucket: 'b', key: 'inbox/a.txt', version: 'v1' });
    const waiting = aliceJob({ batchId });
    const running = aliceJob({ batchId, status: 'IN_PROGRESS', providerJobId: 'video_2' });
    const bobs = aJob({ jobId: newJobId(NOW), client: 'bob', batchId });
    store.seed(waiting, running, bobs);

    const response = await send({ method: 'POST', path: `/batches/${batchId}/cancel` }, ALICE);
    const listed = await send({ method: 'GET', path: '/videos', query: { batch: batchId } }, ALICE);

    expect(response.json).toEqual({ batchId, cancelled: [waiting.jobId], more: false });
    expect((await store.get(running.jobId))?.status).toBe('IN_PROGRESS');
    expect((await store.get(bobs.jobId))?.status).toBe('QUEUED');
    const ids = (listed.json.videos as { id: string }[]).map((video) => video.id).sort();
    expect(ids).toEqual([waiting.jobId, running.jobId].sort());
  });

  it('refuses an id that is not a batch id', async () => {
    const { send } = setup();

    const response = await send({ method: 'POST', path: '/batches/nope/cancel' }, ALICE);

    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({ error: { field: 'id' } });
  });
});

describe('clients', () => {
  it("answers 404 for another client's job on every job route, and the admin sees it", async () => {
    const { store, send } = setup();
    const job = aliceJob({ status: 'COMPLETED' });
    store.seed(job);

    for (const path of [`/videos/${job.jobId}`, `/videos/${job.jobId}/content`]) {
      const response = await send({ method: 'GET', path }, BOB);
      expect(response.statusCode, path).toBe(404);
    }
    const cancel = await send({ method: 'POST', path: `/videos/${job.jobId}/cancel` }, BOB);
    const admin = await send({ method: 'GET', path: `/videos/${job.jobId}` }, ADMIN);

    expect(cancel.statusCode).toBe(404);
    expect(admin.statusCode).toBe(200);
  });

  it('lists only the caller’s jobs; the admin lists all, or one client’s', async () => {
    const { store, send } = setup();
    const alices = aliceJob();
    const bobs = aJob({ jobId: newJobId(NOW), client: 'bob' });
    store.seed(alices, bobs);
    const ids = async (authorizer: Record<string, unknown>, query?: Record<string, string>) => {
      const response = await send(
        { method: 'GET', path: '/videos', ...(query ? { query } : {}) },
        authorizer,
      );
      return (response.json.videos as { id: string }[]).map((video) => video.id).sort();
    };

    expect(await ids(BOB)).toEqual([bobs.jobId]);
    expect(await ids(ADMIN)).toEqual([alices.jobId, bobs.jobId].sort());
    expect(await ids(ADMIN, { client: 'alice' })).toEqual([alices.jobId]);
    expect(await ids(BOB, { client: 'alice' })).toEqual([bobs.jobId]);
  });

  it("scopes Idempotency-Keys per client: bob's key never replays alice's job", async () => {
    const { send } = setup();
    const request = {
      method: 'POST',
      path: '/videos',
      headers: { 'Idempotency-Key': 'order-1', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A lighthouse in a storm' }),
    };

    const alice = await send(request, ALICE);
    const bob = await send(request, BOB);
    const aliceAgain = await send(request, ALICE);

    expect([alice.statusCode, bob.statusCode, aliceAgain.statusCode]).toEqual([202, 202, 200]);
    expect(bob.json.id).not.toBe(alice.json.id);
    expect(bob.json.client).toBe('bob');
    expect(aliceAgain.json.id).toBe(alice.json.id);
  });

  it("records the caller's share, from the authorizer's context, on the jobs it submits and remixes", async () => {
    const { store, send } = setup();
    const share = { weight: 2, maxConcurrent: 1, dailyBudgetUsd: 3 };
    const source = aJob({ jobId: newJobId(NOW), client: 'bob', status: 'COMPLETED' });
    store.seed({ ...source, providerJobId: 'video_1' });
    const json = { 'content-type': 'application/json' };

    const created = await send(
      { method: 'POST', path: '/videos', headers: json, body: '{"prompt":"A calm sea"}' },
      { ...BOB, ...share },
    );
    const remix = await send(
      {
        method: 'POST',
        path: `/videos/${source.jobId}/remix`,
        headers: json,
        body: '{"prompt":"At night"}',
      },
      { ...BOB, ...share },
    );

    expect([created.statusCode, remix.statusCode]).toEqual([202, 202]);
    expect((await store.get(String(created.json.id)))?.share).toEqual(share);
    expect((await store.get(String(remix.json.id)))?.share).toEqual(share);
  });

  it('submits under the default share, with a warning naming the field, when the context holds a malformed one', async () => {
    const { store, send, lines } = setup();

    const response = await send(
      {
        method: 'POST',
        path: '/videos',
        headers: { 'content-type': 'application/json' },
        body: '{"prompt":"A calm sea"}',
      },
      { ...BOB, weight: 1, maxConcurrent: 0 },
    );

    expect(response.statusCode).toBe(202);
    expect((await store.get(String(response.json.id)))?.share).toEqual({ weight: 1 });
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'warn', extra: [{ field: 'maxConcurrent' }] }),
    );
  });
});
