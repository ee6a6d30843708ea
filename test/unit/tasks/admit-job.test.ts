import { describe, expect, it } from 'vitest';
import { START_TIMEOUT } from '../../../functions/shared/admission/admission.ts';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import { JobAlreadyTerminalError } from '../../../functions/shared/jobs/job-errors.ts';
import { BudgetExceededError } from '../../../functions/shared/limits/limit-errors.ts';
import { createAdmitJobHandler } from '../../../functions/tasks/admit-job.ts';
import { catalogPrices } from '../../../functions/tasks/task-limits.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import {
  InMemoryConcurrencySemaphore,
  InMemorySpendingBudget,
  type InMemoryTaskLimits,
  inMemoryTaskLimits,
} from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';

/**
 * The AdmitJob step: a slot (within the global limit and the client's cap) and the job's cost
 * reserved on today's budget before anything is asked of the provider; parked in its client's
 * queue when there is no slot; deferred or refused when the budget cannot cover it.
 */

const NOW = new Date('2026-03-01T10:00:30.000Z');
const TODAY = '2026-03-01';
const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:generation';

function setup(overrides: Parameters<typeof inMemoryTaskLimits>[0] = {}) {
  const store = new InMemoryJobStore({ now: () => NOW });
  const limits = inMemoryTaskLimits({ store, clock: () => NOW, ...overrides });
  const admit = createAdmitJobHandler({ store, limits });
  /** A job as submission leaves it: QUEUED, its first execution named after it. */
  const seed = (overrides: Partial<Job> = {}) => {
    const job = aJob({ createdAt: NOW.toISOString(), updatedAt: NOW.toISOString(), ...overrides });
    store.seed({ executionName: job.jobId, ...job });
    return job;
  };
  const stored = async (jobId: string) => {
    const job = await store.get(jobId);
    if (!job) throw new Error(`job ${jobId} vanished`);
    return job;
  };
  return { store, limits, admit, seed, stored };
}

/** Fills the pool with other jobs (of client `other`), so the next job finds no slot. */
async function fill(limits: InMemoryTaskLimits, count: number) {
  for (let i = 0; i < count; i += 1) {
    await limits.semaphore.acquire(`job_other_${i}`, { client: 'other' });
  }
}

