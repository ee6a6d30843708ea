/**
 * Lambda entry of the scheduled batch run (EventBridge rule, `schedule:expression` in CDK
 * context). Configuration is read when the module loads, so a missing variable fails loudly.
 */
import { z } from 'zod';
import { dynamoDb, sfn } from '../shared/aws/clients.ts';
import { now } from '../shared/clock.ts';
import { productionJobStore } from '../shared/events/production-job-store.ts';
import { limitsFromEnv } from '../shared/limits/limits-from-env.ts';
import { logger } from '../shared/observability/observability.ts';
import { countingSchedulerRuns } from '../shared/observability/scheduler-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { createSfnWorkflowExecutions } from '../shared/scheduler/workflow-executions.ts';
import { createSchedulerHandler } from './scheduler-handler.ts';

export { createSchedulerHandler };

/** The scheduler function's configuration is missing or invalid. */
export class SchedulerConfigError extends Error {
  override name = 'SchedulerConfigError';
}

const env = z
  .object({ JOBS_TABLE_NAME: z.string().min(1), STATE_MACHINE_ARN: z.string().min(1) })
  .safeParse(process.env);
if (!env.success) {
  const names = [...new Set(env.error.issues.map((issue) => issue.path.join('.')))];
  throw new SchedulerConfigError(`Missing or empty environment variable(s): ${names.join(', ')}`);
}
const { JOBS_TABLE_NAME: tableName, STATE_MACHINE_ARN: stateMachineArn } = env.data;
const limits = limitsFromEnv(dynamoDb, tableName);

// Traced; each run's starts, reclaimed slots, lost and requeued jobs published as metrics.
export const handler = withObservability(
  'scheduler',
  countingSchedulerRuns(
    createSchedulerHandler({
      store: productionJobStore(tableName),
      executions: createSfnWorkflowExecutions(sfn, stateMachineArn),
      semaphore: limits.semaphore,
      budget: limits.budget,
      clock: now,
      logger,
    }),
  ),
);
