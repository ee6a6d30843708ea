import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import { JobAlreadyTerminalError } from '../../../functions/shared/jobs/job-errors.ts';
import { RequestRateLimitedError } from '../../../functions/shared/limits/limit-errors.ts';
import type {
  ContentSource,
  StoredObject,
} from '../../../functions/shared/storage/video-storage.ts';
import { MAX_RATE_WAITS } from '../../../functions/shared/workflow/workflow-bounds.ts';
import { createAdmitJobHandler } from '../../../functions/tasks/admit-job.ts';
import { createCreateProviderJobHandler } from '../../../functions/tasks/create-provider-job.ts';
import { createDownloadVideoHandler } from '../../../functions/tasks/download-video.ts';
import { createPollProviderJobHandler } from '../../../functions/tasks/poll-provider-job.ts';
import { createRecordFailureHandler } from '../../../functions/tasks/record-failure.ts';
import { rateWaitSeconds } from '../../../functions/tasks/task-limits.ts';
import {
  InMemoryConcurrencySemaphore,
  InMemoryRequestRateLimiter,
  InMemorySpendingBudget,
  type InMemoryTaskLimits,
  inMemoryTaskLimits,
} from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingExecutions } from '../../support/recording-executions.ts';
import { startTaskWorld, type TaskWorld } from './task-world.ts';

/**
 * How the task handlers after admission use the shared limits: a request from the per-minute
 * allowance before every provider call, and the slot and reservation admission gave
 * (admit-job.test.ts) settled on every way out through admission (spent on success, released
 * on failure), the freed slot handed to the next waiting job.
 */

let world: TaskWorld;

beforeEach(async () => {
  // 10:00:30 UTC: half a minute to the next request allowance.
  world = await startTaskWorld();
  world.advance(30);
});

afterEach(async () => {
  await world.close();
});

const TODAY = '2026-03-01';

/** A job as submission leaves it: QUEUED, its first execution named after it. */
function seedJob(overrides: Partial<Job> = {}): Job {
  const now = world.clock().toISOString();
  const job = aJob({ createdAt: now, updatedAt: now, ...overrides });
  world.store.seed({ executionName: job.jobId, ...job });
  return job;
}

async function stored(jobId: string): Promise<Job> {
  const job = await world.store.get(jobId);
  if (!job) throw new Error(`job ${jobId} vanished`);
  return job;
}

/** Limits over the world's store and clock (admission reads and writes the jobs). */
function limitsFor(overrides: Parameters<typeof inMemoryTaskLimits>[0] = {}): InMemoryTaskLimits {
  return inMemoryTaskLimits({ store: world.store, clock: world.clock, ...overrides });
}

function admit(limits: InMemoryTaskLimits) {
  return createAdmitJobHandler({ store: world.store, limits });
}

/** A job the AdmitJob step admitted: it holds a slot and its reservation. */
async function admittedJob(limits: InMemoryTaskLimits, overrides: Partial<Job> = {}): Promise<Job> {
  const job = seedJob(overrides);
  expect(await admit(limits)({ jobId: job.jobId, stateMachineArn: 'arn:sm' })).toEqual({
    admission: 'admitted',
  });
  return stored(job.jobId);
}

/** A job the AdmitJob step parked: every slot was taken. */
async function parkedJob(limits: InMemoryTaskLimits, overrides: Partial<Job> = {}): Promise<Job> {
  const job = seedJob(overrides);
  expect(await admit(limits)({ jobId: job.jobId, stateMachineArn: 'arn:sm' })).toEqual({
    admission: 'parked',
  });
  return stored(job.jobId);
}

function create(limits: InMemoryTaskLimits) {
  return createCreateProviderJobHandler({
    store: world.store,
    provider: async () => world.provider,
    clock: world.clock,
    limits,
  });
}

function poll(limits: InMemoryTaskLimits) {
  return createPollProviderJobHandler({
    store: world.store,
    provider: async () => world.provider,
    clock: world.clock,
    limits,
  });
}

/** Storage that drains the content and pretends to store it. */
const drainingStorage = {
  async findVideo(): Promise<StoredObject | undefined> {
    return undefined;
  },
  async putVideo(jobId: string, content: ContentSource): Promise<StoredObject> {
    let bytes = 0;
    for await (const chunk of content.stream as Readable) bytes += (chunk as Buffer).length;
    return {
      bucket: 'videos',
      key: `videos/${jobId}/video.mp4`,
      bytes,
      sha256: 'f'.repeat(64),
      contentType: 'video/mp4',
    };
  },
  async putImage(jobId: string, variant: 'thumbnail' | 'spritesheet', content: ContentSource) {
    content.stream.resume();
    return {
      bucket: 'videos',
      key: `videos/${jobId}/${variant}`,
      bytes: 0,
      sha256: 'f'.repeat(64),
      contentType: content.contentType,
    };
  },
};

