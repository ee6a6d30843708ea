import { describe, expect, it } from 'vitest';
import { createAdmission } from '../../../functions/shared/admission/admission.ts';
import { InMemoryDurationStats } from '../../../functions/shared/admission/duration-stats.ts';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import { BudgetExceededError } from '../../../functions/shared/limits/limit-errors.ts';
import type { SlotHolder } from '../../../functions/shared/limits/limits.ts';
import type { OverBudgetAction } from '../../../functions/shared/limits/limits-config.ts';
import type { WebhookEvent } from '../../../functions/shared/webhooks/webhook-events.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import {
  InMemoryConcurrencySemaphore,
  InMemorySpendingBudget,
} from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingExecutions } from '../../support/recording-executions.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = '2026-06-01';

/** An admission over the in-memory store, slots and budget, its hand-offs' starts recorded. */
function setup(
  options: { limit?: number; budgetUsd?: number | null; overBudgetAction?: OverBudgetAction } = {},
) {
  let now = NOW;
  const clock = () => now;
  const store = new InMemoryJobStore({ now: clock });
  const semaphore = new InMemoryConcurrencySemaphore(options.limit ?? 2);
  const budget = new InMemorySpendingBudget(options.budgetUsd ?? null);
  const executions = recordingExecutions();
  const durations = new InMemoryDurationStats();
  const announced: [string, WebhookEvent][] = [];
  const admission = createAdmission({
    store,
    semaphore,
    budget,
    overBudgetAction: options.overBudgetAction ?? 'queue',
    priceOf: (job) => job.estimatedCostUsd,
    clock,
    executions,
    durations,
    notify: async (job, event) => void announced.push([job.jobId, event]),
  });
  let created = 0;
  /** A QUEUED job of `client`, stored, created a second after the previous one. */
  const job = (jobId: string, client: string, overrides: Partial<Job> = {}): Job => {
    created += 1;
    const stamp = new Date(NOW.getTime() - 3600_000 + created * 1000).toISOString();
    const made = aJob({ jobId, client, createdAt: stamp, updatedAt: stamp, ...overrides });
    store.seed(made);
    return made;
  };
  /** The job as stored now (what the next step reads). */
  const stored = async (jobId: string): Promise<Job> => {
    const found = await store.get(jobId);
    if (found === undefined) throw new Error(`${jobId} is not stored`);
    return found;
  };
  /** The provider rendered the job: settled as the poll step does. */
  const rendered = async (jobId: string) => {
    const done = await stored(jobId);
    await admission.settleRendered(done, done.estimatedCostUsd);
  };
  const started = () => executions.started.map(({ jobId }) => jobId);
  const advance = (seconds: number) => {
    now = new Date(now.getTime() + seconds * 1000);
  };
  return {
    admission,
    store,
    semaphore,
    budget,
    executions,
    durations,
    announced,
    job,
    stored,
    rendered,
    started,
    advance,
  };
}

