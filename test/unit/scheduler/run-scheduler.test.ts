import { describe, expect, it, vi } from 'vitest';
import { FAILURES_TO_OPEN } from '../../../functions/shared/admission/deployment-health.ts';
import { type Job, ownerOf } from '../../../functions/shared/jobs/job.ts';
import {
  runScheduler,
  type SchedulerDeps,
  type SchedulerSettings,
} from '../../../functions/shared/scheduler/run-scheduler.ts';
import type { ExecutionState } from '../../../functions/shared/scheduler/workflow-executions.ts';
import type { WebhookEvent } from '../../../functions/shared/webhooks/webhook-events.ts';
import { InMemoryDeploymentHealth } from '../../support/in-memory-deployment-health.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import {
  InMemoryConcurrencySemaphore,
  InMemorySpendingBudget,
} from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingExecutions } from '../../support/recording-executions.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = '2026-06-01';
const LONG_AGO = '2026-06-01T11:00:00.000Z';
const JUST_NOW = '2026-06-01T11:59:50.000Z';

/**
 * A scheduler over the in-memory store, slots and budget (a real admission inside). `holding`:
 * jobs holding a slot (for their client when `jobs` has them); `committed`: today's budget
 * already reserved and spent by other jobs.
 */
async function setup(
  options: {
    jobs?: Job[];
    states?: Record<string, ExecutionState>;
    limit?: number;
    holding?: string[];
    budgetUsd?: number | null;
    committed?: { reservedUsd?: number; spentUsd?: number };
    settings?: Partial<SchedulerSettings>;
  } = {},
) {
  const jobs = options.jobs ?? [];
  const store = new InMemoryJobStore({ now: () => NOW });
  store.seed(...jobs);
  const executions = recordingExecutions();
  for (const [name, state] of Object.entries(options.states ?? {})) {
    executions.states.set(name, state);
  }
  const semaphore = new InMemoryConcurrencySemaphore(options.limit ?? 2);
  for (const jobId of options.holding ?? []) {
    const job = jobs.find((each) => each.jobId === jobId);
    await semaphore.acquire(jobId, { client: job === undefined ? 'default' : ownerOf(job) });
  }
  const budget = new InMemorySpendingBudget(options.budgetUsd ?? null);
  const { reservedUsd = 0, spentUsd = 0 } = options.committed ?? {};
  if (reservedUsd > 0) await budget.reserve('job_OTHER_RESERVED', reservedUsd, DAY);
  if (spentUsd > 0) await budget.recordSpent('job_OTHER_SPENT', spentUsd, DAY);
  const deps: SchedulerDeps = {
    store,
    executions,
    semaphore,
    budget,
    clock: () => NOW,
    ...(options.settings === undefined ? {} : { settings: options.settings }),
  };
  /** The executions started, as [jobId, executionName]. */
  const starts = () => executions.started.map(({ jobId, executionName }) => [jobId, executionName]);
  return { deps, store, semaphore, budget, executions, starts };
}

/** A job deferred for the schedule, created at 10:00:0n. */
const deferred = (n: number, overrides: Partial<Job> = {}) =>
  aJob({
    jobId: `job_D${n}`,
    deferred: true,
    deferredReason: 'scheduled',
    source: 'batch',
    createdAt: `2026-06-01T10:00:0${n}.000Z`,
    updatedAt: LONG_AGO,
    ...overrides,
  });

