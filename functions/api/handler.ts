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
import { createProviderSource } from '../shared/provider-factory/provider-from-env.ts';
import {
  createSfnWorkflowExecutions,
  stopExecution,
} from '../shared/scheduler/workflow-executions.ts';
import { readSecretString } from '../shared/secrets/read-secret.ts';
import { createUploadReader, createUploadStore } from '../shared/storage/uploads.ts';
import { createWebhookNotifier } from '../shared/webhooks/notify-webhook.ts';
import { clientWebhookSecret } from '../shared/webhooks/webhook-signing.ts';
import { dispatchWaiting } from '../shared/workflow/job-queue.ts';
import { createExecutionStarter } from '../shared/workflow/start-execution.ts';
import { createApiHandler } from './api-handler.ts';
import { createContentLink } from './content-link.ts';

export { createApiHandler };

export const handler = withObservability(
  'api',
  lazyHandler(() => {
    // The provider settings validate requests against the catalogue; the provider itself is
    // called only to delete the provider job of a cancelled video.
    const config = readConfig([
      'jobsTableName',
      'jobEventsBusName',
      'videosBucketName',
      'stateMachineArn',
      'webhookStateMachineArn',
      'webhookSecretId',
      'providerSecretId',
      'provider',
      'bedrock',
      'limits',
      'webhookPolicy',
    ]);
    const limits = sharedLimits(dynamoDb(), config.jobsTableName, config.limits);
    const store = productionJobStore(config.jobsTableName, config.jobEventsBusName);
    const provider = createProviderSource({
      settings: config.provider,
      secretId: config.providerSecretId,
    });
    const keyedLogger = annotatingJobIds(logger);
    const notify = createWebhookNotifier(sfn(), config.webhookStateMachineArn);
    return createApiHandler({
      store,
      startExecution: createExecutionStarter(sfn(), config.stateMachineArn),
      semaphore: limits.semaphore,
      providerConfig: config.provider,
      clock: now,
      newJobId,
      contentLink: createContentLink(s3(), config.videosBucketName),
      usage: (day) => readUsage(limits, day),
      cancel: {
        store,
        clock: now,
        semaphore: limits.semaphore,
        budget: limits.budget,
        stopExecution: (name) => stopExecution(sfn(), config.stateMachineArn, name),
        deleteProviderJob: async (id) => {
          await (await provider()).delete(id);
        },
        handOff: async () => {
          const executions = createSfnWorkflowExecutions(sfn(), config.stateMachineArn);
          await dispatchWaiting({ store, semaphore: limits.semaphore, executions, clock: now });
        },
        onDeleteFailed: (providerJobId, error) =>
          keyedLogger.warn('Provider job of a cancelled video not deleted', {
            providerJobId,
            error,
          }),
        notify,
      },
      webhookSecret: async (client) =>
        clientWebhookSecret(await readSecretString(config.webhookSecretId), client),
      webhookPolicy: config.webhookPolicy,
      readUpload: createUploadReader(s3(), config.videosBucketName),
      storeUpload: createUploadStore(s3(), config.videosBucketName),
      logger: keyedLogger,
    });
  }),
);