describe('admit', () => {
  it("takes a slot and reserves the job's cost on today's budget and its client's, and stamps startedAt", async () => {
    const { admission, semaphore, budget, job, stored } = setup();
    const alice = job('job_A1', 'alice', { estimatedCostUsd: 0.4 });

    expect(await admission.admit(alice)).toBe('admitted');

    expect(semaphore.holds('job_A1')).toBe(true);
    expect(budget.stateOf('job_A1')).toBe('reserved');
    expect(await budget.clientUsage('alice', DAY)).toMatchObject({ reservedUsd: 0.4 });
    expect(await stored('job_A1')).toMatchObject({
      status: 'QUEUED',
      deferred: false,
      startedAt: NOW.toISOString(),
    });
  });

  it('takes nothing again for a resumed job that holds a provider job', async () => {
    const { admission, semaphore, budget, job } = setup();
    const resumed = job('job_A1', 'alice', { status: 'IN_PROGRESS', providerJobId: 'video_1' });

    expect(await admission.admit(resumed)).toBe('admitted');

    expect(semaphore.holds('job_A1')).toBe(false);
    expect(budget.stateOf('job_A1')).toBeUndefined();
  });

  it("parks a job when every slot is taken: in its client's queue, its client marked waiting, nothing taken", async () => {
    const { admission, store, semaphore, budget, job, stored } = setup({ limit: 1 });
    await admission.admit(job('job_A1', 'alice'));
    const bob = job('job_B1', 'bob', { share: { weight: 2 } });

    expect(await admission.admit(bob)).toBe('parked');

    expect(await stored('job_B1')).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'capacity',
    });
    expect((await stored('job_B1')).startedAt).toBeUndefined();
    expect((await store.listWaiting('bob', 10)).map((each) => each.jobId)).toEqual(['job_B1']);
    expect((await semaphore.state()).clients.bob).toMatchObject({ waiting: true, weight: 2 });
    expect(semaphore.holds('job_B1')).toBe(false);
    expect(budget.stateOf('job_B1')).toBeUndefined();
  });

  it('parks a client at its cap while another client is admitted', async () => {
    const { admission, semaphore, job } = setup({ limit: 4 });
    const capped = { share: { weight: 1, maxConcurrent: 1 } };

    expect(await admission.admit(job('job_B1', 'bob', capped))).toBe('admitted');
    expect(await admission.admit(job('job_B2', 'bob', capped))).toBe('parked');
    expect(await admission.admit(job('job_A1', 'alice'))).toBe('admitted');

    expect((await semaphore.state()).clients.bob).toMatchObject({
      running: 1,
      waiting: true,
      maxConcurrent: 1,
    });
  });

  it('starts a parked job at once when a slot freed while it was being parked', async () => {
    const { admission, store, semaphore, job, started } = setup({ limit: 1 });
    await admission.admit(job('job_A1', 'alice'));
    // A1 finishes between B1's refused acquire and its parking; that release's hand-off found
    // no queue yet.
    const enqueue = store.enqueue.bind(store);
    store.enqueue = async (waiting, at) => {
      await semaphore.release('job_A1');
      await enqueue(waiting, at);
    };

    expect(await admission.admit(job('job_B1', 'bob'))).toBe('parked');

    expect(started()).toEqual(['job_B1']);
    expect(semaphore.holds('job_B1')).toBe(true);
  });

  it("defers only the job its client's own daily budget cannot cover; other clients go on", async () => {
    const { admission, semaphore, budget, job, stored } = setup({ budgetUsd: 100, limit: 4 });
    const share = { share: { weight: 1, dailyBudgetUsd: 0.5 } };
    await admission.admit(job('job_A1', 'alice', { ...share, estimatedCostUsd: 0.4 }));

    const second = job('job_A2', 'alice', { ...share, estimatedCostUsd: 0.4 });
    expect(await admission.admit(second)).toBe('deferred');
    expect(await admission.admit(job('job_B1', 'bob', { estimatedCostUsd: 0.4 }))).toBe('admitted');

    expect(await stored('job_A2')).toMatchObject({ deferred: true, deferredReason: 'budget' });
    expect(semaphore.holds('job_A2')).toBe(false);
    expect(budget.stateOf('job_A2')).toBeUndefined();
    expect(await budget.clientUsage('alice', DAY)).toMatchObject({ reservedUsd: 0.4 });
    expect(semaphore.holds('job_B1')).toBe(true);
  });

  it("refuses, when over-budget jobs are rejected, naming the client's budget, and frees the slot", async () => {
    const { admission, semaphore, job } = setup({ budgetUsd: 100, overBudgetAction: 'reject' });
    const share = { share: { weight: 1, dailyBudgetUsd: 0.5 } };
    await admission.admit(job('job_A1', 'alice', { ...share, estimatedCostUsd: 0.4 }));

    const refused = admission.admit(job('job_A2', 'alice', { ...share, estimatedCostUsd: 0.4 }));

    await expect(refused).rejects.toThrow(BudgetExceededError);
    await expect(refused).rejects.toThrow("client alice's daily budget of $0.50");
    expect(semaphore.holds('job_A2')).toBe(false);
  });

  it("refuses a job dearer than its client's whole daily budget even when over-budget jobs wait", async () => {
    const { admission, job } = setup({ budgetUsd: 100 });
    const dear = job('job_A1', 'alice', {
      share: { weight: 1, dailyBudgetUsd: 0.5 },
      estimatedCostUsd: 0.8,
    });

    await expect(admission.admit(dear)).rejects.toThrow(
      "this job's $0.80 is more than client alice's daily budget of $0.50",
    );
  });

  it("defers a job the deployment's budget cannot cover to a later day", async () => {
    const { admission, semaphore, job, stored } = setup({ budgetUsd: 1 });
    await admission.admit(job('job_A1', 'alice', { estimatedCostUsd: 0.8 }));

    expect(await admission.admit(job('job_B1', 'bob', { estimatedCostUsd: 0.4 }))).toBe('deferred');

    expect(await stored('job_B1')).toMatchObject({ deferred: true, deferredReason: 'budget' });
    expect(semaphore.holds('job_B1')).toBe(false);
  });

  it('cancels a job past its start timeout with start_timeout, taking nothing', async () => {
    const { admission, semaphore, budget, job, stored, announced } = setup();
    const late = job('job_A1', 'alice', {
      createdAt: new Date(NOW.getTime() - 120_000).toISOString(),
      startTimeoutSeconds: 60,
      webhook: { url: 'https://hooks.example.com/sora', events: ['video.cancelled'] },
    });

    expect(await admission.admit(late)).toBe('timed_out');

    expect(await stored('job_A1')).toMatchObject({
      status: 'CANCELLED',
      error: { code: 'start_timeout', retryable: true, message: expect.stringContaining('60 s') },
    });
    expect(semaphore.holds('job_A1')).toBe(false);
    expect(budget.stateOf('job_A1')).toBeUndefined();
    expect(announced).toEqual([['job_A1', 'video.cancelled']]);
  });

  it('admits a job still within its start timeout', async () => {
    const { admission, job } = setup();
    const onTime = job('job_A1', 'alice', {
      createdAt: new Date(NOW.getTime() - 59_000).toISOString(),
      startTimeoutSeconds: 60,
    });

    expect(await admission.admit(onTime)).toBe('admitted');
  });

  it('runs a job on the deployment a concurrent hand-off took its slot on, never on the one it asked for', async () => {
    const store = new InMemoryJobStore({ now: () => NOW });
    const on = (id: string) => ({ client: 'alice', deployment: { id, maxConcurrent: 1 } });
    // west is full when admission reads the pool; then its job ends and a hand-off takes the
    // freed slot for job_A1, just before admission's own acquire on east.
    class RacedSemaphore extends InMemoryConcurrencySemaphore {
      #raced = false;
      override async acquire(
        jobId: string,
        owner?: Parameters<InMemoryConcurrencySemaphore['acquire']>[1],
      ): Promise<boolean> {
        if (jobId === 'job_A1' && !this.#raced) {
          this.#raced = true;
          await this.release('job_K', 'alice', 'west');
          await super.acquire('job_A1', on('west'));
        }
        return super.acquire(jobId, owner);
      }
    }
    const semaphore = new RacedSemaphore(3);
    await semaphore.acquire('job_K', on('west'));
    const admission = createAdmission({
      store,
      semaphore,
      budget: new InMemorySpendingBudget(null),
      overBudgetAction: 'queue',
      priceOf: (job) => job.estimatedCostUsd,
      clock: () => NOW,
      deploymentsOf: () => [
        { id: 'east', weight: 1, maxConcurrent: 1 },
        { id: 'west', weight: 1, maxConcurrent: 1 },
      ],
    });
    const alice = aJob({ jobId: 'job_A1', client: 'alice' });
    store.seed(alice);

    expect(await admission.admit(alice)).toBe('admitted');

    expect((await store.get('job_A1'))?.deployment).toBe('west');
    expect((await semaphore.state()).deployments).toEqual({ west: { holders: ['job_A1'] } });
  });
});

