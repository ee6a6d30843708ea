import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../functions/shared/jobs/dynamo-job-store.ts';
import { type Job, ownerOf } from '../../functions/shared/jobs/job.ts';
import {
  IdempotencyConflictError,
  JobAlreadyStartedError,
  JobAlreadyTerminalError,
  JobNotFoundError,
  ProviderJobClaimedError,
  ValidationError,
} from '../../functions/shared/jobs/job-errors.ts';
import { newJobId } from '../../functions/shared/jobs/job-id.ts';
import { DynamoSpendingBudget } from '../../functions/shared/limits/dynamo-spending-budget.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../support/dynamodb-local.ts';
import { aJob } from '../support/job-fixtures.ts';
import { jobStoreContract } from '../support/job-store-contract.ts';

// DynamoJobStore against DynamoDB Local, on the table definition CDK deploys.

let dynamo: DynamoDbLocal;
let store: DynamoJobStore;
let tableName: string;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
  tableName = await dynamo.createJobsTable('jobs-integration');
  store = new DynamoJobStore({ client: dynamo.documents, tableName });
});

afterAll(async () => {
  await dynamo?.stop();
});

/** A job with a fresh id, created at `createdAt` (unique per test so tests share the table). */
function freshJob(overrides: Partial<Job> = {}): Job {
  const createdAt = new Date(overrides.createdAt ?? Date.now());
  return aJob({ jobId: newJobId(createdAt), createdAt: createdAt.toISOString(), ...overrides });
}

const error = { code: 'provider_failed', message: 'The provider failed the job', retryable: false };

// The same contract the in-memory fake passes (test/unit/jobs/in-memory-job-store-contract.test.ts).
jobStoreContract(
  'DynamoDB Local',
  async () =>
    new DynamoJobStore({
      client: dynamo.documents,
      tableName: await dynamo.createJobsTable(`jobs-contract-${newJobId()}`),
    }),
);

