import { afterEach, describe, expect, it, vi } from 'vitest';
import { countingSchedulerRuns } from '../../../functions/shared/observability/scheduler-metrics.ts';
import { withObservability } from '../../../functions/shared/observability/with-observability.ts';
import type { SchedulerSummary } from '../../../functions/shared/scheduler/run-scheduler.ts';
import { capturedMetrics } from './emf-capture.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

function summary(overrides: Partial<SchedulerSummary> = {}): SchedulerSummary {
  return {
    checked: 0,
    reconciled: [],
    resumed: [],
    requeued: [],
    admissible: [],
    timedOut: [],
    releasedSlots: [],
    started: [],
    freeSlots: 4,
    overBudget: 0,
    webhooksRequeued: [],
    gauges: {
      waiting: 0,
      oldestWaitingSeconds: 0,
      inFlight: 0,
      spentTodayUsd: 0,
      dailyBudgetUsd: null,
    },
    ...overrides,
  };
}

function scheduler(result: SchedulerSummary) {
  const emf = capturedMetrics();
  const handler = withObservability(
    'scheduler',
    countingSchedulerRuns(async () => result),
    emf.tools,
  );
  const published = () =>
    emf.points().map(({ name, value, dimensions }) => ({ name, value, dimensions }));
  return { handler, published };
}

describe('scheduler metrics', () => {
  it('counts the jobs a run started, the slots it reclaimed and the jobs it closed, requeued or resumed, and publishes its gauges', async () => {
    const { handler, published } = scheduler(
      summary({
        checked: 5,
        reconciled: ['job_a'],
        requeued: ['job_b', 'job_c'],
        resumed: ['job_f'],
        // No series of their own: admission counts a timed-out job as it cancels it
        // (JobsTimedOut), and admissible jobs show in JobsWaiting.
        admissible: ['job_g'],
        timedOut: ['job_h'],
        releasedSlots: ['job_a', 'job_d'],
        started: [{ jobId: 'job_e', executionName: 'job_e-2' }],
        gauges: {
          waiting: 7,
          oldestWaitingSeconds: 1800,
          inFlight: 3,
          spentTodayUsd: 12.5,
          dailyBudgetUsd: 50,
        },
      }),
    );

    await handler({});

    expect(published()).toEqual([
      { name: 'DeferredJobsStarted', value: 1, dimensions: {} },
      { name: 'SlotsReclaimed', value: 2, dimensions: {} },
      { name: 'JobsWaiting', value: 7, dimensions: {} },
      { name: 'OldestWaitingJobAge', value: 1800, dimensions: {} },
      { name: 'JobsInFlight', value: 3, dimensions: {} },
      { name: 'SpentTodayUsd', value: 12.5, dimensions: {} },
      // The total over failure codes, for the failure-rate alarm.
      { name: 'JobsFailed', value: 1, dimensions: {} },
      { name: 'JobsFailed', value: 1, dimensions: { code: 'execution_lost' } },
      { name: 'JobsResumed', value: 1, dimensions: { code: 'execution_lost' } },
      { name: 'JobsDeferred', value: 2, dimensions: { reason: 'never_started' } },
    ]);
  });

  it('publishes zeros for a run that changed nothing, so every series gets a point', async () => {
    const { handler, published } = scheduler(summary());

    const result = await handler({});

    expect(result).toEqual(summary());
    expect(published().map(({ name, value }) => [name, value])).toEqual([
      ['DeferredJobsStarted', 0],
      ['SlotsReclaimed', 0],
      ['JobsWaiting', 0],
      ['OldestWaitingJobAge', 0],
      ['JobsInFlight', 0],
      ['SpentTodayUsd', 0],
      ['JobsFailed', 0],
      ['JobsFailed', 0],
      ['JobsResumed', 0],
      ['JobsDeferred', 0],
    ]);
  });
});
