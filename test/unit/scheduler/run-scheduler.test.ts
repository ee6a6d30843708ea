import { describe, expect, it } from 'vitest';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import type {
  ConcurrencySemaphore,
  DailyUsage,
  SpendingBudget,
} from '../../../functions/shared/limits/limits.ts';
import { runScheduler } from '../../../functions/shared/scheduler/run-scheduler.ts';
import type {
  ExecutionState,
  WorkflowExecutions,
} from '../../../functions/shared/scheduler/workflow-executions.ts';
import type { WebhookEvent } from '../../../functions/shared/webhooks/webhook-events.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { aJob } from '../../support/job-fixtures.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const LONG_AGO = '2026-06-01T11:00:00.000Z';
const JUST_NOW = '2026-06-01T11:59:50.000Z';

/** Executions by name; `start` records and makes the new one RUNNING. */
function fakeExecutions(states: Record<string, ExecutionState> = {}) {
  const known = new Map(Object.entries(states));
  const starts: [string, string][] = [];
  let failStarts = false;
  const executions: WorkflowExecutions = {
    async state(name) {
      return known.get(name) ?? 'NOT_FOUND';
    },
    async start(jobId, name) {
      if (failStarts) throw new Error('StartExecution throttled');
      if (known.has(name)) return 'already-exists';
      known.set(name, 'RUNNING');
      starts.push([jobId, name]);
      return 'started';
    },
  };
  return {
    executions,
    starts,
    failStarts: () => {
      failStarts = true;
    },
  };
}

function fakeSemaphore(limit: number, holding: string[] = []) {
  const holders = new Set(holding);
  const semaphore: ConcurrencySemaphore = {
    limit,
    async acquire(jobId) {
      if (holders.has(jobId)) return true;
      if (holders.size >= limit) return false;
      holders.add(jobId);
      return true;
    },
    async release(jobId) {
      return holders.delete(jobId);
    },
    async holders() {
      return [...holders];
    },
  };
  return { semaphore, holders };
}

function fakeBudget(usage: Partial<DailyUsage> = {}) {
  const released: string[] = [];
  const budget: SpendingBudget = {
    async reserve() {
      return 'reserved';
    },
    async release(jobId) {
      released.push(jobId);
    },
    async recordSpent() {},
    async recordOrphan() {
      return false;
    },
    async usage(day) {
      return { day, limitUsd: null, reservedUsd: 0, spentUsd: 0, ...usage };
    },
    async clientUsage(client, day) {
      const none = { limitUsd: null, reservedUsd: 0, spentUsd: 0, startedJobs: 0 };
      return { day, client, ...none, completedJobs: 0 };
    },
  };
  return { budget, released };
}

function setup(options: {
  jobs: Job[];
  states?: Record<string, ExecutionState>;
  limit?: number;
  holding?: string[];
  usage?: Partial<DailyUsage>;
}) {
  const store = new InMemoryJobStore({ now: () => NOW });
  store.seed(...options.jobs);
  const executions = fakeExecutions(options.states);
  const { semaphore, holders } = fakeSemaphore(options.limit ?? 2, options.holding);
  const { budget, released } = fakeBudget(options.usage);
  const deps = {
    store,
    executions: executions.executions,
    semaphore,
    budget,
    clock: () => NOW,
  };
  return { deps, store, holders, released, ...executions };
}

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
    const { deps } = setup({
      jobs: [deferred(3), deferred(1), deferred(2), deferred(4)],
      limit: 2,
      holding: ['job_D9'],
      usage: { limitUsd: 50, spentUsd: 10, reservedUsd: 2.5 },
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
});

