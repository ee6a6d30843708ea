/**
 * Lambda entry of the HTTP API. Configuration is read and the clients are created on the first
 * invocation (see lazy-handler.ts); a missing variable fails it loudly, naming the variable.
 * Traced, with the job id annotated where the handler logs it; new jobs counted (JobsSubmitted).
 */
import { dynamoDb } from '../shared/aws/dynamodb-client.ts';
import { s3 } from '../shared/aws/s3-client.ts';
import { sfn } from '../shared/aws/sfn-client.ts';
import { now } from '../shared/clock.ts';
import { readConfig } from '../shared/config/function-config.ts';
import { productionJobStore } from '../shared/events/production-job-store.ts';
import { newJobId } from '../shared/jobs/job-id.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { sharedLimits } from '../shared/limits/limits-from-env.ts';
import { readUsage } from '../shared/limits/usage-report.ts';
import { annotatingJobIds } from '../shared/observability/job-tracing.ts';
import { logger } from '../shared/observability/observability.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { createExecutionStarter } from '../shared/workflow/start-execution.ts';
import { createApiHandler } from './api-handler.ts';
import { createContentLink } from './content-link.ts';

export { createApiHandler };

export const handler = withObservability(
  'api',
  lazyHandler(() => {
    // The provider settings validate requests against the catalogue; the API never calls the
    // provider, so it has no provider key.
    const config = readConfig([
      'jobsTableName',
      'jobEventsBusName',
      'videosBucketName',
      'stateMachineArn',
      'provider',
      'limits',
    ]);
    const limits = sharedLimits(dynamoDb(), config.jobsTableName, config.limits);
    return createApiHandler({
      store: productionJobStore(config.jobsTableName, config.jobEventsBusName),
      startExecution: createExecutionStarter(sfn(), config.stateMachineArn),
      semaphore: limits.semaphore,
      providerConfig: config.provider,
      clock: now,
      newJobId,
      contentLink: createContentLink(s3(), config.videosBucketName),
      usage: (day) => readUsage(limits, day),
      logger: annotatingJobIds(logger),
    });
  }),
);
