/**
 * A scheduler run's outcome as metrics, zeros included, so every run adds a point to each series
 * (alarms on SlotsReclaimed or on lost executions see "none" rather than "no data").
 */
import type { Context } from 'aws-lambda';
import { EXECUTION_LOST, type SchedulerSummary } from '../scheduler/run-scheduler.ts';
import { recordMetric } from './pipeline-metrics.ts';

/** The scheduler handler, recording what each run did. */
export function countingSchedulerRuns<TEvent>(
  run: (event: TEvent, context?: Context) => Promise<SchedulerSummary>,
): (event: TEvent, context?: Context) => Promise<SchedulerSummary> {
  return async (event, context) => {
    const summary = await run(event, context);
    recordMetric('DeferredJobsStarted', summary.started.length);
    recordMetric('SlotsReclaimed', summary.releasedSlots.length);
    recordMetric('JobsFailed', summary.reconciled.length, { code: EXECUTION_LOST });
    recordMetric('JobsDeferred', summary.requeued.length, { reason: 'never_started' });
    recordMetric('JobsResumed', summary.resumed.length, { code: EXECUTION_LOST });
    const { gauges } = summary;
    recordMetric('JobsWaiting', gauges.waiting);
    recordMetric('OldestWaitingJobAge', gauges.oldestWaitingSeconds);
    recordMetric('JobsInFlight', gauges.inFlight);
    recordMetric('SpentTodayUsd', gauges.spentTodayUsd);
    return summary;
  };
}