describe('admit-job', () => {
  it("takes a slot for the job's client and reserves its cost on today's budget, stamping its start", async () => {
    const { limits, admit, seed, stored } = setup({ budget: new InMemorySpendingBudget(10) });
    const job = seed({ client: 'alice', estimatedCostUsd: 0.4 });

    const state = await admit({ jobId: job.jobId, stateMachineArn: ARN });

    expect(state).toEqual({ admission: 'admitted' });
    expect(await limits.semaphore.slotHolders()).toEqual([{ jobId: job.jobId, client: 'alice' }]);
    expect(limits.budget.stateOf(job.jobId)).toBe('reserved');
    expect(await limits.budget.usage(TODAY)).toMatchObject({ reservedUsd: 0.4, startedJobs: 1 });
    expect(await limits.budget.clientUsage('alice', TODAY)).toMatchObject({ reservedUsd: 0.4 });
    expect(await stored(job.jobId)).toMatchObject({
      status: 'QUEUED',
      deferred: false,
      startedAt: NOW.toISOString(),
    });
    expect(limits.handOffs).toEqual([ARN]);
  });

  it("parks the job in its client's queue when every slot is taken: nothing reserved, no execution started", async () => {
    const { limits, admit, seed, stored, store } = setup({
      semaphore: new InMemoryConcurrencySemaphore(1),
    });
    await fill(limits, 1);
    const job = seed({ client: 'alice', share: { weight: 3 } });

    const state = await admit({ jobId: job.jobId, stateMachineArn: ARN });

    expect(state).toEqual({ admission: 'parked' });
    expect(await stored(job.jobId)).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'capacity',
    });
    expect((await stored(job.jobId)).startedAt).toBeUndefined();
    expect((await store.listWaiting('alice', 10)).map((waiting) => waiting.jobId)).toEqual([
      job.jobId,
    ]);
    expect((await limits.semaphore.state()).clients.alice).toMatchObject({
      waiting: true,
      weight: 3,
      running: 0,
    });
    expect(limits.budget.stateOf(job.jobId)).toBeUndefined();
    expect(await limits.semaphore.holders()).toEqual(['job_other_0']);
    expect(limits.started).toEqual([]);
  });

  it('starts the job again in a new execution when a slot frees while it parks', async () => {
    const { limits, admit, seed, stored, store } = setup({
      semaphore: new InMemoryConcurrencySemaphore(1),
    });
    await fill(limits, 1);
    const job = seed();
    // The holder ends between the job's refused acquire and its parking: its hand-off found
    // nobody waiting, so the parking job's own hand-off must start it.
    const enqueue = store.enqueue.bind(store);
    store.enqueue = async (parked, at) => {
      await limits.semaphore.release('job_other_0');
      await enqueue(parked, at);
    };

    const state = await admit({ jobId: job.jobId, stateMachineArn: ARN });

    expect(state).toEqual({ admission: 'parked' });
    expect(limits.started).toEqual([{ jobId: job.jobId, executionName: `${job.jobId}-1` }]);
    expect(await stored(job.jobId)).toMatchObject({
      status: 'QUEUED',
      deferred: false,
      executionName: `${job.jobId}-1`,
    });
    expect(limits.semaphore.holds(job.jobId)).toBe(true);
  });

  it('parks a job whose client is at its cap, while another client is admitted to a free slot', async () => {
    const { limits, admit, seed, stored } = setup();
    const share = { weight: 1, maxConcurrent: 1 };
    const first = seed({ jobId: 'job_bob_1', client: 'bob', share });
    const second = seed({ jobId: 'job_bob_2', client: 'bob', share });
    const alice = seed({ jobId: 'job_alice', client: 'alice' });

    const states = [
      await admit({ jobId: first.jobId, stateMachineArn: ARN }),
      await admit({ jobId: second.jobId, stateMachineArn: ARN }),
      await admit({ jobId: alice.jobId, stateMachineArn: ARN }),
    ];

    expect(states.map((state) => state.admission)).toEqual(['admitted', 'parked', 'admitted']);
    expect((await stored(second.jobId)).deferredReason).toBe('capacity');
    expect(await limits.semaphore.holders()).toEqual(['job_alice', 'job_bob_1']);
    expect(limits.started).toEqual([]);
  });

  it("over budget with 'queue': gives the slot back and defers the job for a later day", async () => {
    const { limits, admit, seed, stored } = setup({ budget: new InMemorySpendingBudget(1) });
    await limits.budget.reserve('job_earlier', 0.8, TODAY);
    const job = seed({ estimatedCostUsd: 0.4 });

    const state = await admit({ jobId: job.jobId, stateMachineArn: ARN });

    expect(state).toEqual({ admission: 'deferred' });
    expect(await stored(job.jobId)).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'budget',
    });
    expect((await stored(job.jobId)).startedAt).toBeUndefined();
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect(limits.budget.stateOf(job.jobId)).toBeUndefined();
  });

  it("over budget with 'reject': gives the slot back and refuses the job, saying why", async () => {
    const { limits, admit, seed, stored } = setup({
      budget: new InMemorySpendingBudget(1),
      overBudgetAction: 'reject',
    });
    await limits.budget.reserve('job_earlier', 0.8, TODAY);
    const job = seed({ estimatedCostUsd: 0.4 });

    const attempt = admit({ jobId: job.jobId, stateMachineArn: ARN });

    await expect(attempt).rejects.toThrow(BudgetExceededError);
    await expect(attempt).rejects.toThrow(
      "Not started: the daily budget of $1.00 for 2026-03-01 (UTC) cannot cover this job's $0.40: $0.80 is already reserved or spent",
    );
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect((await stored(job.jobId)).deferred).toBe(false);
  });

  it("defers a job over its client's own daily budget, naming the client, while others go on", async () => {
    const { limits, admit, seed, stored } = setup({ budget: new InMemorySpendingBudget(10) });
    const share = { weight: 1, dailyBudgetUsd: 0.5 };
    const first = seed({ jobId: 'job_bob_1', client: 'bob', share, estimatedCostUsd: 0.4 });
    const second = seed({ jobId: 'job_bob_2', client: 'bob', share, estimatedCostUsd: 0.4 });
    const alice = seed({ jobId: 'job_alice', client: 'alice', estimatedCostUsd: 0.4 });

    const states = [
      await admit({ jobId: first.jobId, stateMachineArn: ARN }),
      await admit({ jobId: second.jobId, stateMachineArn: ARN }),
      await admit({ jobId: alice.jobId, stateMachineArn: ARN }),
    ];

    expect(states.map((state) => state.admission)).toEqual(['admitted', 'deferred', 'admitted']);
    expect((await stored(second.jobId)).deferredReason).toBe('budget');
    expect(await limits.semaphore.holders()).toEqual(['job_alice', 'job_bob_1']);
  });

  it("refuses a job dearer than the whole daily budget even with 'queue': no day could fit it", async () => {
    const { limits, admit, seed, stored } = setup({
      budget: new InMemorySpendingBudget(1),
      priceOf: () => 2,
    });
    const job = seed({ estimatedCostUsd: 2 });

    const attempt = admit({ jobId: job.jobId, stateMachineArn: ARN });

    await expect(attempt).rejects.toThrow(BudgetExceededError);
    await expect(attempt).rejects.toThrow(
      "Not started: this job's $2.00 is more than the daily budget of $1.00",
    );
    expect((await stored(job.jobId)).deferred).toBe(false);
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
  });

  it('reserves at the current catalogue price, not the estimate made at submission', async () => {
    const { limits, admit, seed } = setup({
      budget: new InMemorySpendingBudget(10),
      // The catalogue prices sora-2 at $0.10/s: $0.40 for 4 s.
      priceOf: catalogPrices(testProviderConfig()),
    });
    const job = seed({ model: 'sora-2', seconds: '4', estimatedCostUsd: 0.25 });
    const retired = seed({ jobId: 'job_retired', model: 'sora-0', estimatedCostUsd: 0.3 });

    await admit({ jobId: job.jobId, stateMachineArn: ARN });
    const afterCurrent = (await limits.budget.usage(TODAY)).reservedUsd;
    await admit({ jobId: retired.jobId, stateMachineArn: ARN });

    expect(afterCurrent).toBe(0.4);
    // A model gone from the catalogue keeps the estimate it was submitted with.
    expect((await limits.budget.usage(TODAY)).reservedUsd).toBe(0.7);
  });

  it('takes one slot and one reservation however often the step is retried', async () => {
    const { limits, admit, seed } = setup({
      semaphore: new InMemoryConcurrencySemaphore(1),
      budget: new InMemorySpendingBudget(0.4),
    });
    const job = seed({ estimatedCostUsd: 0.4 });

    const first = await admit({ jobId: job.jobId, stateMachineArn: ARN });
    const again = await admit({ jobId: job.jobId, stateMachineArn: ARN });

    expect([first, again]).toEqual([{ admission: 'admitted' }, { admission: 'admitted' }]);
    expect(await limits.semaphore.holders()).toEqual([job.jobId]);
    expect(await limits.budget.usage(TODAY)).toMatchObject({ reservedUsd: 0.4, startedJobs: 1 });
  });

  it('admits a resumed job (its provider job recorded) without taking anything, though the slots are full', async () => {
    const { limits, admit, seed } = setup({ semaphore: new InMemoryConcurrencySemaphore(1) });
    await fill(limits, 1);
    const job = seed({ status: 'IN_PROGRESS', providerJobId: 'video_1', providerStatus: 'queued' });

    const state = await admit({ jobId: job.jobId, stateMachineArn: ARN });

    expect(state).toEqual({ admission: 'admitted' });
    expect(await limits.semaphore.holders()).toEqual(['job_other_0']);
    expect(limits.budget.stateOf(job.jobId)).toBeUndefined();
  });

  it('answers completed for a job that completed meanwhile, taking nothing', async () => {
    const { limits, admit, seed } = setup();
    const job = seed({ status: 'COMPLETED', providerJobId: 'video_1' });

    const state = await admit({ jobId: job.jobId, stateMachineArn: ARN });

    expect(state).toEqual({ admission: 'completed' });
    expect(await limits.semaphore.holders()).toEqual([]);
    expect(limits.budget.stateOf(job.jobId)).toBeUndefined();
  });

  it('refuses a job that ended (cancelled) with JobAlreadyTerminalError, taking nothing', async () => {
    const { limits, admit, seed } = setup();
    const job = seed({ status: 'CANCELLED', cancelledAt: NOW.toISOString() });

    await expect(admit({ jobId: job.jobId, stateMachineArn: ARN })).rejects.toThrow(
      JobAlreadyTerminalError,
    );
    expect(await limits.semaphore.holders()).toEqual([]);
    expect(limits.budget.stateOf(job.jobId)).toBeUndefined();
  });

  it('cancels a job whose start timeout passed before it was admitted, taking nothing', async () => {
    const { limits, admit, seed, stored } = setup();
    const job = seed({
      createdAt: new Date(NOW.getTime() - 60_000).toISOString(),
      startTimeoutSeconds: 60,
    });

    const state = await admit({ jobId: job.jobId, stateMachineArn: ARN });

    expect(state).toEqual({ admission: 'timed_out' });
    expect(await stored(job.jobId)).toMatchObject({
      status: 'CANCELLED',
      cancelledAt: NOW.toISOString(),
      error: { code: START_TIMEOUT, retryable: true },
    });
    expect(await limits.semaphore.holders()).toEqual([]);
    expect(limits.budget.stateOf(job.jobId)).toBeUndefined();
  });

  it('admits a job still within its start timeout', async () => {
    const { admit, seed } = setup();
    const job = seed({
      createdAt: new Date(NOW.getTime() - 59_000).toISOString(),
      startTimeoutSeconds: 60,
    });

    expect(await admit({ jobId: job.jobId, stateMachineArn: ARN })).toEqual({
      admission: 'admitted',
    });
  });
});
