/**
 * Lambda entry of the S3 drop folder (object-created notifications on `inbox/` and `batches/`).
 * Configuration is read and the clients are created on the first invocation (see
 * lazy-handler.ts); a missing variable fails it loudly, naming the variable.
 */
import { s3 } from '../shared/aws/s3-client.ts';
import { sfn } from '../shared/aws/sfn-client.ts';
import { now } from '../shared/clock.ts';
import { readConfig } from '../shared/config/function-config.ts';
import { productionJobStore } from '../shared/events/production-job-store.ts';
import { createS3DropObjectStore } from '../shared/intake/s3-drop-object-store.ts';
import { newJobId } from '../shared/jobs/job-id.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { logger } from '../shared/observability/observability.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { createExecutionStarter } from '../shared/workflow/start-execution.ts';
import { createIntakeHandler } from './intake-handler.ts';

export { createIntakeHandler };

// Traced; submitJob counts new jobs by source (JobsSubmitted), replays excluded.
export const handler = withObservability(
  'intake',
  lazyHandler(() => {
    // Entries are validated against the model catalogue; the provider itself is never called.
    const config = readConfig(['jobsTableName', 'jobEventsBusName', 'stateMachineArn', 'provider']);
    return createIntakeHandler({
      objects: createS3DropObjectStore(s3()),
      submit: {
        store: productionJobStore(config.jobsTableName, config.jobEventsBusName),
        startExecution: createExecutionStarter(sfn(), config.stateMachineArn),
        providerConfig: config.provider,
        clock: now,
        newJobId,
      },
      logger,
    });
  }),
);