describe('handOff', () => {
  it('gives a client that starts waiting behind a flood its turn at once, then alternates', async () => {
    const { admission, semaphore, job, rendered, started } = setup({ limit: 4 });
    for (let n = 1; n <= 14; n += 1) await admission.admit(job(`job_B${n}`, 'bob'));
    await admission.admit(job('job_A1', 'alice'));
    await admission.admit(job('job_A2', 'alice'));
    // Bob took 4 slots (clock 4, next tick 5); alice caught up to that tick less her 1.
    expect((await semaphore.state()).clients.alice?.virtualClock).toBe(4);

    await rendered('job_B1');
    await rendered('job_B2');
    await rendered('job_B3');

    // Ticks: alice 5 ties bob's 5 and her name wins; then bob's 5 before her 6; then 6 each.
    // Bob's ten jobs parked earlier buy him nothing.
    expect(started()).toEqual(['job_A1', 'job_B5', 'job_A2']);
  });

  it('banks no credit for a client idle while another took 20 slots: it does not take 20 in a row', async () => {
    const { admission, semaphore, job, rendered, started } = setup({ limit: 2 });
    for (let n = 1; n <= 24; n += 1) await admission.admit(job(`job_B${n}`, 'bob'));
    const running = ['job_B1', 'job_B2'];
    /** The longest-running job renders; whatever its slot starts runs after the others. */
    const renderOldest = async () => {
      const before = started().length;
      await rendered(running.shift() as string);
      running.push(...started().slice(before));
    };
    for (let n = 1; n <= 18; n += 1) await renderOldest();
    // Bob alone took 20 slots: B1 and B2 at once, B3 to B20 handed off.
    expect(started()).toHaveLength(18);
    expect((await semaphore.state()).clients.bob?.virtualClock).toBe(20);

    for (let n = 1; n <= 6; n += 1) await admission.admit(job(`job_A${n}`, 'alice'));
    for (let n = 1; n <= 6; n += 1) await renderOldest();

    // Alice came in level with bob (clock 20, ticks 21, 22, ...), so they alternate.
    expect((await semaphore.state()).clients.alice?.virtualClock).toBe(23);
    expect(started().slice(18)).toEqual([
      'job_A1',
      'job_B21',
      'job_A2',
      'job_B22',
      'job_A3',
      'job_B23',
    ]);
  });

  it('starts a client’s jobs by priority, then first come', async () => {
    const { admission, job, rendered, started } = setup({ limit: 1 });
    await admission.admit(job('job_C1', 'carol'));
    await admission.admit(job('job_A1', 'alice', { priority: 'low' }));
    await admission.admit(job('job_A2', 'alice'));
    await admission.admit(job('job_A3', 'alice', { priority: 'high' }));
    await admission.admit(job('job_A4', 'alice', { priority: 'normal' }));

    await rendered('job_C1');
    await rendered('job_A3');
    await rendered('job_A2');
    await rendered('job_A4');

    expect(started()).toEqual(['job_A3', 'job_A2', 'job_A4', 'job_A1']);
  });

  it('starts a waiting job under its next execution name, holding its slot', async () => {
    const { admission, job, rendered, semaphore, executions, stored } = setup({ limit: 1 });
    await admission.admit(job('job_C1', 'carol'));
    await admission.admit(job('job_A1', 'alice', { executionName: 'job_A1' }));

    await rendered('job_C1');

    expect(executions.started).toEqual([{ jobId: 'job_A1', executionName: 'job_A1-1' }]);
    expect(await stored('job_A1')).toMatchObject({ deferred: false, executionName: 'job_A1-1' });
    expect(semaphore.holds('job_A1')).toBe(true);
  });

  it('passes over a client at its cap to the next one', async () => {
    const { admission, job, rendered, started } = setup({ limit: 4 });
    const capped = { share: { weight: 1, maxConcurrent: 1 } };
    await admission.admit(job('job_B1', 'bob', capped));
    await admission.admit(job('job_A1', 'alice'));
    await admission.admit(job('job_A2', 'alice'));
    await admission.admit(job('job_C1', 'carol'));
    await admission.admit(job('job_B2', 'bob', capped));
    await admission.admit(job('job_A3', 'alice'));

    await rendered('job_C1');

    // Bob holds fewer slots than alice, but is at his cap of 1.
    expect(started()).toEqual(['job_A3']);
  });

  it('gives the slot to the next client when the first one’s next job is refused by its own cap', async () => {
    const { admission, job, rendered, started } = setup({ limit: 4 });
    const capOf = (maxConcurrent: number) => ({ share: { weight: 1, maxConcurrent } });
    await admission.admit(job('job_A1', 'alice', capOf(1)));
    await admission.admit(job('job_B1', 'bob'));
    await admission.admit(job('job_B2', 'bob'));
    await admission.admit(job('job_C1', 'carol'));
    // Alice's cap was raised while A2 waited: the pool is marked with her latest share (2), but
    // A2 carries the cap of 1 it was submitted with, and alice holds 1.
    await admission.admit(job('job_A2', 'alice', capOf(1)));
    await admission.admit(job('job_A3', 'alice', capOf(2)));
    await admission.admit(job('job_B3', 'bob'));

    await rendered('job_C1');

    // Alice (1 held) comes before bob (2 held), but her next job cannot start: bob's does.
    expect(started()).toEqual(['job_B3']);
  });

  it('skips queue entries the index still shows for jobs that ended or started meanwhile', async () => {
    const { admission, store, semaphore, job, rendered, started } = setup({ limit: 3 });
    await admission.admit(job('job_C1', 'carol'));
    await admission.admit(job('job_C2', 'carol'));
    const ended = job('job_A1', 'alice');
    const running = job('job_A2', 'alice', { executionName: 'job_A2' });
    const waiting = job('job_A3', 'alice');
    // As the index last saw them: all three waiting. A1 was cancelled since; A2 was started by
    // another hand-off and holds its slot.
    const asIndexed = (listed: Job): Job => ({
      ...listed,
      deferred: true,
      deferredReason: 'capacity',
    });
    await store.recordCancelled('job_A1', NOW.toISOString());
    await semaphore.acquire('job_A2', { client: 'alice' });
    await admission.makeAdmissible(waiting);
    // The queue index lags behind the job items throughout.
    const listWaiting = store.listWaiting.bind(store);
    store.listWaiting = async (client, limit) => [
      ...(client === 'alice' ? [asIndexed(ended), asIndexed(running)] : []),
      ...(await listWaiting(client, limit)),
    ];

    await rendered('job_C1');
    await rendered('job_C2');

    expect(started()).toEqual(['job_A3']);
    expect(await semaphore.holders()).toEqual(['job_A2', 'job_A3']);
  });

  it('cancels a waiting job whose start timeout passed instead of starting it, and starts the next', async () => {
    const { admission, job, stored, rendered, started, advance } = setup({ limit: 1 });
    await admission.admit(job('job_C1', 'carol'));
    await admission.admit(job('job_A1', 'alice', { startTimeoutSeconds: 3600 + 60 }));
    await admission.admit(job('job_A2', 'alice'));
    advance(120);

    await rendered('job_C1');

    expect(await stored('job_A1')).toMatchObject({
      status: 'CANCELLED',
      error: { code: 'start_timeout' },
    });
    expect(started()).toEqual(['job_A2']);
  });

  it('puts a job back in its queue, its slot given back, when its start fails', async () => {
    const { admission, store, semaphore, executions, job, stored, started } = setup({ limit: 1 });
    await admission.admit(job('job_C1', 'carol'));
    await admission.admit(job('job_A1', 'alice'));
    const start = executions.start.bind(executions);
    executions.start = async () => {
      throw new Error('StartExecution throttled');
    };

    await expect(admission.settleRendered(await stored('job_C1'), 0.4)).rejects.toThrow(
      'StartExecution throttled',
    );

    expect(await stored('job_A1')).toMatchObject({ deferred: true, deferredReason: 'capacity' });
    expect((await store.listWaiting('alice', 10)).map((each) => each.jobId)).toEqual(['job_A1']);
    expect(semaphore.holds('job_A1')).toBe(false);
    // The next hand-off starts it, under a new name (the claimed one may have been used).
    executions.start = start;
    await admission.handOff();
    expect(started()).toEqual(['job_A1']);
    expect(executions.started[0]?.executionName).toBe('job_A1-1');
  });

  it('starts nothing when no slot is free', async () => {
    const { admission, job, started } = setup({ limit: 1 });
    await admission.admit(job('job_C1', 'carol'));
    await admission.admit(job('job_A1', 'alice'));

    expect(await admission.handOff()).toEqual([]);
    expect(started()).toEqual([]);
  });
});

