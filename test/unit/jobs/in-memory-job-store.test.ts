import { describe, expect, it } from 'vitest';
import {
  IdempotencyConflictError,
  JobAlreadyExistsError,
  JobAlreadyStartedError,
  JobAlreadyTerminalError,
  JobNotFoundError,
  ValidationError,
} from '../../../functions/shared/jobs/job-errors.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { aJob } from '../../support/job-fixtures.ts';

// The fake other suites rely on must keep DynamoJobStore's semantics.

const AT = '2026-01-02T03:09:00.000Z';

describe('InMemoryJobStore', () => {
  it('replays a key with the same request and rejects it with a different one', async () => {
    const store = new InMemoryJobStore();
    const first = await store.create(aJob({ jobId: 'job_A' }), 'k');

    const replay = await store.create(aJob({ jobId: 'job_B' }), 'k');
    const conflict = store.create(aJob({ jobId: 'job_C', requestHash: 'd'.repeat(64) }), 'k');

    expect(first.created).toBe(true);
    expect(replay).toEqual({ job: first.job, created: false });
    await expect(conflict).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(store.all().map((job) => job.jobId)).toEqual(['job_A']);
  });

  it('refuses a second job with the same id', async () => {
    const store = new InMemoryJobStore();
    await store.create(aJob());

    const other = aJob({ requestHash: 'e'.repeat(64) });

    await expect(store.create(other)).rejects.toBeInstanceOf(JobAlreadyExistsError);
  });

  it('never changes a terminal job, and recordFailed on it is a no-op', async () => {
    const store = new InMemoryJobStore();
    store.seed(aJob({ status: 'COMPLETED' }));
    const { jobId } = aJob();

    const progress = store.recordProgress(jobId, {
      providerStatus: 'in_progress',
      progress: 1,
      pollCount: 1,
    });
    await store.recordFailed(jobId, { code: 'X', message: 'late', retryable: false }, AT);

    await expect(progress).rejects.toBeInstanceOf(JobAlreadyTerminalError);
    expect((await store.get(jobId))?.status).toBe('COMPLETED');
  });

  it('throws JobNotFoundError when updating a missing job', async () => {
    const store = new InMemoryJobStore();

    await expect(store.markCreateAttempt('job_MISSING', AT)).rejects.toBeInstanceOf(
      JobNotFoundError,
    );
  });

  it('lists newest first by status and pages with a cursor', async () => {
    const store = new InMemoryJobStore();
    store.seed(
      aJob({ jobId: 'job_1', createdAt: '2026-01-01T00:00:01.000Z' }),
      aJob({ jobId: 'job_2', createdAt: '2026-01-01T00:00:02.000Z', status: 'FAILED' }),
      aJob({ jobId: 'job_3', createdAt: '2026-01-01T00:00:03.000Z' }),
      aJob({ jobId: 'job_4', createdAt: '2026-01-01T00:00:04.000Z' }),
    );

    const first = await store.list({ status: 'QUEUED', limit: 2 });
    const second = await store.list({ status: 'QUEUED', limit: 2, cursor: first.nextCursor });

    expect(first.jobs.map((job) => job.jobId)).toEqual(['job_4', 'job_3']);
    expect(second).toEqual({ jobs: [expect.objectContaining({ jobId: 'job_1' })] });
  });

  it('lists oldest first with order asc, the cursor continuing in that order', async () => {
    const store = new InMemoryJobStore();
    store.seed(
      aJob({ jobId: 'job_3', createdAt: '2026-01-01T00:00:03.000Z' }),
      aJob({ jobId: 'job_1', createdAt: '2026-01-01T00:00:01.000Z' }),
      aJob({ jobId: 'job_2', createdAt: '2026-01-01T00:00:02.000Z' }),
    );

    const first = await store.list({ status: 'QUEUED', limit: 2, order: 'asc' });
    const second = await store.list({
      status: 'QUEUED',
      limit: 2,
      order: 'asc',
      cursor: first.nextCursor,
    });

    expect(first.jobs.map((job) => job.jobId)).toEqual(['job_1', 'job_2']);
    expect(second.jobs.map((job) => job.jobId)).toEqual(['job_3']);
  });

  it('defers a job without provider job back to QUEUED, and refuses one that has one', async () => {
    const store = new InMemoryJobStore();
    store.seed(
      aJob({ jobId: 'job_1', status: 'IN_PROGRESS', createAttemptedAt: AT }),
      aJob({ jobId: 'job_2', status: 'IN_PROGRESS', providerJobId: 'video_2' }),
      aJob({ jobId: 'job_3', status: 'FAILED' }),
    );

    await store.deferJob('job_1', 'budget', AT);

    expect(await store.get('job_1')).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'budget',
      createAttemptedAt: AT,
    });
    await expect(store.deferJob('job_2', 'budget', AT)).rejects.toBeInstanceOf(
      JobAlreadyStartedError,
    );
    await expect(store.deferJob('job_3', 'budget', AT)).rejects.toBeInstanceOf(
      JobAlreadyTerminalError,
    );
    await expect(store.deferJob('job_4', 'budget', AT)).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('lets exactly one claim of a deferred job win', async () => {
    const store = new InMemoryJobStore();
    store.seed(aJob({ deferred: true, deferredReason: 'scheduled' }));
    const { jobId } = aJob();

    const first = await store.claimDeferred(jobId, jobId, AT);
    const second = await store.claimDeferred(jobId, `${jobId}-1`, AT);

    expect([first, second]).toEqual([true, false]);
    const claimed = await store.get(jobId);
    expect(claimed).toMatchObject({ deferred: false, executionName: jobId, updatedAt: AT });
    expect(claimed?.deferredReason).toBeUndefined();
  });

  it('does not claim a job that is not waiting', async () => {
    const store = new InMemoryJobStore();
    store.seed(aJob({ status: 'IN_PROGRESS', deferred: true }), aJob({ jobId: 'job_2' }));

    await expect(store.claimDeferred(aJob().jobId, 'x', AT)).resolves.toBe(false);
    await expect(store.claimDeferred('job_2', 'x', AT)).resolves.toBe(false);
    await expect(store.claimDeferred('job_missing', 'x', AT)).resolves.toBe(false);
  });

  it('stores the actual cost with the completion when given', async () => {
    const store = new InMemoryJobStore();
    store.seed(aJob({ status: 'IN_PROGRESS' }));
    const result = { bucket: 'b', key: 'k', bytes: 1, sha256: 'f', contentType: 'video/mp4' };

    await store.recordCompleted(aJob().jobId, result, AT, 0.4);

    expect(await store.get(aJob().jobId)).toMatchObject({
      status: 'COMPLETED',
      actualCostUsd: 0.4,
    });
  });

  it('rejects a cursor of another list with ValidationError naming cursor', async () => {
    const store = new InMemoryJobStore();
    store.seed(aJob({ jobId: 'job_1' }), aJob({ jobId: 'job_2' }));
    const { nextCursor } = await store.list({ limit: 1 });

    await expect(store.list({ status: 'QUEUED', limit: 1, cursor: nextCursor })).rejects.toEqual(
      expect.objectContaining({ name: ValidationError.name, field: 'cursor' }),
    );
  });

  it('hands out copies, so mutating a returned job changes nothing stored', async () => {
    const store = new InMemoryJobStore();
    const { job } = await store.create(aJob());

    job.status = 'FAILED';

    expect((await store.get(job.jobId))?.status).toBe('QUEUED');
  });
});