function download(limits: InMemoryTaskLimits) {
  return createDownloadVideoHandler({
    store: world.store,
    provider: async () => world.provider,
    storage: drainingStorage,
    clock: world.clock,
    limits,
  });
}

function recordFailure(limits: InMemoryTaskLimits) {
  return createRecordFailureHandler({
    store: world.store,
    clock: world.clock,
    limits,
    executionsOf: () => recordingExecutions(),
  });
}

/** A job admitted, then its provider job created (holding slot and reservation). */
async function startedJob(limits: InMemoryTaskLimits, overrides: Partial<Job> = {}): Promise<Job> {
  const job = await admittedJob(limits, overrides);
  const state = await create(limits)({ jobId: job.jobId });
  expect(state.status).toBe('queued');
  return stored(job.jobId);
}

describe('create-provider-job within the limits', () => {
  it('never admits: it creates whatever the slots and the budget say, taking neither', async () => {
    const limits = limitsFor({
      semaphore: new InMemoryConcurrencySemaphore(1),
      budget: new InMemorySpendingBudget(1),
    });
    await limits.semaphore.acquire('job_other');
    await limits.budget.reserve('job_earlier', 1, TODAY);
    const job = seedJob({ estimatedCostUsd: 0.4 });

    const state = await create(limits)({ jobId: job.jobId, stateMachineArn: 'arn:sm' });

    expect(state.status).toBe('queued');
    expect(world.sim.stats.creates).toBe(1);
    expect(await limits.semaphore.holders()).toEqual(['job_other']);
    expect(limits.budget.stateOf(job.jobId)).toBeUndefined();
    expect((await stored(job.jobId)).deferred).toBe(false);
  });

  it("waits for the next minute when the minute's provider requests are spent, keeping slot and reservation", async () => {
    const limits = limitsFor({
      rateLimiter: new InMemoryRequestRateLimiter(1),
      budget: new InMemorySpendingBudget(10),
    });
    await limits.rateLimiter.tryTake(world.clock());
    const job = await admittedJob(limits);

    const waiting = await create(limits)({ jobId: job.jobId });
    const stillHeld = limits.semaphore.holds(job.jobId);
    world.advance(waiting.waitSeconds);
    const created = await create(limits)({ jobId: job.jobId });

    expect(waiting).toMatchObject({
      status: 'waiting_for_rate_limit',
      waitSeconds: 30,
      rateWaits: 1,
    });
    expect(stillHeld).toBe(true);
    expect(created.status).toBe('queued');
    expect(world.sim.stats.creates).toBe(1);
    expect(limits.semaphore.holds(job.jobId)).toBe(true);
    expect(await limits.budget.usage(TODAY)).toMatchObject({ reservedUsd: 0.4, startedJobs: 1 });
  });

  it('counts the waits: the one before MAX_RATE_WAITS still waits', async () => {
    const limits = limitsFor({ rateLimiter: new InMemoryRequestRateLimiter(0) });
    const job = await admittedJob(limits);

    const state = await create(limits)({ jobId: job.jobId, rateWaits: MAX_RATE_WAITS - 1 });

    expect(state).toMatchObject({ status: 'waiting_for_rate_limit', rateWaits: MAX_RATE_WAITS });
    expect(limits.semaphore.holds(job.jobId)).toBe(true);
  });

  it('gives slot and reservation back and returns to the schedule after MAX_RATE_WAITS waits, handing the slot on', async () => {
    const limits = limitsFor({
      semaphore: new InMemoryConcurrencySemaphore(1),
      rateLimiter: new InMemoryRequestRateLimiter(0),
      budget: new InMemorySpendingBudget(10),
    });
    const job = await admittedJob(limits);
    const next = await parkedJob(limits, { jobId: 'job_next' });

    const state = await create(limits)({
      jobId: job.jobId,
      stateMachineArn: 'arn:sm',
      rateWaits: MAX_RATE_WAITS,
    });

    expect(state.status).toBe('deferred');
    expect(await stored(job.jobId)).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'scheduled',
    });
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect(limits.budget.stateOf(job.jobId)).toBe('released');
    expect(limits.started).toEqual([{ jobId: next.jobId, executionName: `${next.jobId}-1` }]);
    expect(world.sim.stats.requests).toBe(0);
  });
});

