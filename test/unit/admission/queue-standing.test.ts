import { describe, expect, it } from 'vitest';
import { createAdmission } from '../../../functions/shared/admission/admission.ts';
import { InMemoryDurationStats } from '../../../functions/shared/admission/duration-stats.ts';
import { standingOf } from '../../../functions/shared/admission/queue-standing.ts';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import {
  InMemoryConcurrencySemaphore,
  InMemorySpendingBudget,
} from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingExecutions } from '../../support/recording-executions.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');

/**
 * Jobs parked and started by a real admission over the in-memory parts. Carol's jobs take every
 * slot but `free` first, so the jobs submitted after them wait.
 */
async function setup(options: { limit?: number; free?: number } = {}) {
  let now = NOW;
  const clock = () => now;
  const limit = options.limit ?? 1;
  const store = new InMemoryJobStore({ now: clock });
  const semaphore = new InMemoryConcurrencySemaphore(limit);
  const durations = new InMemoryDurationStats();
  const executions = recordingExecutions();
  const admission = createAdmission({
    store,
    semaphore,
    budget: new InMemorySpendingBudget(null),
    overBudgetAction: 'queue',
    priceOf: (job) => job.estimatedCostUsd,
    clock,
    executions,
    durations,
  });
  let created = 0;
  /** A job of `client`, stored and admitted (parked when no slot is free). */
  const submit = async (jobId: string, client: string, overrides: Partial<Job> = {}) => {
    created += 1;
    const stamp = new Date(NOW.getTime() - 3600_000 + created * 1000).toISOString();
    const job = aJob({ jobId, client, createdAt: stamp, updatedAt: stamp, ...overrides });
    store.seed(job);
    await admission.admit(job);
  };
  for (let n = 1; n <= limit - (options.free ?? 0); n += 1) await submit(`job_C${n}`, 'carol');
  const stored = async (jobId: string): Promise<Job> => {
    const found = await store.get(jobId);
    if (found === undefined) throw new Error(`${jobId} is not stored`);
    return found;
  };
  const standing = async (jobId: string) =>
    standingOf(await stored(jobId), { store, semaphore, durations, clock });
  const position = async (jobId: string) => (await standing(jobId))?.queue?.position;
  /** The provider rendered the job: its slot goes to the next waiting job. */
  const rendered = async (jobId: string) => {
    const done = await stored(jobId);
    await admission.settleRendered(done, done.estimatedCostUsd);
  };
  const advance = (seconds: number) => {
    now = new Date(now.getTime() + seconds * 1000);
  };
  const started = () => executions.started.map(({ jobId }) => jobId);
  return {
    store,
    semaphore,
    durations,
    submit,
    standing,
    position,
    rendered,
    advance,
    started,
    admission,
    stored,
  };
}

