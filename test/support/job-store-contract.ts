import { describe, expect, it } from 'vitest';
import type { Job } from '../../functions/shared/jobs/job.ts';
import {
  IdempotencyConflictError,
  JobAlreadyExistsError,
  JobAlreadyStartedError,
  JobAlreadyTerminalError,
  JobNotFoundError,
  ProviderJobClaimedError,
  ValidationError,
} from '../../functions/shared/jobs/job-errors.ts';
import type { JobStore } from '../../functions/shared/jobs/job-store.ts';
import { encodeCursor } from '../../functions/shared/jobs/list-cursor.ts';
import { aJob } from './job-fixtures.ts';

/**
 * One contract for every `JobStore`: the in-memory fake the unit tests use and `DynamoJobStore`
 * on DynamoDB Local. It goes through the interface only (no seeding), so what it shows of the
 * fake holds of production. Each factory call returns a fresh, empty store.
 */

const AT = '2026-01-02T03:05:00.000Z';
const FAILURE = {
  code: 'provider_failed',
  message: 'The provider failed the job',
  retryable: false,
};
const RESULT = {
  bucket: 'videos',
  key: 'videos/job/video.mp4',
  bytes: 1024,
  sha256: 'b'.repeat(64),
  contentType: 'video/mp4',
};

const at = (second: number) => `2026-01-01T00:00:${String(second).padStart(2, '0')}.000Z`;
const job = (id: string, overrides: Partial<Job> = {}) => aJob({ jobId: id, ...overrides });