describe('markWaiting', () => {
  it('catches a client that starts waiting up to the others, never moving its clock back', async () => {
    const { admission, semaphore, job } = setup({ limit: 10 });
    // Alice took 5 slots (clock 5) without ever waiting; bob starts waiting first, at clock 0.
    for (let n = 1; n <= 5; n += 1) await admission.admit(job(`job_A${n}`, 'alice'));
    await admission.markWaiting(job('job_B1', 'bob'));
    // Carol, idle at clock 0, comes in level with bob: his tick 1 less her 1/2.
    await admission.markWaiting(job('job_C1', 'carol', { share: { weight: 2 } }));

    // Alice starts waiting: the others' level (bob's tick 1 less her 1 = 0) is behind her 5.
    await admission.markWaiting(job('job_A6', 'alice'));

    const { clients } = await semaphore.state();
    expect([
      clients.alice?.virtualClock,
      clients.bob?.virtualClock,
      clients.carol?.virtualClock,
    ]).toEqual([5, 0, 0.5]);
    expect(clients.alice?.waiting).toBe(true);
  });
});

describe('settleRendered', () => {
  it('spends the cost, frees the slot, records the duration since admission and hands the slot on', async () => {
    const { admission, semaphore, budget, durations, job, rendered, started, advance } = setup({
      limit: 1,
    });
    await admission.admit(job('job_A1', 'alice', { estimatedCostUsd: 0.4 }));
    await admission.admit(job('job_B1', 'bob'));
    advance(90);

    await rendered('job_A1');

    expect(budget.stateOf('job_A1')).toBe('spent');
    expect(await budget.clientUsage('alice', DAY)).toMatchObject({
      reservedUsd: 0,
      spentUsd: 0.4,
    });
    expect(semaphore.holds('job_A1')).toBe(false);
    expect(await durations.typical('sora-2', '4')).toBe(90);
    expect(started()).toEqual(['job_B1']);
  });

  it('settled twice (poll, then download), records the duration and hands off once', async () => {
    const { admission, semaphore, budget, durations, job, rendered, started, advance } = setup();
    await admission.admit(job('job_A1', 'alice', { estimatedCostUsd: 0.4 }));
    await admission.admit(job('job_A2', 'alice'));
    await admission.admit(job('job_B1', 'bob'));
    await admission.admit(job('job_B2', 'bob'));
    advance(90);
    await rendered('job_A1');
    // A slot freed elsewhere, without a hand-off of its own.
    await semaphore.release('job_A2');
    advance(100);

    await rendered('job_A1');

    expect(started()).toEqual(['job_B1']);
    expect(await durations.typical('sora-2', '4')).toBe(90);
    expect(await budget.usage(DAY)).toMatchObject({ spentUsd: 0.4 });
  });
});