describe('runScheduler: gauges', () => {
  it("reports the jobs left waiting, the oldest one's age, the slots held and today's spending", async () => {
    const { deps } = await setup({
      jobs: [deferred(3), deferred(1), deferred(2), deferred(4)],
      limit: 2,
      holding: ['job_D9'],
      budgetUsd: 50,
      committed: { spentUsd: 10, reservedUsd: 2.5 },
    });

    const { gauges } = await runScheduler(deps);

    // job_D9 holds nothing real (no such job): its slot is given back; D1 and D2 start.
    expect(gauges).toEqual({
      waiting: 2,
      // job_D3 was created at 10:00:03, the run is at 12:00:00.
      oldestWaitingSeconds: 2 * 3600 - 3,
      inFlight: 2,
      spentTodayUsd: 12.5,
      dailyBudgetUsd: 50,
    });
  });

  it('does not count a job cancelled for its start timeout as waiting', async () => {
    const { deps } = await setup({
      jobs: [deferred(1, { startTimeoutSeconds: 60 }), deferred(2), deferred(3)],
      limit: 1,
    });

    const { gauges, timedOut } = await runScheduler(deps);

    expect(timedOut).toEqual(['job_D1']);
    // D2 started; D3 waits, created at 10:00:03.
    expect(gauges).toMatchObject({ waiting: 1, oldestWaitingSeconds: 2 * 3600 - 3 });
  });

  it('counts a never-started job put back in its queue as waiting', async () => {
    const running = aJob({ jobId: 'job_R', status: 'IN_PROGRESS', executionName: 'job_R' });
    const never = aJob({
      jobId: 'job_N',
      source: 'inbox',
      idempotencyKey: 'k',
      createdAt: '2026-06-01T09:00:00.000Z',
      updatedAt: LONG_AGO,
    });
    const { deps } = await setup({
      jobs: [running, never],
      states: { job_R: 'RUNNING' },
      limit: 1,
      holding: ['job_R'],
    });

    const { gauges, requeued } = await runScheduler(deps);

    expect(requeued).toEqual(['job_N']);
    expect(gauges).toMatchObject({ waiting: 1, oldestWaitingSeconds: 3 * 3600, inFlight: 1 });
  });
});