describe('poll-provider-job within the request rate', () => {
  it('takes one request from the allowance per poll', async () => {
    const limits = limitsFor();
    const job = await startedJob(limits);

    await poll(limits)({ jobId: job.jobId, pollCount: 0 });

    expect(limits.rateLimiter.taken(world.clock())).toBe(2);
  });

  it('skips the poll when the allowance is spent: no request, but counted, wait for the next minute', async () => {
    const limits = limitsFor({ rateLimiter: new InMemoryRequestRateLimiter(1) });
    const job = await startedJob(limits);
    const requestsBefore = world.sim.stats.requests;

    const state = await poll(limits)({ jobId: job.jobId, pollCount: 3 });

    expect(state).toEqual({
      status: 'queued',
      progress: 0,
      waitSeconds: 30,
      pollCount: 4,
      error: null,
    });
    expect(world.sim.stats.requests).toBe(requestsBefore);
  });
});

describe('poll-provider-job settles the money when the provider job ends', () => {
  it('spends the cost and hands the slot on as soon as the provider reports the render done', async () => {
    const limits = limitsFor({
      semaphore: new InMemoryConcurrencySemaphore(1),
      budget: new InMemorySpendingBudget(10),
    });
    const job = await startedJob(limits);
    const next = await parkedJob(limits, { jobId: 'job_next' });
    world.advance(600);

    const state = await poll(limits)({ jobId: job.jobId, pollCount: 0, stateMachineArn: 'arn:sm' });

    expect(state.status).toBe('completed');
    expect(limits.budget.stateOf(job.jobId)).toBe('spent');
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect(limits.started).toEqual([{ jobId: next.jobId, executionName: `${next.jobId}-1` }]);
    expect(limits.semaphore.holds(next.jobId)).toBe(true);
  });

  it('keeps slot and reservation while the render goes on', async () => {
    const limits = limitsFor({ budget: new InMemorySpendingBudget(10) });
    const job = await startedJob(limits);

    const state = await poll(limits)({ jobId: job.jobId, pollCount: 0, stateMachineArn: 'arn:sm' });

    expect(state.status).not.toBe('completed');
    expect(limits.semaphore.holds(job.jobId)).toBe(true);
    expect(limits.budget.stateOf(job.jobId)).toBe('reserved');
  });

  it('releases the reservation and the slot when the provider reports the render failed', async () => {
    const limits = limitsFor({ budget: new InMemorySpendingBudget(10) });
    const job = await startedJob(limits, { prompt: 'A cat [render-fail]' });
    world.advance(600);

    const state = await poll(limits)({ jobId: job.jobId, pollCount: 0 });

    expect(state.status).toBe('failed');
    expect(limits.budget.stateOf(job.jobId)).toBe('released');
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
  });
});

describe('download-video settles the limits', () => {
  async function finishedJob(limits: InMemoryTaskLimits): Promise<Job> {
    const job = await startedJob(limits);
    world.advance(600);
    return job;
  }

  it('gives the slot back, records the actual cost on the job and turns the reservation into spending', async () => {
    const limits = limitsFor({
      budget: new InMemorySpendingBudget(10),
      priceOf: () => 0.4,
    });
    const job = await finishedJob(limits);

    await download(limits)({ jobId: job.jobId });

    expect(await stored(job.jobId)).toMatchObject({ status: 'COMPLETED', actualCostUsd: 0.4 });
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect(await limits.budget.usage(TODAY)).toMatchObject({
      reservedUsd: 0,
      spentUsd: 0.4,
      completedJobs: 1,
    });
  });

  it('settles a job found COMPLETED (a retry after a crash) without downloading again, counting its cost once', async () => {
    const limits = limitsFor({ budget: new InMemorySpendingBudget(10) });
    const job = await finishedJob(limits);
    await download(limits)({ jobId: job.jobId });
    await limits.semaphore.acquire(job.jobId);
    const requestsBefore = world.sim.stats.requests;

    await download(limits)({ jobId: job.jobId });

    expect(world.sim.stats.requests).toBe(requestsBefore);
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect(await limits.budget.usage(TODAY)).toMatchObject({ spentUsd: 0.4, completedJobs: 1 });
  });

  it('throws RequestRateLimitedError when the allowance is spent, downloading nothing', async () => {
    const limits = limitsFor({ rateLimiter: new InMemoryRequestRateLimiter(1) });
    const job = await finishedJob(limits);
    await limits.rateLimiter.tryTake(world.clock());

    await expect(download(limits)({ jobId: job.jobId })).rejects.toThrow(RequestRateLimitedError);
    expect((await stored(job.jobId)).status).toBe('IN_PROGRESS');
    expect(limits.semaphore.holds(job.jobId)).toBe(true);
  });
});