describe('settleAbandoned', () => {
  it('releases the reservation of a job the provider never took, frees its slot and hands it on', async () => {
    const { admission, semaphore, budget, job, stored, started } = setup({ limit: 1 });
    await admission.admit(job('job_A1', 'alice'));
    await admission.admit(job('job_B1', 'bob'));

    await admission.settleAbandoned(await stored('job_A1'));

    expect(budget.stateOf('job_A1')).toBe('released');
    expect(semaphore.holds('job_A1')).toBe(false);
    expect(started()).toEqual(['job_B1']);
  });

  it('spends the cost of a job whose provider job may still render', async () => {
    const { admission, semaphore, budget, job, stored } = setup();
    await admission.admit(job('job_A1', 'alice', { estimatedCostUsd: 0.4 }));
    const abandoned = { ...(await stored('job_A1')), providerJobId: 'video_1' };

    await admission.settleAbandoned({ ...abandoned, providerStatus: 'in_progress' });

    expect(budget.stateOf('job_A1')).toBe('spent');
    expect(await budget.usage(DAY)).toMatchObject({ spentUsd: 0.4, reservedUsd: 0 });
    expect(semaphore.holds('job_A1')).toBe(false);
  });

  it('releases the reservation of a job whose provider job failed', async () => {
    const { admission, budget, job, stored } = setup();
    await admission.admit(job('job_A1', 'alice'));
    const failed = { ...(await stored('job_A1')), providerJobId: 'video_1' };

    await admission.settleAbandoned({ ...failed, providerStatus: 'failed' });

    expect(budget.stateOf('job_A1')).toBe('released');
  });
});