describe('runScheduler: the schedule fires', () => {
  it('makes jobs deferred for the schedule admissible, and its hand-off starts the oldest into the free slots, named by their id', async () => {
    const { deps, store, semaphore, starts } = await setup({
      jobs: [deferred(3), deferred(1), deferred(2)],
      limit: 2,
    });

    const summary = await runScheduler(deps);

    expect(summary.admissible).toEqual(['job_D1', 'job_D2', 'job_D3']);
    expect(starts()).toEqual([
      ['job_D1', 'job_D1'],
      ['job_D2', 'job_D2'],
    ]);
    expect(summary.started).toEqual([
      { jobId: 'job_D1', executionName: 'job_D1' },
      { jobId: 'job_D2', executionName: 'job_D2' },
    ]);
    expect(await store.get('job_D1')).toMatchObject({ deferred: false, executionName: 'job_D1' });
    expect(semaphore.holds('job_D1') && semaphore.holds('job_D2')).toBe(true);
    // No slot for D3: it waits in its client's queue for the next hand-off, not for the schedule.
    expect(await store.get('job_D3')).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'capacity',
    });
    expect((await semaphore.state()).clients.default?.waiting).toBe(true);
  });

  it('counts slot holders against the limit, and takes each started job its slot first', async () => {
    const running = aJob({ jobId: 'job_R', status: 'IN_PROGRESS', executionName: 'job_R' });
    const waiting = aJob({ jobId: 'job_W', executionName: 'job_W', updatedAt: LONG_AGO });
    const { deps, starts } = await setup({
      jobs: [running, waiting, deferred(1), deferred(2), deferred(3)],
      states: { job_R: 'RUNNING', job_W: 'RUNNING' },
      limit: 3,
      holding: ['job_R'],
    });

    const summary = await runScheduler(deps);

    // job_W's execution has not taken a slot yet: its AdmitJob step parks it if none is left.
    expect(summary.freeSlots).toBe(2);
    expect(starts()).toEqual([
      ['job_D1', 'job_D1'],
      ['job_D2', 'job_D2'],
    ]);
  });

  it("places each started job's slot on one of its model's deployments, never on an open one", async () => {
    const { deps, semaphore, starts } = await setup({
      jobs: [deferred(1), deferred(2)],
      limit: 4,
    });
    const health = new InMemoryDeploymentHealth();
    for (let i = 0; i < FAILURES_TO_OPEN; i += 1) await health.recordFailure('east', NOW, 'test');
    deps.deploymentsOf = () => [
      { id: 'east', weight: 1, maxConcurrent: 2 },
      { id: 'west', weight: 1, maxConcurrent: 1 },
    ];
    deps.health = health;

    await runScheduler(deps);

    // east is open and west takes one: D1 starts there, D2 waits though the pool has room (a
    // slot without a deployment would let its admission run it on either, counted on neither).
    expect(starts()).toEqual([['job_D1', 'job_D1']]);
    expect((await semaphore.state()).deployments).toEqual({ west: { holders: ['job_D1'] } });
  });

  it('starts admissible jobs in fair-share order across clients, not oldest first', async () => {
    // Bob's jobs are older; alone, first come would give him both slots.
    const { deps, starts } = await setup({
      jobs: [
        deferred(1, { client: 'bob' }),
        deferred(2, { client: 'bob' }),
        deferred(3, { client: 'bob' }),
        deferred(4, { client: 'alice' }),
        deferred(5, { client: 'alice' }),
      ],
      limit: 2,
    });

    await runScheduler(deps);

    expect(starts()).toEqual([
      ['job_D4', 'job_D4'],
      ['job_D1', 'job_D1'],
    ]);
  });

  it("gives a client of weight 2 two of every three slots its jobs' share asks for", async () => {
    const alice = { share: { weight: 2 }, client: 'alice' };
    const { deps, starts } = await setup({
      jobs: [
        deferred(1, { client: 'bob' }),
        deferred(2, { client: 'bob' }),
        deferred(3, alice),
        deferred(4, alice),
        deferred(5, alice),
      ],
      limit: 3,
    });

    await runScheduler(deps);

    expect(starts().map(([jobId]) => jobId)).toEqual(['job_D3', 'job_D1', 'job_D4']);
  });

  it('starts a job put back by the budget under a new execution name', async () => {
    const job = deferred(1, { deferredReason: 'budget', executionName: 'job_D1' });
    const { deps, starts } = await setup({ jobs: [job], states: { job_D1: 'SUCCEEDED' } });

    const summary = await runScheduler(deps);

    expect(summary.admissible).toEqual(['job_D1']);
    expect(starts()).toEqual([['job_D1', 'job_D1-1']]);
  });

  it('makes budget-deferred jobs admissible only while today’s remaining budget covers them', async () => {
    // $2 a day, $1.20 committed: $0.80 left.
    const { deps, store, starts } = await setup({
      jobs: [
        deferred(1, { deferredReason: 'budget', estimatedCostUsd: 1.2 }),
        deferred(2, { deferredReason: 'budget', estimatedCostUsd: 0.4 }),
        // $0.40 left once D2 is counted.
        deferred(3, { deferredReason: 'budget', estimatedCostUsd: 0.5 }),
        // Deferred for the schedule: its own admission checks the budget.
        deferred(4, { estimatedCostUsd: 1.2 }),
      ],
      budgetUsd: 2,
      committed: { reservedUsd: 0.8, spentUsd: 0.4 },
      limit: 4,
    });

    const summary = await runScheduler(deps);

    expect(summary.admissible).toEqual(['job_D2', 'job_D4']);
    expect(summary.overBudget).toBe(2);
    expect(starts()).toEqual([
      ['job_D2', 'job_D2'],
      ['job_D4', 'job_D4'],
    ]);
    expect(await store.get('job_D1')).toMatchObject({ deferred: true, deferredReason: 'budget' });
    expect(await store.get('job_D3')).toMatchObject({ deferred: true, deferredReason: 'budget' });
  });

  it("leaves a budget-deferred job waiting while its client's own budget cannot cover it", async () => {
    // No deployment budget; bob's own $1 a day has $0.80 committed: $0.20 left for him.
    const bob = { client: 'bob', share: { weight: 1, dailyBudgetUsd: 1 } };
    const { deps, budget, store } = await setup({
      jobs: [
        deferred(1, { ...bob, deferredReason: 'budget', estimatedCostUsd: 0.4 }),
        deferred(2, { client: 'alice', deferredReason: 'budget', estimatedCostUsd: 0.4 }),
        deferred(3, { ...bob, deferredReason: 'budget', estimatedCostUsd: 0.2 }),
        // Fits the $0.20 left only before D3 takes it.
        deferred(4, { ...bob, deferredReason: 'budget', estimatedCostUsd: 0.2 }),
      ],
      limit: 4,
    });
    await budget.reserve('job_BOB_EARLIER', 0.8, DAY, { name: 'bob', dailyBudgetUsd: 1 });

    const summary = await runScheduler(deps);

    expect(summary.admissible).toEqual(['job_D2', 'job_D3']);
    expect(summary.overBudget).toBe(2);
    expect(await store.get('job_D1')).toMatchObject({ deferred: true, deferredReason: 'budget' });
    expect(await store.get('job_D4')).toMatchObject({ deferred: true, deferredReason: 'budget' });
  });

  it('marks each client waiting once however many of its jobs the schedule makes admissible', async () => {
    const { deps, semaphore } = await setup({
      jobs: [
        deferred(1, { client: 'alice' }),
        deferred(2, { client: 'bob' }),
        deferred(3, { client: 'alice' }),
        deferred(4, { client: 'alice' }),
      ],
      limit: 1,
    });
    const marks = vi.spyOn(semaphore, 'markWaiting');

    const summary = await runScheduler(deps);

    expect(summary.admissible).toHaveLength(4);
    expect(marks.mock.calls.map(([client]) => client).sort()).toEqual(['alice', 'bob']);
  });

  it('makes at most maxStartsPerRun jobs admissible per run', async () => {
    const { deps, store } = await setup({
      jobs: [deferred(1), deferred(2), deferred(3)],
      limit: 4,
      settings: { maxStartsPerRun: 2 },
    });

    const summary = await runScheduler(deps);

    expect(summary.admissible).toEqual(['job_D1', 'job_D2']);
    expect(await store.get('job_D3')).toMatchObject({
      deferred: true,
      deferredReason: 'scheduled',
    });
  });

  it("starts a job parked for a slot whose client's waiting mark was lost", async () => {
    const parked = deferred(1, { deferredReason: 'capacity', client: 'alice' });
    const { deps, starts } = await setup({ jobs: [parked] });

    const summary = await runScheduler(deps);

    // Already in its queue: marked waiting again, not made admissible again.
    expect(summary.admissible).toEqual([]);
    expect(starts()).toEqual([['job_D1', 'job_D1']]);
  });

  it('cancels waiting jobs past their start timeout with start_timeout, announcing video.cancelled', async () => {
    const webhook = { url: 'https://hooks.example.com/sora', events: ['video.cancelled' as const] };
    const { deps, store, semaphore, starts } = await setup({
      jobs: [
        // Created at 10:00:0n: two hours before the run.
        deferred(1, { startTimeoutSeconds: 3600, webhook }),
        deferred(2, { deferredReason: 'capacity', startTimeoutSeconds: 60, webhook }),
        deferred(3, { startTimeoutSeconds: 3 * 3600 }),
      ],
    });
    const announced: [string, WebhookEvent][] = [];

    const summary = await runScheduler({
      ...deps,
      notify: async (job, event) => void announced.push([job.jobId, event]),
    });

    expect(summary.timedOut).toEqual(['job_D1', 'job_D2']);
    for (const jobId of ['job_D1', 'job_D2']) {
      expect(await store.get(jobId)).toMatchObject({
        status: 'CANCELLED',
        error: { code: 'start_timeout', retryable: true },
      });
      expect(semaphore.holds(jobId)).toBe(false);
    }
    expect(announced).toEqual([
      ['job_D1', 'video.cancelled'],
      ['job_D2', 'video.cancelled'],
    ]);
    expect(starts()).toEqual([['job_D3', 'job_D3']]);
  });

  it('never starts a job another run claimed first', async () => {
    const { deps, store, starts } = await setup({ jobs: [deferred(1)] });
    // The other run claims it between this run's read of the queue and its own claim.
    const claim = store.claimDeferred.bind(store);
    store.claimDeferred = async (jobId, name, at) => {
      await claim(jobId, 'other-run', at);
      return claim(jobId, name, at);
    };

    const summary = await runScheduler(deps);

    expect(starts()).toEqual([]);
    expect(summary.started).toEqual([]);
    expect(await store.get('job_D1')).toMatchObject({ executionName: 'other-run' });
  });

  it('never queues again a job another run started while this one swept', async () => {
    const running = aJob({ jobId: 'job_R', status: 'IN_PROGRESS', executionName: 'job_R' });
    const { deps, store, executions, starts } = await setup({
      jobs: [running, deferred(1)],
      states: { job_R: 'RUNNING' },
      limit: 3,
      holding: ['job_R'],
    });
    // The other run's hand-off starts D1 while this run looks at job_R's execution.
    const state = executions.state.bind(executions);
    executions.state = async (name) => {
      if (await store.claimDeferred('job_D1', 'job_D1', NOW.toISOString())) {
        executions.states.set('job_D1', 'RUNNING');
      }
      return state(name);
    };

    const summary = await runScheduler(deps);

    expect(summary.admissible).toEqual([]);
    expect(starts()).toEqual([]);
    expect(await store.get('job_D1')).toMatchObject({
      status: 'QUEUED',
      deferred: false,
      executionName: 'job_D1',
    });
  });

  it('puts a claimed job back in its queue when the start fails, and reports the failure', async () => {
    const { deps, store, semaphore, executions } = await setup({ jobs: [deferred(1)] });
    executions.start = async () => {
      throw new Error('StartExecution throttled');
    };

    await expect(runScheduler(deps)).rejects.toThrow('StartExecution throttled');
    expect(await store.get('job_D1')).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'capacity',
    });
    expect(await store.listWaiting('default', 10)).toHaveLength(1);
    expect(semaphore.holds('job_D1')).toBe(false);
  });
});

