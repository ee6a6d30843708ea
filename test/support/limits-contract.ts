import { describe, expect, it } from 'vitest';
import type {
  ConcurrencySemaphore,
  RequestRateLimiter,
  SpendingBudget,
} from '../../functions/shared/limits/limits.ts';

/**
 * One contract for every implementation of the limits (functions/shared/limits/limits.ts): the
 * in-memory fakes the unit tests use and the DynamoDB adapters, run on DynamoDB Local. A fake
 * that passes it behaves as production does, so a unit test on the fake proves something.
 * Each factory call returns a fresh, empty instance.
 */
export interface LimitsImplementations {
  semaphore(limit: number): Promise<ConcurrencySemaphore>;
  rateLimiter(requestsPerMinute: number): Promise<RequestRateLimiter>;
  budget(dailyLimitUsd: number | null): Promise<SpendingBudget>;
}

const jobIds = (count: number) => Array.from({ length: count }, (_, i) => `job_${i}`);
const DAY = '2026-03-01';

export function limitsContract(name: string, implementations: () => LimitsImplementations) {
  describe(`ConcurrencySemaphore contract: ${name}`, () => {
    it('admits exactly `limit` of 20 parallel acquires', async () => {
      const semaphore = await implementations().semaphore(2);

      const results = await Promise.all(jobIds(20).map((jobId) => semaphore.acquire(jobId)));

      const admitted = jobIds(20).filter((_, i) => results[i]);
      expect(admitted).toHaveLength(2);
      expect(await semaphore.holders()).toEqual([...admitted].sort());
    });

    it('is idempotent per job, frees a slot on release, says whether it freed one', async () => {
      const semaphore = await implementations().semaphore(2);

      expect(await semaphore.acquire('job_a')).toBe(true);
      expect(await semaphore.acquire('job_b')).toBe(true);
      expect(await semaphore.acquire('job_a')).toBe(true);
      expect(await semaphore.acquire('job_c')).toBe(false);
      expect(await semaphore.release('job_a')).toBe(true);
      expect(await semaphore.release('job_a')).toBe(false);
      expect(await semaphore.acquire('job_c')).toBe(true);
      await semaphore.release('job_b');
      await semaphore.release('job_c');

      expect(await semaphore.holders()).toEqual([]);
      expect(await semaphore.acquire('job_d')).toBe(true);
    });

    it('counts a job on one deployment: asked again there it holds it, asked for another it is refused, nothing moved', async () => {
      const semaphore = await implementations().semaphore(3);
      const on = (id: string) => ({ client: 'default', deployment: { id, maxConcurrent: 2 } });

      expect(await semaphore.acquire('job_a', on('east'))).toBe(true);
      expect(await semaphore.acquire('job_a', on('east'))).toBe(true);
      // Its slot is east's: true here would run it on west, counted on east.
      expect(await semaphore.acquire('job_a', on('west'))).toBe(false);
      expect(await semaphore.acquire('job_b', on('west'))).toBe(true);

      expect((await semaphore.state()).deployments).toEqual({
        east: { holders: ['job_a'] },
        west: { holders: ['job_b'] },
      });
      expect(await semaphore.holders()).toEqual(['job_a', 'job_b']);
    });
  });

  describe(`ConcurrencySemaphore contract, clients' caps and the fair share's state: ${name}`, () => {
    const alice = { client: 'alice', maxConcurrent: 1 };
    const bob = { client: 'bob' };

    it('refuses a client at its cap while admitting another, and frees its count on release', async () => {
      const semaphore = await implementations().semaphore(3);

      const first = await semaphore.acquire('job_a1', alice);
      const overCap = await semaphore.acquire('job_a2', alice);
      const retried = await semaphore.acquire('job_a1', alice);
      const other = await semaphore.acquire('job_b1', bob);
      const freed = await semaphore.release('job_a1', 'alice');
      const afterRelease = await semaphore.acquire('job_a2', alice);

      expect([first, overCap, retried, other, freed, afterRelease]).toEqual([
        true,
        false,
        true,
        true,
        true,
        true,
      ]);
      expect(await semaphore.slotHolders()).toEqual([
        { jobId: 'job_a2', client: 'alice' },
        { jobId: 'job_b1', client: 'bob' },
      ]);
    });

    it("never lets parallel acquires pass a client's cap or the pool's limit", async () => {
      const semaphore = await implementations().semaphore(5);

      const [alices, bobs] = await Promise.all([
        Promise.all(
          jobIds(10).map((jobId) =>
            semaphore.acquire(`alice_${jobId}`, { client: 'alice', maxConcurrent: 2 }),
          ),
        ),
        Promise.all(jobIds(10).map((jobId) => semaphore.acquire(`bob_${jobId}`, bob))),
      ]);

      const running = (await semaphore.state()).clients;
      expect(alices.filter(Boolean).length).toBeLessThanOrEqual(2);
      expect(alices.filter(Boolean).length + bobs.filter(Boolean).length).toBe(5);
      expect(running.alice?.running ?? 0).toBe(alices.filter(Boolean).length);
      expect(running.bob?.running).toBe(bobs.filter(Boolean).length);
      expect(await semaphore.holders()).toHaveLength(5);
    });

    it('reports the slots in use, and per client the slots running, whether it waits, its weight and cap', async () => {
      const semaphore = await implementations().semaphore(4);
      await semaphore.acquire('job_a1', { client: 'alice' });
      await semaphore.acquire('job_b1', bob);
      await semaphore.acquire('job_b2', bob);
      await semaphore.markWaiting('bob', { weight: 3 });
      await semaphore.markWaiting('carol', { weight: 2, maxConcurrent: 1 });

      const state = await semaphore.state();

      expect(state).toMatchObject({
        limit: 4,
        inUse: 3,
        clients: {
          alice: { running: 1, waiting: false, weight: 1 },
          bob: { running: 2, waiting: true, weight: 3 },
          carol: { running: 0, waiting: true, weight: 2, maxConcurrent: 1 },
        },
      });
      expect(Object.keys(state.clients).sort()).toEqual(['alice', 'bob', 'carol']);
      expect(state.clients.bob?.maxConcurrent).toBeUndefined();
      // Served: a slot taken; never served sorts first in the fair share's ties.
      expect(state.clients.alice?.lastServedAt).toBeDefined();
      expect(state.clients.bob?.lastServedAt).toBeDefined();
      expect(state.clients.carol?.lastServedAt).toBeUndefined();
    });

    it("takes a client's latest weight and cap, and drops a cap it no longer has", async () => {
      const semaphore = await implementations().semaphore(4);
      await semaphore.markWaiting('carol', { weight: 2, maxConcurrent: 1 });

      await semaphore.markWaiting('carol', { weight: 5 });

      const carol = (await semaphore.state()).clients.carol;
      expect(carol).toMatchObject({ waiting: true, weight: 5 });
      expect(carol?.maxConcurrent).toBeUndefined();
    });

    it('clears a waiting mark only when it was made before markedBefore (the grace for the queue index)', async () => {
      const semaphore = await implementations().semaphore(4);
      await semaphore.markWaiting('bob', { weight: 1 });
      const waiting = async () => (await semaphore.state()).clients.bob?.waiting;

      await semaphore.clearWaiting('bob', '2000-01-01T00:00:00.000Z');
      const afterEarlyClear = await waiting();
      await semaphore.clearWaiting('bob', '2999-01-01T00:00:00.000Z');
      const afterClear = await waiting();
      await semaphore.clearWaiting('carol', '2999-01-01T00:00:00.000Z');

      expect(afterEarlyClear).toBe(true);
      expect(afterClear).toBe(false);
      expect((await semaphore.state()).clients.carol).toBeUndefined();
    });
  });

  describe(`RequestRateLimiter contract: ${name}`, () => {
    it('lets exactly the limit through in one minute, and starts afresh the next minute', async () => {
      const limiter = await implementations().rateLimiter(5);
      const minute = new Date('2026-03-01T10:05:10.000Z');

      const taken = await Promise.all(Array.from({ length: 12 }, () => limiter.tryTake(minute)));
      const sameMinuteLater = await limiter.tryTake(new Date('2026-03-01T10:05:59.999Z'));
      const nextMinute = await limiter.tryTake(new Date('2026-03-01T10:06:00.000Z'));

      expect(taken.filter(Boolean)).toHaveLength(5);
      expect(sameMinuteLater).toBe(false);
      expect(nextMinute).toBe(true);
    });
  });

  describe(`SpendingBudget contract: ${name}`, () => {
    it('never lets parallel reservations exceed the limit: $1.20 covers exactly 3 of 12 jobs at $0.40', async () => {
      const budget = await implementations().budget(1.2);

      const results = await Promise.all(jobIds(12).map((jobId) => budget.reserve(jobId, 0.4, DAY)));
      const usage = await budget.usage(DAY);

      expect(results.filter((result) => result === 'reserved')).toHaveLength(3);
      expect(usage).toMatchObject({ limitUsd: 1.2, reservedUsd: 1.2, spentUsd: 0, startedJobs: 3 });
    });

    it('counts a job reserved in parallel with itself once', async () => {
      const budget = await implementations().budget(10);

      const results = await Promise.all(
        Array.from({ length: 6 }, () => budget.reserve('job_same', 0.4, DAY)),
      );

      expect(results).toEqual(Array(6).fill('reserved'));
      expect(await budget.usage(DAY)).toMatchObject({ reservedUsd: 0.4, startedJobs: 1 });
    });

    it('settles each job once, on its reservation day: repeated release and spending change nothing', async () => {
      const budget = await implementations().budget(1.2);
      await budget.reserve('job_done', 0.4, DAY);
      await budget.reserve('job_failed', 0.4, DAY);
      await budget.reserve('job_third', 0.4, DAY);
      expect(await budget.reserve('job_fourth', 0.4, DAY)).toBe('exceeded');

      await budget.recordSpent('job_done', 0.4, '2026-03-02');
      await budget.recordSpent('job_done', 0.4, '2026-03-02');
      await budget.release('job_failed', DAY);
      await budget.release('job_failed', DAY);
      await budget.release('job_done', DAY);

      expect(await budget.usage(DAY)).toEqual({
        day: DAY,
        limitUsd: 1.2,
        reservedUsd: 0.4,
        spentUsd: 0.4,
        startedJobs: 3,
        completedJobs: 1,
        orphanedUsd: 0,
        orphanedJobs: 0,
      });
      expect((await budget.usage('2026-03-02')).spentUsd).toBe(0);
      // The failed job's share is free again: one more job fits, and no more.
      expect(await budget.reserve('job_fourth', 0.4, DAY)).toBe('reserved');
      expect(await budget.reserve('job_fifth', 0.4, DAY)).toBe('exceeded');
    });

    it('charges an orphan once to the day, against the limit', async () => {
      const budget = await implementations().budget(1);
      const orphan = { providerJobId: 'video_orphan', attemptedBy: 'job_gone', costUsd: 0.4 };

      const first = await budget.recordOrphan(orphan, DAY);
      const again = await budget.recordOrphan(orphan, DAY);

      expect([first, again]).toEqual([true, false]);
      expect(await budget.usage(DAY)).toMatchObject({ orphanedUsd: 0.4, orphanedJobs: 1 });
      expect(await budget.reserve('job_a', 0.4, DAY)).toBe('reserved');
      expect(await budget.reserve('job_b', 0.4, DAY)).toBe('exceeded');
    });

    it('has no limit when given none', async () => {
      const budget = await implementations().budget(null);

      const results = await Promise.all(jobIds(5).map((jobId) => budget.reserve(jobId, 100, DAY)));

      expect(results).toEqual(Array(5).fill('reserved'));
      expect(await budget.usage(DAY)).toMatchObject({ limitUsd: null, reservedUsd: 500 });
    });
  });

  describe(`SpendingBudget contract, clients' own budgets: ${name}`, () => {
    const alice = { name: 'alice' };
    const bob = { name: 'bob', dailyBudgetUsd: 0.8 };

    it('admits a job only with room in both budgets, and says which one refused', async () => {
      const budget = await implementations().budget(1.2);

      const bobFirst = await budget.reserve('job_b1', 0.4, DAY, bob);
      const bobSecond = await budget.reserve('job_b2', 0.4, DAY, bob);
      const bobOverHisOwn = await budget.reserve('job_b3', 0.4, DAY, bob);
      const aliceFits = await budget.reserve('job_a1', 0.4, DAY, alice);
      const aliceOverTheDay = await budget.reserve('job_a2', 0.4, DAY, alice);
      const bobOverBoth = await budget.reserve('job_b4', 0.4, DAY, bob);

      expect([bobFirst, bobSecond, bobOverHisOwn]).toEqual([
        'reserved',
        'reserved',
        'client-exceeded',
      ]);
      expect([aliceFits, aliceOverTheDay]).toEqual(['reserved', 'exceeded']);
      // The day's refusal wins: no client could start.
      expect(bobOverBoth).toBe('exceeded');
      expect(await budget.usage(DAY)).toMatchObject({ reservedUsd: 1.2, startedJobs: 3 });
    });

    it("refuses a job dearer than its client's whole budget", async () => {
      const budget = await implementations().budget(null);

      expect(await budget.reserve('job_b', 1, DAY, bob)).toBe('client-exceeded');
      expect(await budget.usage(DAY)).toMatchObject({ reservedUsd: 0, startedJobs: 0 });
    });

    it("keeps bob's budget running out from touching alice", async () => {
      const budget = await implementations().budget(10);
      await budget.reserve('job_b1', 0.4, DAY, bob);
      await budget.recordSpent('job_b1', 0.4, DAY);
      await budget.reserve('job_b2', 0.4, DAY, bob);

      const bobAgain = await budget.reserve('job_b3', 0.4, DAY, bob);
      const aliceJobs = await Promise.all(
        jobIds(5).map((jobId) => budget.reserve(`alice_${jobId}`, 0.4, DAY, alice)),
      );

      expect(bobAgain).toBe('client-exceeded');
      expect(aliceJobs).toEqual(Array(5).fill('reserved'));
      expect(await budget.clientUsage('bob', DAY)).toEqual({
        day: DAY,
        client: 'bob',
        limitUsd: 0.8,
        reservedUsd: 0.4,
        spentUsd: 0.4,
        startedJobs: 2,
        completedJobs: 1,
      });
      // A client without a budget of its own is counted, never limited.
      expect(await budget.clientUsage('alice', DAY)).toMatchObject({
        limitUsd: null,
        reservedUsd: 2,
        startedJobs: 5,
      });
    });

    it("never lets one client's parallel reservations exceed its budget: $0.80 covers exactly 2 of 12 jobs at $0.40", async () => {
      const budget = await implementations().budget(100);

      const results = await Promise.all(
        jobIds(12).map((jobId) => budget.reserve(jobId, 0.4, DAY, bob)),
      );

      expect(results.filter((result) => result === 'reserved')).toHaveLength(2);
      expect(results.filter((result) => result === 'client-exceeded')).toHaveLength(10);
      expect(await budget.clientUsage('bob', DAY)).toMatchObject({
        reservedUsd: 0.8,
        startedJobs: 2,
      });
      expect(await budget.usage(DAY)).toMatchObject({ reservedUsd: 0.8, startedJobs: 2 });
    });

    it('holds both limits under parallel reservations of two clients', async () => {
      const budget = await implementations().budget(2);

      const [bobs, alices] = await Promise.all([
        Promise.all(jobIds(8).map((jobId) => budget.reserve(`bob_${jobId}`, 0.4, DAY, bob))),
        Promise.all(jobIds(8).map((jobId) => budget.reserve(`alice_${jobId}`, 0.4, DAY, alice))),
      ]);

      const bobReserved = bobs.filter((result) => result === 'reserved').length;
      const aliceReserved = alices.filter((result) => result === 'reserved').length;
      // Alice alone has jobs enough to fill the day: it fills, and bob never passes his $0.80.
      expect(bobReserved + aliceReserved).toBe(5);
      expect(bobReserved).toBeLessThanOrEqual(2);
      expect(new Set(alices.filter((result) => result !== 'reserved'))).toEqual(
        new Set(['exceeded']),
      );
      expect((await budget.clientUsage('bob', DAY)).reservedUsd).toBeCloseTo(bobReserved * 0.4, 6);
      expect((await budget.usage(DAY)).reservedUsd).toBe(2);
    });

    it("settles each job once on both days: repeated release and spending change nothing, and free the client's room", async () => {
      const budget = await implementations().budget(10);
      await budget.reserve('job_done', 0.4, DAY, bob);
      await budget.reserve('job_failed', 0.4, DAY, bob);

      await budget.recordSpent('job_done', 0.3, '2026-03-02');
      await budget.recordSpent('job_done', 0.3, '2026-03-02');
      await budget.release('job_failed', DAY);
      await budget.release('job_failed', DAY);
      await budget.release('job_done', DAY);

      expect(await budget.clientUsage('bob', DAY)).toMatchObject({
        reservedUsd: 0,
        spentUsd: 0.3,
        startedJobs: 2,
        completedJobs: 1,
      });
      expect(await budget.usage(DAY)).toMatchObject({ reservedUsd: 0, spentUsd: 0.3 });
      expect((await budget.clientUsage('bob', '2026-03-02')).spentUsd).toBe(0);
      // $0.30 of bob's $0.80 is spent: one more job at $0.40 fits, and no more.
      expect(await budget.reserve('job_next', 0.4, DAY, bob)).toBe('reserved');
      expect(await budget.reserve('job_last', 0.4, DAY, bob)).toBe('client-exceeded');
    });

    it("charges a released job's spending to the client it was reserved for", async () => {
      const budget = await implementations().budget(10);
      await budget.reserve('job_late', 0.4, DAY, bob);
      await budget.release('job_late', DAY);

      await budget.recordSpent('job_late', 0.4, DAY);

      expect(await budget.clientUsage('bob', DAY)).toMatchObject({ reservedUsd: 0, spentUsd: 0.4 });
    });

    it('charges a spending without a reservation to the client named, once', async () => {
      const budget = await implementations().budget(10);

      await budget.recordSpent('job_unreserved', 0.4, DAY, 'bob');
      await budget.recordSpent('job_unreserved', 0.4, DAY, 'bob');

      expect(await budget.clientUsage('bob', DAY)).toMatchObject({
        spentUsd: 0.4,
        completedJobs: 1,
      });
    });

    it('moves a job reserved again for no client off its former client', async () => {
      const budget = await implementations().budget(10);
      await budget.reserve('job_a', 0.4, DAY, bob);
      await budget.release('job_a', DAY);

      await budget.reserve('job_a', 0.4, DAY);
      await budget.release('job_a', DAY);
      await budget.reserve('job_a', 0.4, DAY);
      await budget.recordSpent('job_a', 0.4, DAY);

      expect(await budget.clientUsage('bob', DAY)).toMatchObject({
        reservedUsd: 0,
        spentUsd: 0,
        startedJobs: 1,
      });
      expect(await budget.usage(DAY)).toMatchObject({ reservedUsd: 0, spentUsd: 0.4 });
    });

    it('shows the limit the latest reservation ran under, and nothing for a client not seen', async () => {
      const budget = await implementations().budget(10);
      await budget.reserve('job_1', 0.4, DAY, bob);
      const raised = (await budget.clientUsage('bob', DAY)).limitUsd;
      await budget.reserve('job_2', 0.4, DAY, { name: 'bob', dailyBudgetUsd: 3 });
      const after = (await budget.clientUsage('bob', DAY)).limitUsd;
      await budget.reserve('job_3', 0.4, DAY, { name: 'bob' });

      expect([raised, after]).toEqual([0.8, 3]);
      expect((await budget.clientUsage('bob', DAY)).limitUsd).toBeNull();
      expect(await budget.clientUsage('carol', DAY)).toEqual({
        day: DAY,
        client: 'carol',
        limitUsd: null,
        reservedUsd: 0,
        spentUsd: 0,
        startedJobs: 0,
        completedJobs: 0,
      });
    });
  });
}