describe('runScheduler: starting deferred jobs', () => {
  it('starts the oldest deferred jobs into the free slots, named by their id', async () => {
    const { deps, store, starts } = setup({
      jobs: [deferred(3), deferred(1), deferred(2)],
      limit: 2,
    });

    const summary = await runScheduler(deps);

    expect(starts).toEqual([
      ['job_D1', 'job_D1'],
      ['job_D2', 'job_D2'],
    ]);
    expect(summary.started).toEqual([
      { jobId: 'job_D1', executionName: 'job_D1' },
      { jobId: 'job_D2', executionName: 'job_D2' },
    ]);
    expect(await store.get('job_D1')).toMatchObject({ deferred: false, executionName: 'job_D1' });
    expect(await store.get('job_D3')).toMatchObject({ deferred: true });
  });

  it('counts slot holders against the limit, and takes each started job its slot first', async () => {
    const running = aJob({ jobId: 'job_R', status: 'IN_PROGRESS', executionName: 'job_R' });
    const waiting = aJob({ jobId: 'job_W', executionName: 'job_W', updatedAt: LONG_AGO });
    const { deps, starts } = setup({
      jobs: [running, waiting, deferred(1), deferred(2)],
      states: { job_R: 'RUNNING', job_W: 'RUNNING' },
      limit: 3,
      holding: ['job_R'],
    });

    const summary = await runScheduler(deps);

    // job_W's execution has not taken a slot yet: it parks if none is left when it asks.
    expect(summary.freeSlots).toBe(2);
    expect(starts).toEqual([
      ['job_D1', 'job_D1'],
      ['job_D2', 'job_D2'],
    ]);
  });

  it('starts a job put back by the budget under a new execution name', async () => {
    const job = deferred(1, { deferredReason: 'budget', executionName: 'job_D1' });
    const { deps, starts } = setup({ jobs: [job], states: { job_D1: 'SUCCEEDED' } });

    await runScheduler(deps);

    expect(starts).toEqual([['job_D1', 'job_D1-1']]);
  });

  it('leaves jobs today’s budget cannot cover waiting, and starts cheaper ones that fit', async () => {
    const { deps, starts } = setup({
      jobs: [deferred(1, { estimatedCostUsd: 1.2 }), deferred(2, { estimatedCostUsd: 0.4 })],
      usage: { limitUsd: 2, reservedUsd: 0.8, spentUsd: 0.4 },
    });

    const summary = await runScheduler(deps);

    expect(starts).toEqual([['job_D2', 'job_D2']]);
    expect(summary.overBudget).toBe(1);
  });

  it('never starts a job another run claimed first', async () => {
    const { deps, store, starts } = setup({ jobs: [deferred(1)] });
    await store.claimDeferred('job_D1', 'job_D1', NOW.toISOString());
    await store.deferJob('job_D1', 'scheduled', NOW.toISOString());
    const claim = store.claimDeferred.bind(store);
    store.claimDeferred = async (jobId, name, at) => {
      await claim(jobId, 'other-run', at);
      return claim(jobId, name, at);
    };

    await runScheduler(deps);

    expect(starts).toEqual([]);
  });

  it('puts a claimed job back in the queue when the start fails, and reports the failure', async () => {
    const { deps, store, failStarts } = setup({ jobs: [deferred(1)] });
    failStarts();

    await expect(runScheduler(deps)).rejects.toThrow('StartExecution throttled');
    expect(await store.get('job_D1')).toMatchObject({ status: 'QUEUED', deferred: true });
  });
});