describe('standingOf: position', () => {
  it("puts the head of a client's queue at position 1, the rest behind it in order", async () => {
    const { submit, position } = await setup();
    await submit('job_A1', 'alice');
    await submit('job_A2', 'alice');
    await submit('job_A3', 'alice');

    expect([await position('job_A1'), await position('job_A2'), await position('job_A3')]).toEqual([
      1, 2, 3,
    ]);
  });

  it('puts a later high-priority job ahead of its client’s normal ones', async () => {
    const { submit, position } = await setup();
    await submit('job_A1', 'alice');
    await submit('job_A2', 'alice', { priority: 'high' });

    expect(await position('job_A2')).toBe(1);
    expect(await position('job_A1')).toBe(2);
  });

  it('interleaves the queues of two clients of equal weight, a tie going to the name that sorts first', async () => {
    const { submit, position } = await setup();
    for (let n = 1; n <= 4; n += 1) await submit(`job_B${n}`, 'bob');
    await submit('job_A1', 'alice');
    await submit('job_A2', 'alice');

    // Alice caught up to bob (clocks 0, ticks 1, 2, ...), ties to alice: A1, B1, A2, B2, B3, B4.
    expect(await position('job_A1')).toBe(1);
    expect(await position('job_A2')).toBe(3);
    expect(await position('job_B1')).toBe(2);
    expect(await position('job_B3')).toBe(5);
    expect(await position('job_B4')).toBe(6);
  });

  it('gives a client of weight 2 two places for each of the other’s', async () => {
    const { submit, position } = await setup();
    for (let n = 1; n <= 3; n += 1) await submit(`job_B${n}`, 'bob');
    for (let n = 1; n <= 4; n += 1) await submit(`job_A${n}`, 'alice', { share: { weight: 2 } });

    // Alice caught up to bob's tick 1 less her 1/2: ticks 1, 1.5, 2, 2.5 against bob's 1, 2, 3.
    // A1, B1, A2, A3, B2, A4, B3.
    expect(await position('job_A2')).toBe(3);
    expect(await position('job_A3')).toBe(4);
    expect(await position('job_A4')).toBe(6);
    expect(await position('job_B2')).toBe(5);
    expect(await position('job_B3')).toBe(7);
  });

  it('falls by one with every admission ahead', async () => {
    const { submit, position, rendered, started } = await setup();
    for (let n = 1; n <= 4; n += 1) await submit(`job_B${n}`, 'bob');
    await submit('job_A1', 'alice');
    await submit('job_A2', 'alice');
    const positions = async () => [await position('job_A2'), await position('job_B4')];
    // A1, B1, A2, B2, B3, B4.
    expect(await positions()).toEqual([3, 6]);

    await rendered('job_C1');
    expect(started()).toEqual(['job_A1']);
    expect(await positions()).toEqual([2, 5]);

    await rendered('job_A1');
    expect(started()).toEqual(['job_A1', 'job_B1']);
    expect(await positions()).toEqual([1, 4]);
  });

  it('counts a job of its own client caught mid-start (slot taken, still queued) as started', async () => {
    const { submit, position, semaphore } = await setup();
    for (let n = 1; n <= 2; n += 1) await submit(`job_B${n}`, 'bob');
    await submit('job_A1', 'alice');
    await submit('job_A2', 'alice');
    // A1, B1, A2, B2.
    expect(await position('job_A2')).toBe(3);

    // C1's slot freed, and a hand-off took it for A1 (alice's clock now 1) but has not yet taken
    // A1 out of the queue.
    await semaphore.release('job_C1');
    expect(await semaphore.acquire('job_A1', { client: 'alice', weight: 1 })).toBe(true);

    // A2 is alice's next (not her 2nd behind A1): its tick 2 comes after B1's 1 and wins the tie
    // with B2's.
    expect(await position('job_A1')).toBe(1);
    expect(await position('job_A2')).toBe(2);
  });

  it("does not count another client's job caught mid-start: the position does not grow for that moment", async () => {
    const { submit, position, semaphore } = await setup();
    await submit('job_A1', 'alice');
    for (let n = 1; n <= 2; n += 1) await submit(`job_B${n}`, 'bob');
    // A1, B1, B2.
    expect(await position('job_B2')).toBe(3);

    // C1's slot freed, and a hand-off took it for A1 (alice's clock now 1) but has not yet taken
    // A1 out of her queue: B2 stands behind B1 alone.
    await semaphore.release('job_C1');
    expect(await semaphore.acquire('job_A1', { client: 'alice', weight: 1 })).toBe(true);

    expect(await position('job_B1')).toBe(1);
    expect(await position('job_B2')).toBe(2);
  });

  it('reads the queues again when a hand-off lands between its reads: the position never jumps ahead', async () => {
    const { store, submit, position, semaphore } = await setup();
    await submit('job_A1', 'alice');
    for (let n = 1; n <= 3; n += 1) await submit(`job_B${n}`, 'bob');
    // A1, B1, B2, B3.
    expect(await position('job_B3')).toBe(4);

    // C1's slot frees, and a hand-off starts A1 while B3's position is read: its slot is taken
    // (alice's clock moves) after the pool was read, and A1 is out of her queue before the counts.
    await semaphore.release('job_C1');
    const state = semaphore.state.bind(semaphore);
    let reads = 0;
    semaphore.state = async () => {
      const read = await state();
      reads += 1;
      if (reads === 1) {
        expect(await semaphore.acquire('job_A1', { client: 'alice', weight: 1 })).toBe(true);
        expect(await store.claimDeferred('job_A1', 'job_A1-1', NOW.toISOString())).toBe(true);
      }
      return read;
    };

    // One place up, as A1 started: not two (the old clock with A1 gone from the count).
    expect(await position('job_B3')).toBe(3);
    expect(reads).toBe(3);
  });

  it('fails with the duration read failing while the queues are read, and leaves no unhandled rejection', async () => {
    const { submit, standing, semaphore, durations } = await setup();
    await submit('job_A1', 'alice');
    durations.typical = async () => {
      throw new Error('stats unavailable');
    };
    const state = semaphore.state.bind(semaphore);
    // The pool answers after the duration read has failed.
    semaphore.state = async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return state();
    };

    await expect(standing('job_A1')).rejects.toThrow('stats unavailable');
  });

  it("counts no more of another client's queue than can come before the job", async () => {
    const { store, submit, position } = await setup();
    for (let n = 1; n <= 30; n += 1) await submit(`job_B${n}`, 'bob');
    for (let n = 1; n <= 3; n += 1) await submit(`job_A${n}`, 'alice');
    const counted: { client: string; max: number }[] = [];
    const countWaiting = store.countWaiting.bind(store);
    store.countWaiting = async (client, options) => {
      counted.push({ client, max: options.max });
      return countWaiting(client, options);
    };
    const ofBob = () => counted.filter((count) => count.client === 'bob');

    // A3's tick 3: bob's ticks 1 and 2 come before it, his 3 ties and goes to alice.
    expect(await position('job_A3')).toBe(5);
    expect(ofBob()).toEqual([{ client: 'bob', max: 2 }]);

    // A1's tick 1 only ties with bob's first: none of his is read.
    counted.length = 0;
    expect(await position('job_A1')).toBe(1);
    expect(ofBob()).toEqual([]);
  });
});