describe('record-failure releases the limits', () => {
  const rejected = {
    Error: 'ProviderRejectedError',
    Cause: JSON.stringify({
      errorType: 'ProviderRejectedError',
      errorMessage: 'create: rejected by the provider (400 moderation_blocked): Blocked.',
    }),
  };

  it('gives back the slot and reservation of a job the provider never rendered, and hands the slot on', async () => {
    const limits = limitsFor({
      semaphore: new InMemoryConcurrencySemaphore(1),
      budget: new InMemorySpendingBudget(10),
    });
    const job = await admittedJob(limits);
    const next = await parkedJob(limits, { jobId: 'job_next' });

    await recordFailure(limits)({ jobId: job.jobId, error: rejected, stateMachineArn: 'arn:sm' });

    expect((await stored(job.jobId)).status).toBe('FAILED');
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect(limits.budget.stateOf(job.jobId)).toBe('released');
    expect(await limits.budget.usage(TODAY)).toMatchObject({ reservedUsd: 0, spentUsd: 0 });
    expect(limits.started).toEqual([{ jobId: next.jobId, executionName: `${next.jobId}-1` }]);
  });

  it('counts as spent a job whose download failed after the provider rendered it', async () => {
    const limits = limitsFor({ budget: new InMemorySpendingBudget(10) });
    const job = await startedJob(limits);
    world.advance(600);
    await poll(limits)({ jobId: job.jobId, pollCount: 0 });
    const expired = {
      Error: 'ProviderContentExpiredError',
      Cause: JSON.stringify({ errorType: 'ProviderContentExpiredError', errorMessage: 'expired' }),
    };

    const result = await recordFailure(limits)({ jobId: job.jobId, error: expired });

    expect(result).toMatchObject({ status: 'FAILED', resumed: false });
    expect(limits.budget.stateOf(job.jobId)).toBe('spent');
    expect(await limits.budget.usage(TODAY)).toMatchObject({ reservedUsd: 0, spentUsd: 0.4 });
  });

  it('resumes a job whose execution ran out of retries with its provider job alive, keeping slot and reservation', async () => {
    const limits = limitsFor({ budget: new InMemorySpendingBudget(10) });
    const job = await startedJob(limits);
    const executions = recordingExecutions();
    const transient = {
      Error: 'ProviderTransientError',
      Cause: JSON.stringify({ errorType: 'ProviderTransientError', errorMessage: '502' }),
    };

    const result = await createRecordFailureHandler({
      store: world.store,
      clock: world.clock,
      limits,
      executionsOf: () => executions,
    })({ jobId: job.jobId, error: transient, stateMachineArn: 'arn:sm', executionName: job.jobId });

    expect(result).toMatchObject({ status: 'IN_PROGRESS', resumed: true });
    expect(executions.started).toEqual([{ jobId: job.jobId, executionName: `${job.jobId}-1` }]);
    expect(await stored(job.jobId)).toMatchObject({
      resumeCount: 1,
      executionName: `${job.jobId}-1`,
    });
    expect(limits.semaphore.holds(job.jobId)).toBe(true);
    expect(limits.budget.stateOf(job.jobId)).toBe('reserved');
  });

  it('settles a job it finds COMPLETED instead: its cost is spent, not returned', async () => {
    const limits = limitsFor({ budget: new InMemorySpendingBudget(10) });
    const job = await startedJob(limits);
    world.store.seed({ ...(await stored(job.jobId)), status: 'COMPLETED', actualCostUsd: 0.4 });

    await recordFailure(limits)({ jobId: job.jobId, error: rejected });

    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect(await limits.budget.usage(TODAY)).toMatchObject({ reservedUsd: 0, spentUsd: 0.4 });
  });

  it('records a budget refusal as budget_exceeded with the reason, retryable another day', async () => {
    const limits = limitsFor({
      budget: new InMemorySpendingBudget(1),
      overBudgetAction: 'reject',
    });
    await limits.budget.reserve('job_earlier', 0.8, TODAY);
    const job = seedJob({ estimatedCostUsd: 0.4 });
    const refusal = await admit(limits)({ jobId: job.jobId }).catch((error: Error) => error);
    const caught = {
      Error: 'BudgetExceededError',
      Cause: JSON.stringify({
        errorType: 'BudgetExceededError',
        errorMessage: refusal instanceof Error ? refusal.message : '',
      }),
    };

    const result = await recordFailure(limits)({ jobId: job.jobId, error: caught });

    expect(result.code).toBe('budget_exceeded');
    expect((await stored(job.jobId)).error).toEqual({
      code: 'budget_exceeded',
      message:
        "Not started: the daily budget of $1.00 for 2026-03-01 (UTC) cannot cover this job's $0.40: $0.80 is already reserved or spent",
      retryable: true,
    });
  });
});