describe('releaseUnrendered', () => {
  it('gives back the reservation and the slot, and hands the slot on', async () => {
    const { admission, semaphore, budget, job, stored, started } = setup({ limit: 1 });
    await admission.admit(job('job_A1', 'alice'));
    await admission.admit(job('job_B1', 'bob'));

    await admission.releaseUnrendered(await stored('job_A1'));

    expect(budget.stateOf('job_A1')).toBe('released');
    expect(semaphore.holds('job_A1')).toBe(false);
    expect(started()).toEqual(['job_B1']);
  });
});

describe('returnToSchedule', () => {
  it('defers the job for the schedule, out of the queue, and gives back its reservation and slot', async () => {
    const { admission, store, semaphore, budget, job, stored, started } = setup({ limit: 1 });
    await admission.admit(job('job_A1', 'alice'));
    await admission.admit(job('job_B1', 'bob'));

    await admission.returnToSchedule(await stored('job_A1'));

    expect(await stored('job_A1')).toMatchObject({ deferred: true, deferredReason: 'scheduled' });
    expect(await store.listWaiting('alice', 10)).toEqual([]);
    expect(budget.stateOf('job_A1')).toBe('released');
    expect(semaphore.holds('job_A1')).toBe(false);
    expect(started()).toEqual(['job_B1']);
  });
});

