import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../functions/shared/jobs/dynamo-job-store.ts';
import type { JobResult } from '../../functions/shared/jobs/job.ts';
import { newJobId } from '../../functions/shared/jobs/job-id.ts';
import { DynamoConcurrencySemaphore } from '../../functions/shared/limits/dynamo-concurrency-semaphore.ts';
import { DynamoSpendingBudget } from '../../functions/shared/limits/dynamo-spending-budget.ts';
import {
  type DynamoDbLocal,
  localDocuments,
  startDynamoDbLocal,
} from '../support/dynamodb-local.ts';
import { aJob } from '../support/job-fixtures.ts';
import { lostAnswerProxy } from '../support/lost-answer-proxy.ts';

/**
 * Money and work when DynamoDB applies a write but its answer is lost (DESIGN.md section 6): the
 * SDK client tries again (a reset connection is retryable), and the retry meets its own first
 * write. Every store must then answer as if the first answer had arrived: no second job, no job
 * left unrecorded, a reservation or a spend counted once, a slot held or freed once.
 */

let dynamo: DynamoDbLocal;
let proxy: Awaited<ReturnType<typeof lostAnswerProxy>>;
let tableName: string;
let store: DynamoJobStore;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  proxy = await lostAnswerProxy(dynamo.endpoint);
});

afterAll(async () => {
  await proxy?.close();
  await dynamo?.stop();
});

beforeEach(async () => {
  tableName = await dynamo.createJobsTable(`lost-${randomUUID()}`);
  // The production client's retries (dynamodb-client.ts); every call goes through the proxy.
  store = new DynamoJobStore({ client: localDocuments(proxy.url), tableName });
  proxy.lost.length = 0;
});

const AT = '2026-01-02T03:05:00.000Z';
const result: JobResult = {
  bucket: 'videos',
  key: 'videos/job/video.mp4',
  bytes: 42,
  sha256: 'f'.repeat(64),
  contentType: 'video/mp4',
};

async function inProgressJob() {
  const job = aJob({ jobId: newJobId() });
  await store.create(job);
  await store.recordProviderJob(job.jobId, {
    providerJobId: `video_${job.jobId}`,
    providerStatus: 'in_progress',
    progress: 10,
  });
  return job;
}

describe('a lost answer, the write applied', () => {
  it('creates one job, answered as created (PutItem)', async () => {
    const job = aJob({ jobId: newJobId() });
    proxy.loseNext('PutItem');

    const created = await store.create(job);

    expect(proxy.lost).toEqual(['PutItem']);
    expect(created).toEqual({ job, created: true });
    expect(await store.get(job.jobId)).toEqual(job);
  });

  it('creates one job under an idempotency key, answered as created (TransactWriteItems)', async () => {
    const job = aJob({ jobId: newJobId() });
    proxy.loseNext('TransactWriteItems');

    const created = await store.create(job, 'key-1');
    const replayed = await store.create(aJob({ jobId: newJobId() }), 'key-1');

    expect(proxy.lost).toEqual(['TransactWriteItems']);
    expect(created).toEqual({ job, created: true });
    expect(replayed).toEqual({ job, created: false });
  });

  it('records the provider job once, its ledger naming this job (TransactWriteItems)', async () => {
    const job = aJob({ jobId: newJobId() });
    await store.create(job);
    proxy.loseNext('TransactWriteItems');

    await store.recordProviderJob(job.jobId, {
      providerJobId: 'video_lost_1',
      providerStatus: 'queued',
      progress: 0,
    });

    expect(proxy.lost).toEqual(['TransactWriteItems']);
    expect(await store.get(job.jobId)).toMatchObject({
      status: 'IN_PROGRESS',
      providerJobId: 'video_lost_1',
    });
  });

  it('records the stored video as COMPLETED and answers the job, not "already terminal" (UpdateItem)', async () => {
    const job = await inProgressJob();
    proxy.loseNext('UpdateItem');

    const completed = await store.recordCompleted(job.jobId, result, AT, 0.4);

    expect(proxy.lost).toEqual(['UpdateItem']);
    expect(completed).toMatchObject({ status: 'COMPLETED', result, completedAt: AT });
    expect(await store.get(job.jobId)).toEqual(completed);
  });

  it('answers the failure it recorded, so the failure is announced (UpdateItem)', async () => {
    const job = await inProgressJob();
    const error = { code: 'provider_failed', message: 'failed', retryable: false };
    proxy.loseNext('UpdateItem');

    const failed = await store.recordFailed(job.jobId, error, AT);

    expect(proxy.lost).toEqual(['UpdateItem']);
    expect(failed).toMatchObject({ status: 'FAILED', error, updatedAt: AT });
  });

  it('answers the cancel as its own, so its slot and provider job are let go (UpdateItem)', async () => {
    const job = await inProgressJob();
    proxy.loseNext('UpdateItem');

    const cancelled = await store.recordCancelled(job.jobId, AT);

    expect(proxy.lost).toEqual(['UpdateItem']);
    expect(cancelled).toMatchObject({ cancelled: true, job: { status: 'CANCELLED' } });
  });

  it('still refuses to complete a job another writer ended (the check is not loosened)', async () => {
    const job = await inProgressJob();
    await store.recordCancelled(job.jobId, AT);

    await expect(store.recordCompleted(job.jobId, result, AT, 0.4)).rejects.toMatchObject({
      name: 'JobAlreadyTerminalError',
    });
    expect(proxy.lost).toEqual([]);
  });

  it("reserves and spends a job's cost once each (TransactWriteItems)", async () => {
    const budget = new DynamoSpendingBudget({
      client: localDocuments(proxy.url),
      tableName,
      dailyLimitUsd: 1,
    });
    const day = '2026-01-02';
    proxy.loseNext('TransactWriteItems');
    await budget.reserve('job_a', 0.4, day);
    const reserved = await budget.usage(day);
    proxy.loseNext('TransactWriteItems');
    await budget.recordSpent('job_a', 0.4, day);
    const spent = await budget.usage(day);

    expect(proxy.lost).toEqual(['TransactWriteItems', 'TransactWriteItems']);
    expect(reserved).toMatchObject({ reservedUsd: 0.4, spentUsd: 0, startedJobs: 1 });
    expect(spent).toMatchObject({ reservedUsd: 0, spentUsd: 0.4, completedJobs: 1 });
  });

  it('holds a slot once and frees it once (UpdateItem)', async () => {
    const semaphore = new DynamoConcurrencySemaphore({
      client: localDocuments(proxy.url),
      tableName,
      limit: 2,
    });
    proxy.loseNext('UpdateItem');
    const acquired = await semaphore.acquire('job_a');
    const held = await semaphore.holders();
    proxy.loseNext('UpdateItem');
    await semaphore.release('job_a');

    expect(proxy.lost).toEqual(['UpdateItem', 'UpdateItem']);
    expect(acquired).toBe(true);
    expect(held).toEqual(['job_a']);
    expect(await semaphore.holders()).toEqual([]);
    // Both slots are free again: the lost answer neither kept nor freed one twice.
    expect(await semaphore.acquire('job_b')).toBe(true);
    expect(await semaphore.acquire('job_c')).toBe(true);
    expect(await semaphore.acquire('job_d')).toBe(false);
  });
});
