/**
 * Lambda entry of the HTTP API. Configuration is read and checked when the module loads (a cold
 * start), so a missing variable fails the function loudly before any request is served. Traced,
 * with the job id annotated where the handler logs it; new jobs counted (JobsSubmitted).
 */
import { dynamoDb, s3, sfn } from '../shared/aws/clients.ts';
import { now } from '../shared/clock.ts';
import { productionJobStore } from '../shared/events/production-job-store.ts';
import { newJobId } from '../shared/jobs/job-id.ts';
import { limitsFromEnv } from '../shared/limits/limits-from-env.ts';
import { readUsage } from '../shared/limits/usage-report.ts';
import { annotatingJobIds } from '../shared/observability/job-tracing.ts';
import { logger } from '../shared/observability/observability.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { createExecutionStarter } from '../shared/workflow/start-execution.ts';
import { readApiConfig } from './api-config.ts';
import { createApiHandler } from './api-handler.ts';
import { createContentLink } from './content-link.ts';

export { createApiHandler };

const config = readApiConfig(process.env);
const limits = limitsFromEnv(dynamoDb, config.jobsTableName);

export const handler = withObservability(
  'api',
  createApiHandler({
    store: productionJobStore(config.jobsTableName),
    startExecution: createExecutionStarter(sfn, config.stateMachineArn),
    semaphore: limits.semaphore,
    providerConfig: config.providerConfig,
    clock: now,
    newJobId,
    contentLink: createContentLink(s3, config.videosBucketName),
    usage: (day) => readUsage(limits, day),
    logger: annotatingJobIds(logger),
  }),
);
