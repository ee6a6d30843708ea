import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import {
  runScheduler,
  type SchedulerDeps,
  type SchedulerSummary,
} from '../shared/scheduler/run-scheduler.ts';

export type SchedulerLogger = Pick<Logger, 'info'> & { addContext(context: Context): void };

export interface SchedulerHandlerDeps extends SchedulerDeps {
  logger: SchedulerLogger;
}

export type SchedulerHandler = (event: unknown, context?: Context) => Promise<SchedulerSummary>;

/**
 * The EventBridge schedule's Lambda: one scheduler run per invocation (the event carries nothing
 * it needs). Infrastructure errors propagate, so the run shows as failed; the next run starts over.
 */
export function createSchedulerHandler(deps: SchedulerHandlerDeps): SchedulerHandler {
  return async (_event, context) => {
    if (context) deps.logger.addContext(context);
    const summary = await runScheduler(deps);
    deps.logger.info('Scheduler run', {
      checked: summary.checked,
      reconciled: summary.reconciled,
      requeued: summary.requeued,
      releasedSlots: summary.releasedSlots,
      started: summary.started.length,
      freeSlots: summary.freeSlots,
      overBudget: summary.overBudget,
      webhooksRequeued: summary.webhooksRequeued,
    });
    return summary;
  };
}