describe('runScheduler: the sweep', () => {
  it.each<[ExecutionState, string]>([
    ['ABORTED', 'ended ABORTED'],
    ['TIMED_OUT', 'ended TIMED_OUT'],
    ['NOT_FOUND', 'no longer exists'],
  ])(
    'closes an IN_PROGRESS job whose execution is %s as FAILED execution_lost, giving back its reservation and slot',
    async (state, how) => {
      const job = aJob({ jobId: 'job_L', status: 'IN_PROGRESS', executionName: 'job_L' });
      const { deps, store, semaphore, budget } = await setup({
        jobs: [job],
        states: state === 'NOT_FOUND' ? {} : { job_L: state },
        holding: ['job_L'],
      });
      await budget.reserve('job_L', job.estimatedCostUsd, DAY);

      const summary = await runScheduler(deps);

      expect(summary.reconciled).toEqual(['job_L']);
      expect(await store.get('job_L')).toMatchObject({
        status: 'FAILED',
        error: { code: 'execution_lost', retryable: true, message: expect.stringContaining(how) },
      });
      expect(budget.stateOf('job_L')).toBe('released');
      expect(semaphore.holds('job_L')).toBe(false);
    },
  );

  it('hands the slot of a job it closes to a waiting job, and reports it started', async () => {
    const lost = aJob({ jobId: 'job_L', status: 'IN_PROGRESS', executionName: 'job_L' });
    const parked = deferred(1, { deferredReason: 'capacity' });
    const { deps, semaphore, starts } = await setup({
      jobs: [lost, parked],
      states: { job_L: 'ABORTED' },
      limit: 1,
      holding: ['job_L'],
    });
    await semaphore.markWaiting('default', { weight: 1 });

    const summary = await runScheduler(deps);

    expect(starts()).toEqual([['job_D1', 'job_D1']]);
    expect(summary.started).toEqual([{ jobId: 'job_D1', executionName: 'job_D1' }]);
    expect(summary.gauges).toMatchObject({ waiting: 0, inFlight: 1 });
  });

  it('announces video.failed of a job it closes, as the job is now', async () => {
    const job = aJob({
      jobId: 'job_L',
      status: 'IN_PROGRESS',
      executionName: 'job_L',
      webhook: { url: 'https://hooks.example.com/sora', events: ['video.failed'] },
    });
    const { deps } = await setup({ jobs: [job], states: { job_L: 'ABORTED' } });
    const announced: [Job, WebhookEvent, Date][] = [];

    await runScheduler({ ...deps, notify: async (...call) => void announced.push(call) });

    expect(announced).toHaveLength(1);
    expect(announced[0]?.[0]).toMatchObject({
      jobId: 'job_L',
      status: 'FAILED',
      error: { code: 'execution_lost' },
    });
    expect(announced[0]?.[1]).toBe('video.failed');
    expect(announced[0]?.[2]).toEqual(NOW);
  });

  it('announces nothing for a job that ended on its own while the sweep looked at it', async () => {
    const job = aJob({ jobId: 'job_L', status: 'IN_PROGRESS', executionName: 'job_L' });
    const { deps, store } = await setup({ jobs: [job], states: { job_L: 'ABORTED' } });
    // The job's own execution records it COMPLETED just before the sweep's recordFailed, which
    // then finds it terminal and writes nothing.
    const recordFailed = store.recordFailed.bind(store);
    store.recordFailed = async (jobId, error, at) => {
      store.seed({ ...job, status: 'COMPLETED', progress: 100 });
      return recordFailed(jobId, error, at);
    };
    const announced: Job[] = [];

    await runScheduler({ ...deps, notify: async (ended) => void announced.push(ended) });

    expect(await store.get('job_L')).toMatchObject({ status: 'COMPLETED' });
    expect(announced).toEqual([]);
  });

  it('counts the cost of a lost job that has a provider job as spent (it may have rendered)', async () => {
    const job = aJob({
      jobId: 'job_L',
      status: 'IN_PROGRESS',
      executionName: 'job_L',
      providerJobId: 'video_1',
      providerStatus: 'in_progress',
      // Its resumes are spent: the sweep closes it instead of resuming.
      resumeCount: 100,
    });
    const { deps, store, budget } = await setup({ jobs: [job], states: { job_L: 'FAILED' } });
    await budget.reserve('job_L', job.estimatedCostUsd, DAY);

    await runScheduler(deps);

    expect((await store.get('job_L'))?.status).toBe('FAILED');
    expect(budget.stateOf('job_L')).toBe('spent');
  });

  it('resumes a job with provider work under a new execution, keeping its slot', async () => {
    const job = aJob({
      jobId: 'job_P',
      status: 'IN_PROGRESS',
      executionName: 'job_P',
      providerJobId: 'video_1',
      providerStatus: 'in_progress',
    });
    const { deps, semaphore, starts } = await setup({
      jobs: [job],
      states: { job_P: 'FAILED' },
      holding: ['job_P'],
    });

    const summary = await runScheduler(deps);

    expect(summary.resumed).toEqual(['job_P']);
    expect(summary.reconciled).toEqual([]);
    expect(starts()).toEqual([['job_P', 'job_P-1']]);
    expect(semaphore.holds('job_P')).toBe(true);
  });

  it('leaves jobs with a live execution alone, including QUEUED ones on their way to admission', async () => {
    const jobs = [
      aJob({ jobId: 'job_A', status: 'IN_PROGRESS', executionName: 'job_A' }),
      aJob({ jobId: 'job_B', executionName: 'job_B', updatedAt: LONG_AGO }),
    ];
    const { deps, store } = await setup({
      jobs,
      states: { job_A: 'RUNNING', job_B: 'RUNNING' },
    });

    const summary = await runScheduler(deps);

    expect(summary.reconciled).toEqual([]);
    expect(summary.requeued).toEqual([]);
    expect(await store.get('job_A')).toMatchObject({ status: 'IN_PROGRESS' });
    expect(await store.get('job_B')).toMatchObject({ status: 'QUEUED', deferred: false });
  });

  it('gives a QUEUED job without execution time to be started before acting', async () => {
    const job = aJob({ jobId: 'job_N', source: 'inbox', idempotencyKey: 'k', updatedAt: JUST_NOW });
    const { deps, store } = await setup({ jobs: [job] });

    const summary = await runScheduler(deps);

    expect(summary.requeued).toEqual([]);
    expect(await store.get('job_N')).toMatchObject({ status: 'QUEUED', deferred: false });
  });

  it("puts a QUEUED job never started in its client's queue, and the run's hand-off starts it under a new name", async () => {
    const job = aJob({
      jobId: 'job_N',
      source: 'inbox',
      idempotencyKey: 'k',
      executionName: 'job_N',
      updatedAt: LONG_AGO,
    });
    const { deps, starts } = await setup({ jobs: [job] });

    const summary = await runScheduler(deps);

    expect(summary.requeued).toEqual(['job_N']);
    expect(starts()).toEqual([['job_N', 'job_N-1']]);
    expect(summary.started).toEqual([{ jobId: 'job_N', executionName: 'job_N-1' }]);
  });

  it("leaves a never-started job waiting in its client's queue (not for the schedule) when no slot is free", async () => {
    const running = aJob({ jobId: 'job_R', status: 'IN_PROGRESS', executionName: 'job_R' });
    const job = aJob({
      jobId: 'job_N',
      client: 'alice',
      share: { weight: 3 },
      source: 'inbox',
      idempotencyKey: 'k',
      updatedAt: LONG_AGO,
    });
    const { deps, store, semaphore, starts } = await setup({
      jobs: [running, job],
      states: { job_R: 'RUNNING' },
      limit: 1,
      holding: ['job_R'],
    });

    const summary = await runScheduler(deps);

    expect(summary.requeued).toEqual(['job_N']);
    expect(starts()).toEqual([]);
    expect(await store.get('job_N')).toMatchObject({ deferred: true, deferredReason: 'capacity' });
    expect((await store.listWaiting('alice', 10)).map((each) => each.jobId)).toEqual(['job_N']);
    expect((await semaphore.state()).clients.alice).toMatchObject({ waiting: true, weight: 3 });
  });

  it('closes a never-started API job without idempotency key instead of running it unseen', async () => {
    const job = aJob({ jobId: 'job_N', source: 'api', updatedAt: LONG_AGO });
    const { deps, store, starts } = await setup({ jobs: [job] });

    await runScheduler(deps);

    expect(await store.get('job_N')).toMatchObject({
      status: 'FAILED',
      error: { code: 'execution_lost', message: expect.stringContaining('never started') },
    });
    expect(starts()).toEqual([]);
  });

  it('requeues, never closes, an API job a hand-off was starting when it died (its caller was told it was accepted)', async () => {
    const job = aJob({
      jobId: 'job_H',
      source: 'api',
      executionName: 'job_H-1',
      updatedAt: LONG_AGO,
    });
    const { deps, store } = await setup({ jobs: [job] });

    const summary = await runScheduler(deps);

    expect(summary.reconciled).toEqual([]);
    expect(summary.requeued).toEqual(['job_H']);
    expect((await store.get('job_H'))?.status).not.toBe('FAILED');
  });

  it('closes a QUEUED job whose execution ended without an outcome', async () => {
    const job = aJob({ jobId: 'job_Q', executionName: 'job_Q', updatedAt: JUST_NOW });
    const { deps, store } = await setup({ jobs: [job], states: { job_Q: 'ABORTED' } });

    await runScheduler(deps);

    expect((await store.get('job_Q'))?.status).toBe('FAILED');
  });
});