describe('DynamoJobStore on DynamoDB Local', () => {
  it('creates and reads back a job exactly as given', async () => {
    const job = freshJob({ idempotencyKey: 'k' });

    const result = await store.create(job);

    expect(result).toEqual({ job, created: true });
    expect(await store.get(job.jobId)).toEqual(job);
  });

  it('creates a job once per idempotency key, even for concurrent requests', async () => {
    const key = `api:${newJobId()}`;
    const attempts = Array.from({ length: 5 }, () => freshJob());

    const results = await Promise.all(attempts.map((job) => store.create(job, key)));

    const created = results.filter((result) => result.created);
    expect(created).toHaveLength(1);
    const winner = created[0]?.job.jobId;
    expect(results.every((result) => result.job.jobId === winner)).toBe(true);
    const stored = await Promise.all(attempts.map((job) => store.get(job.jobId)));
    expect(stored.filter((job) => job !== undefined)).toHaveLength(1);
  });

  it('refuses a reused key with another request hash', async () => {
    const key = `api:${newJobId()}`;
    await store.create(freshJob(), key);

    const reuse = store.create(freshJob({ requestHash: 'b'.repeat(64) }), key);

    await expect(reuse).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it('walks a job to COMPLETED and then refuses to change it', async () => {
    const job = freshJob();
    await store.create(job);
    const result = {
      bucket: 'b',
      key: `videos/${job.jobId}.mp4`,
      bytes: 42,
      sha256: 'f'.repeat(64),
      contentType: 'video/mp4',
    };

    const attempted = await store.markCreateAttempt(job.jobId, '2026-01-01T00:00:01.000Z');
    await store.recordProviderJob(job.jobId, {
      providerJobId: 'video_1',
      providerStatus: 'queued',
      progress: 0,
    });
    await store.recordProgress(job.jobId, {
      providerStatus: 'in_progress',
      progress: 50,
      pollCount: 2,
    });
    await store.recordCompleted(job.jobId, result, '2026-01-01T00:01:00.000Z');
    const late = await store
      .recordProgress(job.jobId, {
        providerStatus: 'in_progress',
        progress: 60,
        pollCount: 3,
      })
      .catch((reason: unknown) => reason);
    await store.recordFailed(job.jobId, error, '2026-01-01T00:02:00.000Z');

    expect(attempted).toMatchObject({
      status: 'IN_PROGRESS',
      createAttemptedAt: '2026-01-01T00:00:01.000Z',
    });
    expect(late).toBeInstanceOf(JobAlreadyTerminalError);
    expect(await store.get(job.jobId)).toMatchObject({
      status: 'COMPLETED',
      providerJobId: 'video_1',
      providerStatus: 'in_progress',
      progress: 100,
      pollCount: 2,
      result,
      completedAt: '2026-01-01T00:01:00.000Z',
    });
  });

  it('records FAILED on a running job', async () => {
    const job = freshJob();
    await store.create(job);

    await store.recordFailed(job.jobId, error, '2026-01-01T00:02:00.000Z');

    expect(await store.get(job.jobId)).toMatchObject({ status: 'FAILED', error });
  });

  it('throws JobNotFoundError for updates of a job that does not exist', async () => {
    await expect(
      store.markCreateAttempt(newJobId(), '2026-01-01T00:00:00.000Z'),
    ).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('lists by status with the index following status changes', async () => {
    const job = freshJob({ createdAt: '2030-01-01T00:00:00.000Z' });
    await store.create(job);
    const queuedBefore = await store.list({ status: 'QUEUED', limit: 1 });

    await store.markCreateAttempt(job.jobId, '2030-01-01T00:00:01.000Z');

    const queuedAfter = await store.list({ status: 'QUEUED', limit: 100 });
    const inProgress = await store.list({ status: 'IN_PROGRESS', limit: 100 });
    expect(queuedBefore.jobs[0]?.jobId).toBe(job.jobId);
    expect(queuedAfter.jobs.map((listed) => listed.jobId)).not.toContain(job.jobId);
    expect(inProgress.jobs.map((listed) => listed.jobId)).toContain(job.jobId);
  });

  it('pages through all jobs newest first with cursors', async () => {
    const jobs = [1, 2, 3].map((second) =>
      freshJob({ createdAt: `2031-01-01T00:00:0${second}.000Z` }),
    );
    for (const job of jobs) await store.create(job);

    const first = await store.list({ limit: 2 });
    const second = await store.list({ limit: 2, cursor: first.nextCursor });

    expect(first.jobs.map((job) => job.jobId)).toEqual([jobs[2]?.jobId, jobs[1]?.jobId]);
    expect(second.jobs[0]?.jobId).toBe(jobs[0]?.jobId);
    expect(first.jobs[0]).not.toHaveProperty('gsi2sk');
  });

  it('rejects a cursor of the list of another status', async () => {
    await store.create(freshJob());
    await store.create(freshJob());
    const { nextCursor } = await store.list({ status: 'QUEUED', limit: 1 });

    await expect(
      store.list({ status: 'FAILED', limit: 1, cursor: nextCursor }),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('cancel, clients and batches on DynamoDB Local', () => {
  it('cancels a waiting job once; a second cancel answers it unchanged', async () => {
    const job = await store.create(freshJob()).then((result) => result.job);
    const at = new Date().toISOString();

    const first = await store.recordCancelled(job.jobId, at);
    const second = await store.recordCancelled(job.jobId, new Date().toISOString());

    expect(first).toMatchObject({ cancelled: true, job: { status: 'CANCELLED', cancelledAt: at } });
    expect(second).toEqual({ cancelled: false, job: first.job });
    await expect(store.list({ status: 'CANCELLED', limit: 100 })).resolves.toMatchObject({
      jobs: expect.arrayContaining([expect.objectContaining({ jobId: job.jobId })]),
    });
  });

  it('refuses to cancel a finished job, and a cancelled job refuses every later step', async () => {
    const done = await store.create(freshJob()).then((result) => result.job);
    await store.recordFailed(done.jobId, error, new Date().toISOString());
    const running = await store.create(freshJob()).then((result) => result.job);
    await store.recordCancelled(running.jobId, new Date().toISOString());

    await expect(
      store.recordCancelled(done.jobId, new Date().toISOString()),
    ).resolves.toMatchObject({ cancelled: false, job: { status: 'FAILED' } });
    await expect(
      store.recordProgress(running.jobId, {
        providerStatus: 'in_progress',
        progress: 5,
        pollCount: 1,
      }),
    ).rejects.toBeInstanceOf(JobAlreadyTerminalError);
    await expect(store.enqueue(running, new Date().toISOString())).rejects.toBeInstanceOf(
      JobAlreadyTerminalError,
    );
    await expect(store.listWaiting(ownerOf(running), 100)).resolves.not.toContainEqual(
      expect.objectContaining({ jobId: running.jobId }),
    );
  });

  it("lists one client's jobs and one batch's jobs, newest first, by status too", async () => {
    const client = `client-${newJobId()}`;
    const batchId = `batch-${newJobId()}`;
    const base = Date.now();
    const jobs = [
      freshJob({ client, batchId, createdAt: new Date(base).toISOString() }),
      freshJob({ client, createdAt: new Date(base + 1).toISOString() }),
      freshJob({ client: 'someone-else', batchId, createdAt: new Date(base + 2).toISOString() }),
    ];
    for (const job of jobs) await store.create(job);
    await store.recordCancelled(jobs[0]?.jobId ?? '', new Date().toISOString());

    const ids = async (query: Parameters<DynamoJobStore['list']>[0]) =>
      (await store.list(query)).jobs.map((job) => job.jobId);

    expect(await ids({ client, limit: 10 })).toEqual([jobs[1]?.jobId, jobs[0]?.jobId]);
    expect(await ids({ batchId, limit: 10 })).toEqual([jobs[2]?.jobId, jobs[0]?.jobId]);
    expect(await ids({ batchId, client, limit: 10 })).toEqual([jobs[0]?.jobId]);
    expect(await ids({ client, status: 'CANCELLED', limit: 10 })).toEqual([jobs[0]?.jobId]);
    const dayOf = (job: Job | undefined) => job?.createdAt.slice(0, 10) ?? '';
    expect(await ids({ client, createdOn: dayOf(jobs[1]), limit: 10 })).toContain(jobs[1]?.jobId);
    expect(await ids({ client, createdOn: '2001-01-01', limit: 10 })).toEqual([]);
  });
});

describe('the provider-job ledger on DynamoDB Local', () => {
  const started = (job: Job) => ({ ...job, status: 'IN_PROGRESS' as const });
  const claim = (jobId: string, providerJobId: string) =>
    store.recordProviderJob(jobId, { providerJobId, providerStatus: 'queued', progress: 0 });

  it('lets exactly one of many jobs racing for one provider job hold it', async () => {
    const jobs = Array.from({ length: 8 }, () => started(freshJob()));
    for (const job of jobs) await store.create(job);
    const providerJobId = `video_${newJobId()}`;

    const outcomes = await Promise.allSettled(jobs.map((job) => claim(job.jobId, providerJobId)));

    const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(ProviderJobClaimedError);
      }
    }
    const holders = (await Promise.all(jobs.map((job) => store.get(job.jobId)))).filter(
      (job) => job?.providerJobId === providerJobId,
    );
    expect(holders).toHaveLength(1);
  });

  it('lets the holder record its provider job again (a retried write) but never a second one', async () => {
    const job = started(freshJob());
    await store.create(job);
    const first = `video_${newJobId()}`;
    await claim(job.jobId, first);

    await claim(job.jobId, first);
    const second = claim(job.jobId, `video_${newJobId()}`);

    await expect(second).rejects.toThrow(JobAlreadyStartedError);
    expect((await store.get(job.jobId))?.providerJobId).toBe(first);
  });

  it('refuses to let a job adopt a provider job recorded as an orphan, which counts on the budget once', async () => {
    const budget = new DynamoSpendingBudget({
      client: dynamo.documents,
      tableName,
      dailyLimitUsd: 10,
    });
    const job = started(freshJob());
    await store.create(job);
    const orphan = `video_${newJobId()}`;
    const day = '2026-04-01';

    const first = await budget.recordOrphan(
      { providerJobId: orphan, attemptedBy: 'job_closed', costUsd: 0.4 },
      day,
    );
    const again = await budget.recordOrphan(
      { providerJobId: orphan, attemptedBy: 'job_closed', costUsd: 0.4 },
      day,
    );

    expect([first, again]).toEqual([true, false]);
    expect(await budget.usage(day)).toMatchObject({ orphanedUsd: 0.4, orphanedJobs: 1 });
    await expect(claim(job.jobId, orphan)).rejects.toThrow(ProviderJobClaimedError);
  });
});