describe('runScheduler: the sweep', () => {
  it.each<[ExecutionState, string]>([
    ['ABORTED', 'ended ABORTED'],
    ['TIMED_OUT', 'ended TIMED_OUT'],
    ['NOT_FOUND', 'no longer exists'],
  ])(
    'closes an IN_PROGRESS job whose execution is %s as FAILED execution_lost',
    async (state, how) => {
      const job = aJob({ jobId: 'job_L', status: 'IN_PROGRESS', executionName: 'job_L' });
      const { deps, store, released } = setup({
        jobs: [job],
        states: state === 'NOT_FOUND' ? {} : { job_L: state },
      });

      const summary = await runScheduler(deps);

      expect(summary.reconciled).toEqual(['job_L']);
      expect(await store.get('job_L')).toMatchObject({
        status: 'FAILED',
        error: { code: 'execution_lost', retryable: true, message: expect.stringContaining(how) },
      });
      expect(released).toEqual(['job_L']);
    },
  );

  it('announces video.failed of a job it closes, as the job is now', async () => {
    const job = aJob({
      jobId: 'job_L',
      status: 'IN_PROGRESS',
      executionName: 'job_L',
      webhook: { url: 'https://hooks.example.com/sora', events: ['video.failed'] },
    });
    const { deps } = setup({ jobs: [job], states: { job_L: 'ABORTED' } });
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
    const { deps, store } = setup({ jobs: [job], states: { job_L: 'ABORTED' } });
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

  it('keeps the budget reservation of a lost job that has a provider job (the money may be spent)', async () => {
    const job = aJob({
      jobId: 'job_L',
      status: 'IN_PROGRESS',
      executionName: 'job_L',
      providerJobId: 'video_1',
    });
    const { deps, released } = setup({ jobs: [job], states: { job_L: 'FAILED' } });

    await runScheduler(deps);

    expect(released).toEqual([]);
  });

  it('leaves jobs with a live execution alone, including QUEUED ones waiting for a slot', async () => {
    const jobs = [
      aJob({ jobId: 'job_A', status: 'IN_PROGRESS', executionName: 'job_A' }),
      aJob({ jobId: 'job_B', executionName: 'job_B', updatedAt: LONG_AGO }),
    ];
    const { deps, store } = setup({ jobs, states: { job_A: 'RUNNING', job_B: 'RUNNING' } });

    const summary = await runScheduler(deps);

    expect(summary.reconciled).toEqual([]);
    expect((await store.get('job_A'))?.status).toBe('IN_PROGRESS');
    expect((await store.get('job_B'))?.status).toBe('QUEUED');
  });

  it('gives a QUEUED job without execution time to be started before acting', async () => {
    const job = aJob({ jobId: 'job_N', source: 'inbox', idempotencyKey: 'k', updatedAt: JUST_NOW });
    const { deps, store } = setup({ jobs: [job] });

    const summary = await runScheduler(deps);

    expect(summary.requeued).toEqual([]);
    expect(await store.get('job_N')).toMatchObject({ status: 'QUEUED', deferred: false });
  });

  it('requeues a QUEUED job never started, which the next run starts under a new name', async () => {
    const job = aJob({
      jobId: 'job_N',
      source: 'inbox',
      idempotencyKey: 'k',
      executionName: 'job_N',
      updatedAt: LONG_AGO,
    });
    const { deps, starts } = setup({ jobs: [job] });

    const first = await runScheduler(deps);
    await runScheduler(deps);

    expect(first.requeued).toEqual(['job_N']);
    expect(starts).toEqual([['job_N', 'job_N-1']]);
  });

  it('closes a never-started API job without idempotency key instead of running it unseen', async () => {
    const job = aJob({ jobId: 'job_N', source: 'api', updatedAt: LONG_AGO });
    const { deps, store } = setup({ jobs: [job] });

    await runScheduler(deps);

    expect(await store.get('job_N')).toMatchObject({
      status: 'FAILED',
      error: { code: 'execution_lost', message: expect.stringContaining('never started') },
    });
  });

  it('requeues, never closes, an API job a hand-off was starting when it died (its caller was told it was accepted)', async () => {
    const job = aJob({
      jobId: 'job_H',
      source: 'api',
      executionName: 'job_H-1',
      updatedAt: LONG_AGO,
    });
    const { deps, store } = setup({ jobs: [job] });

    const summary = await runScheduler(deps);

    expect(summary.reconciled).toEqual([]);
    expect(summary.requeued).toEqual(['job_H']);
    expect((await store.get('job_H'))?.status).not.toBe('FAILED');
  });

  it('closes a QUEUED job whose execution ended without an outcome', async () => {
    const job = aJob({ jobId: 'job_Q', executionName: 'job_Q', updatedAt: JUST_NOW });
    const { deps, store } = setup({ jobs: [job], states: { job_Q: 'ABORTED' } });

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
    const { deps, holders } = setup({
      jobs,
      states: { job_LIVE: 'RUNNING', job_D1: 'SUCCEEDED' },
      limit: 3,
      holding: ['job_DONE', 'job_LIVE', 'job_GONE', 'job_D1'],
    });

    const summary = await runScheduler(deps);

    expect(summary.releasedSlots.sort()).toEqual(['job_D1', 'job_DONE', 'job_GONE']);
    // The waiting job then takes a slot again as it starts.
    expect([...holders].sort()).toEqual(['job_D1', 'job_LIVE']);
    expect(summary.started).toEqual([{ jobId: 'job_D1', executionName: 'job_D1-1' }]);
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
    const { deps } = setup({ jobs });
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