describe('runScheduler: leaked slots', () => {
  it('releases slots of finished jobs, missing jobs and jobs without a live execution', async () => {
    const jobs = [
      aJob({ jobId: 'job_DONE', status: 'COMPLETED' }),
      aJob({ jobId: 'job_LIVE', status: 'IN_PROGRESS', executionName: 'job_LIVE' }),
      deferred(1, { executionName: 'job_D1', deferredReason: 'budget' }),
    ];
    const { deps, semaphore } = await setup({
      jobs,
      states: { job_LIVE: 'RUNNING', job_D1: 'SUCCEEDED' },
      limit: 4,
      holding: ['job_DONE', 'job_LIVE', 'job_GONE', 'job_D1'],
    });

    const summary = await runScheduler(deps);

    expect(summary.releasedSlots.sort()).toEqual(['job_D1', 'job_DONE', 'job_GONE']);
    expect(summary.freeSlots).toBe(3);
    // The waiting job then takes a slot again as the hand-off starts it.
    expect(await semaphore.holders()).toEqual(['job_D1', 'job_LIVE']);
    expect(summary.started).toEqual([{ jobId: 'job_D1', executionName: 'job_D1-1' }]);
  });

  it('keeps the slot of a job with provider work even when its execution is gone', async () => {
    const live = aJob({
      jobId: 'job_A',
      status: 'IN_PROGRESS',
      executionName: 'job_A',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    // Past this run's sweep (it checks one IN_PROGRESS job): the next run's resumes it.
    const job = aJob({
      jobId: 'job_P',
      status: 'IN_PROGRESS',
      executionName: 'job_P',
      providerJobId: 'video_1',
      providerStatus: 'in_progress',
    });
    const { deps, semaphore } = await setup({
      jobs: [live, job],
      states: { job_A: 'RUNNING' },
      holding: ['job_A', 'job_P'],
      settings: { maxInProgressChecked: 1 },
    });

    const summary = await runScheduler(deps);

    expect(summary.checked).toBe(1);
    expect(summary.releasedSlots).toEqual([]);
    expect(semaphore.holds('job_P')).toBe(true);
  });
});

describe('runScheduler: the webhook backstop', () => {
  const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();
  const ended = (jobId: string, overrides: Partial<Job>) =>
    aJob({
      jobId,
      status: 'COMPLETED',
      progress: 100,
      updatedAt: minutesAgo(10),
      webhook: {
        url: 'https://hooks.example.com/sora',
        events: ['video.completed', 'video.failed', 'video.cancelled'],
      },
      ...overrides,
    });

  async function requeued(jobs: Job[]) {
    const { deps } = await setup({ jobs });
    const announced: [string, WebhookEvent, string][] = [];
    const summary = await runScheduler({
      ...deps,
      notify: async (job, event, at) => void announced.push([job.jobId, event, at.toISOString()]),
    });
    return { summary, announced };
  }

  it('queues again the ending event of a recently ended job whose record shows no delivery of it, with the time it ended', async () => {
    const { summary, announced } = await requeued([
      ended('job_C', {}),
      ended('job_F', { status: 'FAILED', updatedAt: minutesAgo(5) }),
      ended('job_X', { status: 'CANCELLED', updatedAt: minutesAgo(30) }),
    ]);

    expect(announced.sort()).toEqual([
      ['job_C', 'video.completed', minutesAgo(10)],
      ['job_F', 'video.failed', minutesAgo(5)],
      ['job_X', 'video.cancelled', minutesAgo(30)],
    ]);
    expect(summary.webhooksRequeued.sort()).toEqual(['job_C', 'job_F', 'job_X']);
  });

  it('leaves jobs alone that have their delivery, did not ask for it, or ended too recently or too long ago', async () => {
    const delivery = {
      webhookId: 'msg_job_D_video_completed',
      event: 'video.completed' as const,
      status: 'retrying' as const,
      attempts: 1,
      at: minutesAgo(9),
    };
    const { summary, announced } = await requeued([
      ended('job_D', { lastWebhookDelivery: delivery }),
      ended('job_N', {
        webhook: { url: 'https://hooks.example.com/sora', events: ['video.started'] },
      }),
      ended('job_W', { webhook: undefined }),
      ended('job_R', { updatedAt: minutesAgo(1) }),
      ended('job_O', { updatedAt: minutesAgo(120) }),
    ]);

    expect(announced).toEqual([]);
    expect(summary.webhooksRequeued).toEqual([]);
  });

  it('queues again an ending whose record shows a later delivery of another event', async () => {
    // video.started's delivery finished after video.completed was queued: the record shows it.
    const { announced } = await requeued([
      ended('job_S', {
        lastWebhookDelivery: {
          webhookId: 'msg_job_S_video_started',
          event: 'video.started',
          status: 'delivered',
          attempts: 1,
          at: minutesAgo(8),
        },
      }),
    ]);

    expect(announced).toEqual([['job_S', 'video.completed', minutesAgo(10)]]);
  });
});