describe('waits', () => {
  it('waits for a rate limit until the next minute, plus up to 5 s of jitter', () => {
    const at = new Date('2026-03-01T10:00:45.500Z');

    expect(rateWaitSeconds(at, () => 0)).toBe(15);
    expect(rateWaitSeconds(at, () => 0.999)).toBe(20);
  });
});

describe('record-failure and executions that no longer drive the job', () => {
  it('leaves a job alone when a newer execution drives it: no failure, slot and reservation kept', async () => {
    const limits = limitsFor({ budget: new InMemorySpendingBudget(10) });
    const job = await startedJob(limits);
    await world.store.claimResume(
      job.jobId,
      { from: job.jobId, to: `${job.jobId}-1`, maxResumes: 5 },
      world.clock().toISOString(),
    );
    const rejected = { Error: 'ProviderRejectedError', Cause: 'refused' };

    const result = await recordFailure(limits)({
      jobId: job.jobId,
      error: rejected,
      executionName: job.jobId,
    });

    expect(result).toMatchObject({ status: 'IN_PROGRESS', resumed: false });
    expect((await stored(job.jobId)).status).toBe('IN_PROGRESS');
    expect(limits.semaphore.holds(job.jobId)).toBe(true);
    expect(limits.budget.stateOf(job.jobId)).toBe('reserved');
  });
});

describe('identical requests and the ledger', () => {
  it("takes the unclaimed twin when a job whose create answer was lost adopted this job's provider job first", async () => {
    const limits = limitsFor();
    const ambiguous = seedJob({ jobId: 'job_A' });
    const job = seedJob({ jobId: 'job_B' });
    const { provider } = world;
    const providerCreate = provider.create.bind(provider);
    let twin = '';
    provider.create = async (request) => {
      // A's create reached the provider, its answer never came back...
      twin = (await providerCreate({ ...request, idempotencyKey: 'sora-pipeline-job_A' })).id;
      const video = await providerCreate(request);
      // ...and A, reconciling, adopted B's identical job before B could record it.
      await world.store.recordProviderJob(ambiguous.jobId, {
        providerJobId: video.id,
        providerStatus: 'queued',
        progress: 0,
      });
      return video;
    };

    const state = await create(limits)({ jobId: job.jobId });

    expect(state.status).toBe('queued');
    expect((await stored(job.jobId)).providerJobId).toBe(twin);
    expect(world.store.holderOf(twin)).toBe(job.jobId);
    expect(world.sim.stats.creates).toBe(2);
  });
});

describe('orphaned provider jobs', () => {
  it('records a provider job created for a job closed meanwhile as an orphan: cost counted, deleted at the provider, slot and reservation given back', async () => {
    const limits = limitsFor({ budget: new InMemorySpendingBudget(10) });
    const job = await admittedJob(limits, { estimatedCostUsd: 0.4 });
    // The job is closed while its create is on the wire.
    const { provider } = world;
    const create = provider.create.bind(provider);
    provider.create = async (request) => {
      const video = await create(request);
      await world.store.recordFailed(
        job.jobId,
        { code: 'cancelled', message: 'closed meanwhile', retryable: false },
        world.clock().toISOString(),
      );
      return video;
    };
    const step = createCreateProviderJobHandler({
      store: world.store,
      provider: async () => provider,
      clock: world.clock,
      limits,
    });

    await expect(step({ jobId: job.jobId })).rejects.toThrow(JobAlreadyTerminalError);

    const created = world.sim.stats.videos;
    expect(created).toHaveLength(1);
    expect([...limits.budget.orphans.keys()]).toEqual([created[0]?.id]);
    expect(await limits.budget.usage(TODAY)).toMatchObject({
      orphanedUsd: 0.4,
      orphanedJobs: 1,
      reservedUsd: 0,
    });
    expect(limits.budget.stateOf(job.jobId)).toBe('released');
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect(created[0]?.deleted).toBe(true);
  });
});
