/**
 * Lambda entry of the S3 drop folder (object-created notifications on `inbox/` and `batches/`).
 * Configuration is read when the module loads, so a missing variable fails the cold start loudly.
 */
import { dynamoDb, s3, sfn } from '../shared/aws/clients.ts';
import { now } from '../shared/clock.ts';
import { productionJobStore } from '../shared/events/production-job-store.ts';
import { createS3DropObjectStore } from '../shared/intake/s3-drop-object-store.ts';
import { newJobId } from '../shared/jobs/job-id.ts';
import { limitsFromEnv } from '../shared/limits/limits-from-env.ts';
import { logger } from '../shared/observability/observability.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { createExecutionStarter } from '../shared/workflow/start-execution.ts';
import { readIntakeConfig } from './intake-config.ts';
import { createIntakeHandler } from './intake-handler.ts';

export { createIntakeHandler };

const config = readIntakeConfig(process.env);

// Traced; submitJob counts new jobs by source (JobsSubmitted), replays excluded.
export const handler = withObservability(
  'intake',
  createIntakeHandler({
    objects: createS3DropObjectStore(s3),
    submit: {
      store: productionJobStore(config.jobsTableName),
      startExecution: createExecutionStarter(sfn, config.stateMachineArn),
      semaphore: limitsFromEnv(dynamoDb, config.jobsTableName).semaphore,
      providerConfig: config.providerConfig,
      clock: now,
      newJobId,
    },
    logger,
  }),
);
