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
import { createProviderSource } from '../shared/provider-factory/provider-from-env.ts';
import {
  createSfnWorkflowExecutions,
  stopExecution,
} from '../shared/scheduler/workflow-executions.ts';
import { readSecretString } from '../shared/secrets/read-secret.ts';
import { createUploadReader, createUploadStore } from '../shared/storage/uploads.ts';
import { createWebhookNotifier } from '../shared/webhooks/notify-webhook.ts';
import { clientWebhookSecret } from '../shared/webhooks/webhook-signing.ts';
import { webhookPolicyFromEnv } from '../shared/webhooks/webhook-target.ts';
import { dispatchWaiting } from '../shared/workflow/job-queue.ts';
import { createExecutionStarter } from '../shared/workflow/start-execution.ts';
import { readApiConfig } from './api-config.ts';
import { createApiHandler } from './api-handler.ts';
import { createContentLink } from './content-link.ts';

export { createApiHandler };

const config = readApiConfig(process.env);
const limits = limitsFromEnv(dynamoDb, config.jobsTableName);
const store = productionJobStore(config.jobsTableName);
const provider = createProviderSource();
const keyedLogger = annotatingJobIds(logger);
const notify = createWebhookNotifier(sfn, config.webhookStateMachineArn);

export const handler = withObservability(
  'api',
  createApiHandler({
    store,
    startExecution: createExecutionStarter(sfn, config.stateMachineArn),
    semaphore: limits.semaphore,
    providerConfig: config.providerConfig,
    clock: now,
    newJobId,
    contentLink: createContentLink(s3, config.videosBucketName),
    usage: (day) => readUsage(limits, day),
    cancel: {
      store,
      clock: now,
      semaphore: limits.semaphore,
      budget: limits.budget,
      stopExecution: (name) => stopExecution(sfn, config.stateMachineArn, name),
      deleteProviderJob: async (id) => {
        await (await provider()).delete(id);
      },
      handOff: async () => {
        const executions = createSfnWorkflowExecutions(sfn, config.stateMachineArn);
        await dispatchWaiting({ store, semaphore: limits.semaphore, executions, clock: now });
      },
      onDeleteFailed: (providerJobId, error) =>
        keyedLogger.warn('Provider job of a cancelled video not deleted', { providerJobId, error }),
      notify,
    },
    webhookSecret: async (client) =>
      clientWebhookSecret(await readSecretString(config.webhookSecretId), client),
    webhookPolicy: webhookPolicyFromEnv(process.env),
    readUpload: createUploadReader(s3, config.videosBucketName),
    storeUpload: createUploadStore(s3, config.videosBucketName),
    logger: keyedLogger,
  }),
);
