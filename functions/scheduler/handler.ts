/**
 * Lambda entry of the scheduled batch run (EventBridge rule, `schedule:expression` in CDK
 * context). Configuration is read and the clients are created on the first invocation (see
 * lazy-handler.ts); a missing variable fails it loudly, naming the variable.
 */
import { DynamoDeploymentHealth } from '../shared/admission/deployment-health.ts';
import { dynamoDb } from '../shared/aws/dynamodb-client.ts';
import { sfn } from '../shared/aws/sfn-client.ts';
import { now } from '../shared/clock.ts';
import { readConfig } from '../shared/config/function-config.ts';
import { productionJobStore } from '../shared/events/production-job-store.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { sharedLimits } from '../shared/limits/limits-from-env.ts';
import { recordDeploymentStates } from '../shared/observability/deployment-health-reporter.ts';
import { logger } from '../shared/observability/observability.ts';
import { countingSchedulerRuns } from '../shared/observability/scheduler-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { deploymentsForJob, deploymentsOf } from '../shared/provider/deployments.ts';
import { createSfnWorkflowExecutions } from '../shared/scheduler/sfn-workflow-executions.ts';
import { webhookNotifierOnFirstUse } from '../shared/webhooks/webhook-notifier-on-first-use.ts';
import { createSchedulerHandler } from './scheduler-handler.ts';

export { createSchedulerHandler };

// Traced; each run's starts, reclaimed slots, lost and requeued jobs published as metrics.
export const handler = withObservability(
  'scheduler',
  countingSchedulerRuns(
    lazyHandler(() => {
      const config = readConfig([
        'jobsTableName',
        'jobEventsBusName',
        'stateMachineArn',
        'provider',
        'limits',
        'webhookDelivery',
      ]);
      const limits = sharedLimits(dynamoDb(), config.jobsTableName, config.limits);
      const health = new DynamoDeploymentHealth({
        client: dynamoDb(),
        tableName: config.jobsTableName,
      });
      return createSchedulerHandler({
        store: productionJobStore(config.jobsTableName, config.jobEventsBusName),
        executions: createSfnWorkflowExecutions(sfn(), config.stateMachineArn),
        semaphore: limits.semaphore,
        budget: limits.budget,
        // Each model's deployments, where the run's hand-offs place slots, and their breakers.
        deploymentsOf: (job) => deploymentsForJob(config.provider, job.model),
        health,
        reportDeploymentStates: async () => {
          const ids = new Set(
            Object.keys(config.provider.models).flatMap((model) =>
              deploymentsOf(config.provider, model).map((deployment) => deployment.id),
            ),
          );
          recordDeploymentStates(await health.states([...ids], now()));
        },
        clock: now,
        notify: webhookNotifierOnFirstUse(config.webhookDelivery),
        logger,
      });
    }),
  ),
);