describe('standingOf: estimates', () => {
  it('estimates a waiting job from the typical duration: slots free at the limit per duration', async () => {
    const { submit, standing, durations } = await setup({ limit: 2 });
    await durations.record('sora-2', '4', 100);
    await submit('job_A1', 'alice');
    await submit('job_A2', 'alice');
    await submit('job_A3', 'alice');

    // Position p starts after p / 2 durations, then runs one.
    expect(await standing('job_A1')).toEqual({ queue: { position: 1, etaSeconds: 150 } });
    expect(await standing('job_A3')).toEqual({ queue: { position: 3, etaSeconds: 250 } });
  });

  it("waits for its client's cap to let the jobs ahead of it through", async () => {
    const { submit, standing, durations } = await setup({ limit: 2 });
    await durations.record('sora-2', '4', 100);
    const capped = { share: { weight: 1, maxConcurrent: 1 } };
    await submit('job_A1', 'alice', capped);
    await submit('job_A2', 'alice', capped);
    await submit('job_A3', 'alice', capped);

    // Third of its client's, one at a time: three durations, then its own.
    expect(await standing('job_A3')).toEqual({ queue: { position: 3, etaSeconds: 400 } });
  });

  it('gives a position but no estimate without recent durations of its kind', async () => {
    const { submit, standing, durations } = await setup();
    await durations.record('sora-2-pro', '4', 100);
    await submit('job_A1', 'alice');

    expect(await standing('job_A1')).toEqual({ queue: { position: 1, etaSeconds: null } });
  });

  it('estimates a running job from the typical duration less the time since it was admitted', async () => {
    const { submit, standing, durations, advance } = await setup({ free: 1 });
    await durations.record('sora-2', '4', 100);
    await submit('job_A1', 'alice');

    advance(30);
    expect(await standing('job_A1')).toEqual({ etaSeconds: 70 });
    advance(100);
    expect(await standing('job_A1')).toEqual({ etaSeconds: 0 });
  });

  it('answers a null estimate for a running job without recent durations', async () => {
    const { submit, standing } = await setup({ free: 1 });
    await submit('job_A1', 'alice');

    expect(await standing('job_A1')).toEqual({ etaSeconds: null });
  });

  it('has no standing for an ended job or one deferred for the schedule', async () => {
    const { store, submit, standing, durations, admission, stored } = await setup();
    await durations.record('sora-2', '4', 100);
    await submit('job_A1', 'alice');
    await submit('job_A2', 'alice');
    await store.recordCancelled('job_A1', NOW.toISOString());
    await admission.returnToSchedule(await stored('job_A2'));

    expect(await standing('job_A1')).toBeUndefined();
    expect(await standing('job_A2')).toBeUndefined();
  });
});