/** The error a call fails with (undefined if it succeeds), awaited at once: none goes unhandled. */
async function failureOf(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Creates a job and takes it to IN_PROGRESS with a provider job. */
async function started(store: JobStore, id: string, providerJobId = `video_${id}`) {
  await store.create(job(id));
  await store.markCreateAttempt(id, AT);
  await store.recordProviderJob(id, { providerJobId, providerStatus: 'queued', progress: 0 });
}

export function jobStoreContract(name: string, freshStore: () => Promise<JobStore>) {
  describe(`JobStore contract: ${name}`, () => {
    it('reads back a created job exactly as given, and nothing for an unknown id', async () => {
      const store = await freshStore();
      const created = job('job_A');

      expect(await store.create(created)).toEqual({ job: created, created: true });
      expect(await store.get('job_A')).toEqual(created);
      expect(await store.get('job_UNKNOWN')).toBeUndefined();
    });

    it('creates one job per idempotency key, even for concurrent requests, and refuses another request under it', async () => {
      const store = await freshStore();
      const attempts = ['job_1', 'job_2', 'job_3', 'job_4', 'job_5'].map((id) => job(id));

      const results = await Promise.all(attempts.map((attempt) => store.create(attempt, 'k')));
      const conflict = await failureOf(
        store.create(job('job_6', { requestHash: 'd'.repeat(64) }), 'k'),
      );

      const winners = results.filter((result) => result.created).map((result) => result.job.jobId);
      const stored = await Promise.all(attempts.map((attempt) => store.get(attempt.jobId)));
      expect(winners).toHaveLength(1);
      expect(results.map((result) => result.job.jobId)).toEqual(Array(5).fill(winners[0]));
      // The losers' jobs were never written.
      expect(stored.filter((each) => each !== undefined).map((each) => each.jobId)).toEqual(
        winners,
      );
      expect(conflict).toBeInstanceOf(IdempotencyConflictError);
    });

    it('refuses a second job with the same id, with or without a key, but takes the very same create again as a retry', async () => {
      const store = await freshStore();
      const first = job('job_A');
      await store.create(first);

      const retried = await store.create(first);
      const other = await failureOf(store.create(job('job_A', { requestHash: 'c'.repeat(64) })));
      const underKey = await failureOf(
        store.create(job('job_A', { requestHash: 'c'.repeat(64) }), 'fresh-key'),
      );

      expect(retried).toEqual({ job: first, created: true });
      expect(other).toBeInstanceOf(JobAlreadyExistsError);
      expect(underKey).toBeInstanceOf(JobAlreadyExistsError);
    });

    it('hands out copies: changing a job it returned changes nothing stored', async () => {
      const store = await freshStore();
      const { job: created } = await store.create(job('job_A'));
      const read = await store.get('job_A');

      created.status = 'FAILED';
      if (read) read.prompt = 'changed';

      expect(await store.get('job_A')).toEqual(job('job_A'));
    });

    it('walks a job to COMPLETED, then never changes it; recordFailed on it does nothing', async () => {
      const store = await freshStore();
      await store.create(job('job_A'));
      const attempted = await store.markCreateAttempt('job_A', at(1));
      await store.recordProviderJob('job_A', {
        providerJobId: 'video_job_A',
        providerStatus: 'queued',
        progress: 0,
      });
      await store.recordProgress('job_A', {
        providerStatus: 'in_progress',
        progress: 50,
        pollCount: 1,
      });
      const polled = await store.get('job_A');

      await store.recordCompleted('job_A', RESULT, AT, 0.4);
      const late = await failureOf(
        store.recordProgress('job_A', {
          providerStatus: 'in_progress',
          progress: 60,
          pollCount: 2,
        }),
      );
      await store.recordFailed('job_A', FAILURE, AT);

      expect(attempted).toMatchObject({ status: 'IN_PROGRESS', createAttemptedAt: at(1) });
      expect(polled).toMatchObject({ providerStatus: 'in_progress', progress: 50, pollCount: 1 });
      expect(late).toBeInstanceOf(JobAlreadyTerminalError);
      expect(await store.get('job_A')).toMatchObject({
        status: 'COMPLETED',
        progress: 100,
        result: RESULT,
        actualCostUsd: 0.4,
        completedAt: AT,
        providerJobId: 'video_job_A',
        pollCount: 1,
      });
    });

    it('records FAILED with its reason on a running job', async () => {
      const store = await freshStore();
      await started(store, 'job_A');

      await store.recordFailed('job_A', FAILURE, AT);

      expect(await store.get('job_A')).toMatchObject({ status: 'FAILED', error: FAILURE });
    });

    it('throws JobNotFoundError when updating a job that does not exist', async () => {
      const store = await freshStore();

      await expect(store.markCreateAttempt('job_MISSING', AT)).rejects.toBeInstanceOf(
        JobNotFoundError,
      );
    });

    it('lists by status newest first, pages with a cursor, and oldest first with order asc', async () => {
      const store = await freshStore();
      for (const [id, second] of [
        ['job_1', 1],
        ['job_2', 2],
        ['job_3', 3],
        ['job_4', 4],
      ] as const) {
        await store.create(job(id, { createdAt: at(second), updatedAt: at(second) }));
      }
      await store.recordFailed('job_2', FAILURE, AT);

      const first = await store.list({ status: 'QUEUED', limit: 2 });
      const second = await store.list({ status: 'QUEUED', limit: 2, cursor: first.nextCursor });
      const oldest = await store.list({ status: 'QUEUED', limit: 2, order: 'asc' });
      const newer = await store.list({
        status: 'QUEUED',
        limit: 2,
        order: 'asc',
        cursor: oldest.nextCursor,
      });
      const all = await store.list({ limit: 10 });

      expect(first.jobs.map((listed) => listed.jobId)).toEqual(['job_4', 'job_3']);
      expect(second.jobs.map((listed) => listed.jobId)).toEqual(['job_1']);
      expect(second.nextCursor).toBeUndefined();
      expect(oldest.jobs.map((listed) => listed.jobId)).toEqual(['job_1', 'job_3']);
      expect(newer.jobs.map((listed) => listed.jobId)).toEqual(['job_4']);
      expect(all.jobs.map((listed) => listed.jobId)).toEqual(['job_4', 'job_3', 'job_2', 'job_1']);
      // Listed as stored: no index attributes.
      expect(all.jobs[3]).toEqual(await store.get('job_1'));
    });

    it('moves a job from one status list to the next as its status changes', async () => {
      const store = await freshStore();
      await store.create(job('job_A'));
      const queuedBefore = await store.list({ status: 'QUEUED', limit: 10 });

      await store.markCreateAttempt('job_A', AT);
      const ids = async (status: Job['status']) =>
        (await store.list({ status, limit: 10 })).jobs.map((listed) => listed.jobId);

      expect(queuedBefore.jobs.map((listed) => listed.jobId)).toEqual(['job_A']);
      expect(await ids('QUEUED')).toEqual([]);
      expect(await ids('IN_PROGRESS')).toEqual(['job_A']);
    });

    it('refuses the cursor of another list with a ValidationError naming cursor', async () => {
      const store = await freshStore();
      await store.create(job('job_1', { createdAt: at(1) }));
      await store.create(job('job_2', { createdAt: at(2) }));
      const { nextCursor } = await store.list({ status: 'QUEUED', limit: 1 });

      const wrong = await failureOf(store.list({ status: 'FAILED', limit: 1, cursor: nextCursor }));

      expect(wrong).toBeInstanceOf(ValidationError);
      expect(wrong).toMatchObject({ field: 'cursor' });
    });

    it.each([
      ['not base64url', '!!!'],
      ['not JSON', Buffer.from('nope').toString('base64url')],
      ['an array', Buffer.from('[]').toString('base64url')],
      ['missing attributes', encodeCursor({ pk: 'JOB#x', sk: 'JOB' })],
    ])(
      'refuses a cursor that is %s with a ValidationError naming cursor',
      async (_what, cursor) => {
        const store = await freshStore();

        const wrong = await failureOf(store.list({ status: 'QUEUED', limit: 5, cursor }));

        expect(wrong).toBeInstanceOf(ValidationError);
        expect(wrong).toMatchObject({ field: 'cursor' });
      },
    );

    it('lets exactly one of several concurrent claims of a deferred job win', async () => {
      const store = await freshStore();
      await store.create(job('job_A', { deferred: true, deferredReason: 'scheduled' }));

      await store.create(job('job_B'));

      const claims = await Promise.all(
        [1, 2, 3, 4].map((n) => store.claimDeferred('job_A', `job_A-${n}`, AT)),
      );
      const notWaiting = await store.claimDeferred('job_A', 'job_A-9', AT);
      const neverDeferred = await store.claimDeferred('job_B', 'job_B-1', AT);
      const missing = await store.claimDeferred('job_missing', 'job_missing-1', AT);

      expect(claims.filter(Boolean)).toHaveLength(1);
      expect([notWaiting, neverDeferred, missing]).toEqual([false, false, false]);
      const claimed = await store.get('job_A');
      expect(claimed).toMatchObject({ deferred: false, status: 'QUEUED', updatedAt: AT });
      expect(claimed?.executionName).toBe(`job_A-${claims.indexOf(true) + 1}`);
      expect(claimed?.deferredReason).toBeUndefined();
    });

    it('defers a job without a provider job, and refuses one that has one or has ended', async () => {
      const store = await freshStore();
      await store.create(job('job_1'));
      await store.markCreateAttempt('job_1', AT);
      await started(store, 'job_2');
      await store.create(job('job_3'));
      await store.recordFailed('job_3', FAILURE, AT);

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

    it('lets one job hold a provider job: another is refused, the holder may record it again', async () => {
      const store = await freshStore();
      await started(store, 'job_A', 'video_shared');
      await store.create(job('job_B'));
      await store.markCreateAttempt('job_B', AT);
      const update = {
        providerJobId: 'video_shared',
        providerStatus: 'queued',
        progress: 0,
      } as const;

      const stolen = await failureOf(store.recordProviderJob('job_B', update));
      const again = await failureOf(store.recordProviderJob('job_A', update));
      const second = await failureOf(
        store.recordProviderJob('job_A', { ...update, providerJobId: 'video_other' }),
      );

      expect(stolen).toBeInstanceOf(ProviderJobClaimedError);
      expect(stolen).toMatchObject({ claimedBy: 'job_A' });
      expect(again).toBeUndefined();
      expect(second).toBeInstanceOf(JobAlreadyStartedError);
      expect((await store.get('job_B'))?.providerJobId).toBeUndefined();
    });

    it('lets exactly one of many jobs racing for one provider job hold it', async () => {
      const store = await freshStore();
      const ids = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `job_${n}`);
      for (const id of ids) {
        await store.create(job(id));
        await store.markCreateAttempt(id, AT);
      }

      const outcomes = await Promise.all(
        ids.map((id) =>
          failureOf(
            store.recordProviderJob(id, {
              providerJobId: 'video_raced',
              providerStatus: 'queued',
              progress: 0,
            }),
          ),
        ),
      );
      const holders = (await Promise.all(ids.map((id) => store.get(id)))).filter(
        (each) => each?.providerJobId === 'video_raced',
      );

      const winner = ids[outcomes.indexOf(undefined)];
      expect(outcomes.filter((outcome) => outcome === undefined)).toHaveLength(1);
      expect(holders.map((holder) => holder?.jobId)).toEqual([winner]);
      for (const outcome of outcomes.filter((each) => each !== undefined)) {
        expect(outcome).toBeInstanceOf(ProviderJobClaimedError);
        expect(outcome).toMatchObject({ claimedBy: winner });
      }
    });

    it('refuses to record a provider job on a job that ended or does not exist', async () => {
      const store = await freshStore();
      await store.create(job('job_A'));
      await store.markCreateAttempt('job_A', AT);
      await store.recordCancelled('job_A', AT);
      const update = {
        providerJobId: 'video_late',
        providerStatus: 'queued',
        progress: 0,
      } as const;

      const ended = await failureOf(store.recordProviderJob('job_A', update));
      const missing = await failureOf(
        store.recordProviderJob('job_missing', { ...update, providerJobId: 'video_nobody' }),
      );

      expect(ended).toBeInstanceOf(JobAlreadyTerminalError);
      expect(missing).toBeInstanceOf(JobNotFoundError);
      expect((await store.get('job_A'))?.providerJobId).toBeUndefined();
    });

    it('hands a job to one next execution at a time, up to the bound', async () => {
      const store = await freshStore();
      await started(store, 'job_A');
      await store.claimDeferred('job_A', 'job_A', AT);

      const claims = await Promise.all(
        [1, 2, 3].map(() =>
          store.claimResume('job_A', { from: 'job_A', to: 'job_A-1', maxResumes: 2 }, AT),
        ),
      );
      const next = await store.claimResume(
        'job_A',
        { from: 'job_A-1', to: 'job_A-2', maxResumes: 2 },
        AT,
      );
      const beyond = await store.claimResume(
        'job_A',
        { from: 'job_A-2', to: 'job_A-3', maxResumes: 2 },
        AT,
      );

      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(next).toBe(true);
      expect(beyond).toBe(false);
      expect(await store.get('job_A')).toMatchObject({ executionName: 'job_A-2', resumeCount: 2 });
    });

    it('cancels a waiting or running job once, then refuses every later step; a finished job stays finished', async () => {
      const store = await freshStore();
      await store.create(job('job_A'));
      await started(store, 'job_B');
      await store.create(job('job_C'));
      await store.recordFailed('job_C', FAILURE, AT);

      const waiting = await store.recordCancelled('job_A', AT);
      const running = await store.recordCancelled('job_B', AT);
      const again = await store.recordCancelled('job_A', at(9));
      const finished = await store.recordCancelled('job_C', AT);
      const progress = await failureOf(
        store.recordProgress('job_B', { providerStatus: 'in_progress', progress: 5, pollCount: 1 }),
      );

      expect(waiting).toMatchObject({
        cancelled: true,
        job: { status: 'CANCELLED', cancelledAt: AT },
      });
      expect(running).toMatchObject({ cancelled: true, job: { status: 'CANCELLED' } });
      expect(again).toEqual({ cancelled: false, job: waiting.job });
      expect(finished).toMatchObject({ cancelled: false, job: { status: 'FAILED' } });
      expect(progress).toBeInstanceOf(JobAlreadyTerminalError);
      expect(await failureOf(store.recordCancelled('job_missing', AT))).toBeInstanceOf(
        JobNotFoundError,
      );
    });

    it('cancels "unless started" only a job never admitted: no startedAt, no provider job', async () => {
      const store = await freshStore();
      await store.create(job('job_A'));
      await store.create(job('job_B'));
      await store.markStarted('job_B', at(5));
      await started(store, 'job_C');
      const timeout = { code: 'start_timeout', message: 'Not started in time', retryable: true };

      const waiting = await store.recordCancelled('job_A', AT, timeout, { unlessStarted: true });
      const admitted = await store.recordCancelled('job_B', AT, timeout, { unlessStarted: true });
      const running = await store.recordCancelled('job_C', AT, timeout, { unlessStarted: true });

      expect(waiting).toMatchObject({
        cancelled: true,
        job: { status: 'CANCELLED', error: timeout },
      });
      expect(admitted).toMatchObject({ cancelled: false, job: { status: 'QUEUED' } });
      expect(running.cancelled).toBe(false);
      expect((await store.get('job_C'))?.status).toBe('IN_PROGRESS');
    });

    it("lists a client's jobs and a batch's jobs, by status and creation day too", async () => {
      const store = await freshStore();
      await store.create(job('job_A', { client: 'alice', batchId: 'batch_1', createdAt: at(1) }));
      await store.create(job('job_B', { client: 'alice', createdAt: at(2) }));
      await store.create(job('job_C', { client: 'bob', batchId: 'batch_1', createdAt: at(3) }));
      await store.create(job('job_D', { createdAt: at(4) }));
      await store.recordCancelled('job_A', AT);
      const ids = async (query: Parameters<JobStore['list']>[0]) =>
        (await store.list(query)).jobs.map((listed) => listed.jobId);

      expect(await ids({ client: 'alice', limit: 10 })).toEqual(['job_B', 'job_A']);
      expect(await ids({ client: 'default', limit: 10 })).toEqual(['job_D']);
      expect(await ids({ batchId: 'batch_1', limit: 10 })).toEqual(['job_C', 'job_A']);
      expect(await ids({ batchId: 'batch_1', client: 'bob', limit: 10 })).toEqual(['job_C']);
      expect(await ids({ client: 'alice', status: 'CANCELLED', limit: 10 })).toEqual(['job_A']);
      expect(await ids({ client: 'alice', createdOn: '2026-01-01', limit: 10 })).toHaveLength(2);
      expect(await ids({ client: 'alice', createdOn: '2026-01-02', limit: 10 })).toEqual([]);
    });

    it("keeps each client's waiting jobs in a queue of their own: by priority, then first come", async () => {
      const store = await freshStore();
      const alice = [
        job('job_a_low', { client: 'alice', priority: 'low', createdAt: at(1) }),
        job('job_a_normal', { client: 'alice', priority: 'normal', createdAt: at(2) }),
        job('job_a_high', { client: 'alice', priority: 'high', createdAt: at(3) }),
        // No priority: the default, normal.
        job('job_a_later', { client: 'alice', createdAt: at(4) }),
        job('job_a_high2', { client: 'alice', priority: 'high', createdAt: at(5) }),
      ];
      const bobs = job('job_b', { client: 'bob', priority: 'low', createdAt: at(0) });
      // No client: the default client's queue.
      const anyones = job('job_none', { createdAt: at(6) });
      for (const each of [...alice, bobs, anyones]) await store.create(each);
      // Parked in another order than they were created in: the queue orders them itself.
      for (const each of [anyones, bobs, ...[...alice].reverse()]) await store.enqueue(each, AT);
      const ids = (jobs: Job[]) => jobs.map((listed) => listed.jobId);

      expect(ids(await store.listWaiting('alice', 10))).toEqual([
        'job_a_high',
        'job_a_high2',
        'job_a_normal',
        'job_a_later',
        'job_a_low',
      ]);
      expect(ids(await store.listWaiting('alice', 2))).toEqual(['job_a_high', 'job_a_high2']);
      expect(ids(await store.listWaiting('bob', 10))).toEqual(['job_b']);
      expect(ids(await store.listWaiting('default', 10))).toEqual(['job_none']);
      expect(await store.listWaiting('carol', 10)).toEqual([]);
      expect(await store.get('job_a_low')).toEqual({
        ...alice[0],
        deferred: true,
        deferredReason: 'capacity',
        updatedAt: AT,
      });
    });

    it('takes a job out of its queue when it is claimed, cancelled, failed, deferred for the schedule or the budget, or its create is attempted', async () => {
      const store = await freshStore();
      const waiting = [1, 2, 3, 4, 5, 6, 7].map((n) =>
        job(`job_${n}`, { client: 'alice', createdAt: at(n) }),
      );
      for (const each of waiting) {
        await store.create(each);
        await store.enqueue(each, AT);
      }

      await store.claimDeferred('job_1', 'job_1-1', AT);
      await store.recordCancelled('job_2', AT);
      await store.recordFailed('job_3', FAILURE, AT);
      await store.deferJob('job_4', 'scheduled', AT);
      await store.deferJob('job_5', 'budget', AT);
      await store.markCreateAttempt('job_7', AT);
      const left = await store.listWaiting('alice', 10);
      // Back in the queue (a hand-off whose start failed; a scheduled job made admissible).
      await store.enqueue(waiting[0] as Job, AT);
      await store.enqueue(waiting[3] as Job, AT);

      expect(left.map((listed) => listed.jobId)).toEqual(['job_6']);
      expect(await store.countWaiting('alice', { max: 10 })).toBe(3);
      expect((await store.listWaiting('alice', 10)).map((listed) => listed.jobId)).toEqual([
        'job_1',
        'job_4',
        'job_6',
      ]);
      expect(await store.get('job_4')).toMatchObject({
        deferred: true,
        deferredReason: 'capacity',
      });
    });

    it("counts a client's waiting jobs, those ahead of one, no further than max", async () => {
      const store = await freshStore();
      const waiting = [1, 2, 3, 4, 5].map((n) =>
        job(`job_${n}`, { client: 'alice', createdAt: at(n) }),
      );
      for (const each of waiting) {
        await store.create(each);
        await store.enqueue(each, AT);
      }
      await store.create(job('job_bob', { client: 'bob' }));
      await store.enqueue(job('job_bob', { client: 'bob' }), AT);
      const third = waiting[2] as Job;
      // Not in the queue: where it would stand.
      const urgent = job('job_urgent', { client: 'alice', priority: 'high', createdAt: at(9) });
      const last = job('job_last', { client: 'alice', priority: 'low', createdAt: at(0) });

      expect(await store.countWaiting('alice', { max: 100 })).toBe(5);
      expect(await store.countWaiting('alice', { max: 3 })).toBe(3);
      expect(await store.countWaiting('alice', { before: third, max: 100 })).toBe(2);
      expect(await store.countWaiting('alice', { before: third, max: 1 })).toBe(1);
      expect(await store.countWaiting('alice', { before: waiting[0], max: 100 })).toBe(0);
      expect(await store.countWaiting('alice', { before: urgent, max: 100 })).toBe(0);
      expect(await store.countWaiting('alice', { before: last, max: 100 })).toBe(5);
      expect(await store.countWaiting('bob', { max: 100 })).toBe(1);
      expect(await store.countWaiting('carol', { max: 100 })).toBe(0);
      // Jobs a hand-off is starting are left out; a name not queued changes nothing.
      expect(
        await store.countWaiting('alice', { max: 100, excluding: ['job_1', 'job_4', 'job_x'] }),
      ).toBe(3);
      expect(
        await store.countWaiting('alice', { before: third, max: 100, excluding: ['job_1'] }),
      ).toBe(1);
      expect(await store.countWaiting('alice', { max: 2, excluding: ['job_1', 'job_2'] })).toBe(2);
      // More than the 100 operands one IN takes.
      const many = Array.from({ length: 150 }, (_, n) => `job_other_${n}`);
      expect(await store.countWaiting('alice', { max: 100, excluding: [...many, 'job_5'] })).toBe(
        4,
      );
    });

    it('parks for a slot only a job without a provider job that has not ended', async () => {
      const store = await freshStore();
      await started(store, 'job_running');
      await store.create(job('job_failed'));
      await store.recordFailed('job_failed', FAILURE, AT);

      const running = await failureOf(store.enqueue(job('job_running'), AT));
      const failed = await failureOf(store.enqueue(job('job_failed'), AT));
      const missing = await failureOf(store.enqueue(job('job_missing'), AT));

      expect(running).toBeInstanceOf(JobAlreadyStartedError);
      expect(failed).toBeInstanceOf(JobAlreadyTerminalError);
      expect(missing).toBeInstanceOf(JobNotFoundError);
      expect(await store.listWaiting('default', 10)).toEqual([]);
    });

    it('stamps the start of a job once, at its first admission, and never on a job that ended', async () => {
      const store = await freshStore();
      await store.create(job('job_A'));
      await store.create(job('job_B'));
      await store.recordCancelled('job_B', AT);

      await store.markStarted('job_A', at(1));
      await store.markStarted('job_A', at(2));
      await store.markStarted('job_B', at(1));
      await store.markStarted('job_missing', at(1));

      expect((await store.get('job_A'))?.startedAt).toBe(at(1));
      expect((await store.get('job_B'))?.startedAt).toBeUndefined();
      expect(await store.get('job_missing')).toBeUndefined();
    });

    it('records why a job was cancelled when told, and no error otherwise', async () => {
      const store = await freshStore();
      await store.create(job('job_A'));
      await store.create(job('job_B'));
      const reason = { code: 'start_timeout', message: 'Not started in time', retryable: true };

      const timedOut = await store.recordCancelled('job_A', AT, reason);
      const plain = await store.recordCancelled('job_B', AT);

      expect(timedOut).toMatchObject({
        cancelled: true,
        job: { status: 'CANCELLED', error: reason },
      });
      expect(await store.get('job_A')).toMatchObject({ error: reason, cancelledAt: AT });
      expect(plain.job.error).toBeUndefined();
      expect((await store.get('job_B'))?.error).toBeUndefined();
    });

    it('records webhook deliveries on any job, finished ones too, without changing its status', async () => {
      const store = await freshStore();
      await store.create(job('job_A'));
      await store.recordFailed('job_A', FAILURE, AT);
      const delivery = {
        webhookId: 'msg_job_A_video_failed',
        event: 'video.failed' as const,
        status: 'delivered' as const,
        attempts: 2,
        httpStatus: 204,
        at: AT,
      };

      await store.recordWebhookDelivery('job_A', delivery);

      expect(await store.get('job_A')).toMatchObject({
        status: 'FAILED',
        lastWebhookDelivery: delivery,
      });
      expect(await failureOf(store.recordWebhookDelivery('job_missing', delivery))).toBeInstanceOf(
        JobNotFoundError,
      );
    });
  });
}