describe('makeAdmissible', () => {
  it("puts a job deferred for the schedule in its client's queue and marks the client waiting with its share", async () => {
    const { admission, store, semaphore, job, started } = setup();
    const scheduled = job('job_A1', 'alice', {
      deferred: true,
      deferredReason: 'scheduled',
      share: { weight: 3, maxConcurrent: 2 },
    });

    expect(await admission.makeAdmissible(scheduled)).toBe(true);

    expect((await store.listWaiting('alice', 10)).map((each) => each.jobId)).toEqual(['job_A1']);
    expect((await semaphore.state()).clients.alice).toMatchObject({
      waiting: true,
      weight: 3,
      maxConcurrent: 2,
    });
    // Starting it is the hand-off's.
    expect(started()).toEqual([]);
    await admission.handOff();
    expect(started()).toEqual(['job_A1']);
  });

  it('answers false and marks nothing for a job that ended or holds a provider job', async () => {
    const { admission, semaphore, job } = setup();
    const ended = job('job_A1', 'alice', { status: 'CANCELLED' });
    const running = job('job_B1', 'bob', { status: 'IN_PROGRESS', providerJobId: 'video_1' });

    expect(await admission.makeAdmissible(ended)).toBe(false);
    expect(await admission.makeAdmissible(running)).toBe(false);

    expect((await semaphore.state()).clients).toEqual({});
  });
});

describe('timeOut', () => {
  it('cancels once, giving back what a racing hand-off took, and announces it once', async () => {
    const { admission, semaphore, budget, job, stored, announced } = setup();
    const late = job('job_A1', 'alice', {
      startTimeoutSeconds: 60,
      webhook: { url: 'https://hooks.example.com/sora', events: ['video.cancelled'] },
    });
    await semaphore.acquire('job_A1', { client: 'alice' });
    await budget.reserve('job_A1', 0.4, DAY, { name: 'alice' });

    expect(await admission.timeOut(late)).toBe(true);
    expect(await admission.timeOut(late)).toBe(false);

    expect(await stored('job_A1')).toMatchObject({
      status: 'CANCELLED',
      error: { code: 'start_timeout' },
    });
    expect(semaphore.holds('job_A1')).toBe(false);
    expect(budget.stateOf('job_A1')).toBe('released');
    expect(announced).toEqual([['job_A1', 'video.cancelled']]);
  });
});

describe('reclaimLeaked', () => {
  it('frees the slots of the holders found leaked, keeps the others, and answers both', async () => {
    const { admission, semaphore } = setup({ limit: 4 });
    await semaphore.acquire('job_A1', { client: 'alice' });
    await semaphore.acquire('job_B1', { client: 'bob' });
    await semaphore.acquire('job_B2', { client: 'bob' });
    const asked: SlotHolder[] = [];

    const outcome = await admission.reclaimLeaked(async (holder) => {
      asked.push(holder);
      return holder.client === 'bob';
    });

    expect(outcome).toEqual({ released: ['job_B1', 'job_B2'], kept: 1 });
    expect(asked).toEqual([
      { jobId: 'job_A1', client: 'alice' },
      { jobId: 'job_B1', client: 'bob' },
      { jobId: 'job_B2', client: 'bob' },
    ]);
    expect(await semaphore.holders()).toEqual(['job_A1']);
  });
});

describe('recordOrphan', () => {
  it("charges an orphan's cost to today once", async () => {
    const { admission, budget, job } = setup();
    const attempted = job('job_A1', 'alice');

    const orphan = { providerJobId: 'video_9', job: attempted, costUsd: 0.4 };
    expect(await admission.recordOrphan(orphan)).toBe(true);
    expect(await admission.recordOrphan(orphan)).toBe(false);

    expect(await budget.usage(DAY)).toMatchObject({ orphanedUsd: 0.4, orphanedJobs: 1 });
  });
});
