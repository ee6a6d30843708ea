/**
 * State-machine task: admit the job (functions/shared/admission/admission.ts), before anything
 * is asked of the provider.
 *
 * Input `{ jobId, stateMachineArn }` (`stateMachineArn` is `$$.StateMachine.Id`, where hand-offs
 * start waiting jobs); output `{ admission }`, which the IsJobAdmitted choice branches on:
 * - `admitted`: the job holds a slot and its reservation (or, resumed, holds them from its first
 *   admission): on to CreateProviderJob.
 * - `parked`: no slot for its client; it waits in its client's queue with no execution, and a
 *   hand-off starts it again.
 * - `deferred`: the budget cannot cover it today (OVER_BUDGET_ACTION `queue`).
 * - `timed_out`: cancelled, its start timeout passed before a slot came.
 * With OVER_BUDGET_ACTION `reject`, BudgetExceededError (not retried; RecordFailure records
 * `budget_exceeded`). A job that ended meanwhile answers its ending's name without taking
 * anything (COMPLETED goes on to the download step, which answers from the record).
 */
import * as z from 'zod/mini';
import '../shared/schema-messages.ts';
import type { AdmitOutcome } from '../shared/admission/admission.ts';
import { readConfig } from '../shared/config/function-config.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { productionTaskLimits, type TaskLimits } from './task-limits.ts';
import {
  loadJob,
  parseTaskInput,
  productionJobStore,
  productionNotifier,
  type TaskHandler,
  withJobLogging,
} from './task-runtime.ts';

export interface AdmitJobDeps {
  store: JobStore;
  limits: Pick<TaskLimits, 'admission'>;
}

export interface AdmitState {
  admission: AdmitOutcome | 'completed';
}

const inputSchema = z.object({
  jobId: z.string().check(z.minLength(1)),
  stateMachineArn: z.optional(z.string().check(z.minLength(1))),
});

export function createAdmitJobHandler(deps: AdmitJobDeps): TaskHandler<AdmitState> {
  return async (event, context) => {
    const input = parseTaskInput(inputSchema, event);
    return withJobLogging(input.jobId, context, async () => {
      const job = await loadJob(deps.store, input.jobId);
      if (job.status === 'COMPLETED') return { admission: 'completed' };
      return { admission: await deps.limits.admission(input.stateMachineArn).admit(job) };
    });
  };
}

export const handler = withObservability(
  'admit-job',
  lazyHandler(() => {
    const config = readConfig([
      'jobsTableName',
      'jobEventsBusName',
      'provider',
      'limits',
      'webhookDelivery',
    ]);
    const store = productionJobStore(config.jobsTableName, config.jobEventsBusName);
    return createAdmitJobHandler({
      store,
      limits: productionTaskLimits(store, config.jobsTableName, config.limits, {
        jobEventsBusName: config.jobEventsBusName,
        provider: config.provider,
        notify: productionNotifier(config.webhookDelivery),
      }),
    });
  }),
);
