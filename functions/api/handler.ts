/**
 * Lambda entry of the HTTP API. Configuration is read and the clients are created on the first
 * invocation (see lazy-handler.ts); a missing variable fails it loudly, naming the variable.
 * Traced, with the job id annotated where the handler logs it; new jobs counted (JobsSubmitted).
 */

import { loadedOnFirstUse } from '../shared/aws/aws-client.ts';
import { dynamoDb } from '../shared/aws/dynamodb-client.ts';
import { now } from '../shared/clock.ts';
import { readConfig } from '../shared/config/function-config.ts';
import { productionJobStore } from '../shared/events/production-job-store.ts';
import { isTerminal, type Job } from '../shared/jobs/job.ts';
import { newJobId } from '../shared/jobs/job-id.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { clientRateLimiter } from '../shared/limits/dynamo-client-rate-limiter.ts';
import { sharedLimits } from '../shared/limits/limits-from-env.ts';
import { readClientBudget, readUsage } from '../shared/limits/usage-report.ts';
import { annotatingJobIds } from '../shared/observability/job-tracing.ts';
import { logger } from '../shared/observability/observability.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { workflowExecutionsOnFirstUse } from '../shared/scheduler/workflow-executions-on-first-use.ts';
import type { ReadUpload, StoreUpload } from '../shared/storage/uploads.ts';
import { webhookNotifierOnFirstUse } from '../shared/webhooks/webhook-notifier-on-first-use.ts';
import { clientWebhookSecret } from '../shared/webhooks/webhook-signing.ts';
import { createApiHandler } from './api-handler.ts';
import { withClientRate } from './client-rate.ts';
import type { ContentLink } from './content-link.ts';

export { createApiHandler };

/** What the API does with the videos bucket (S3). */
interface VideosBucketRoutes {
  contentLink: ContentLink;
  readUpload: ReadUpload;
  storeUpload: StoreUpload;
}

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
      'clientRate',
      'webhookPolicy',
    ]);
    const limits = sharedLimits(dynamoDb(), config.jobsTableName, config.limits);
    const clientRate = clientRateLimiter(dynamoDb(), config.jobsTableName, config.clientRate);
    const store = productionJobStore(config.jobsTableName, config.jobEventsBusName);
    // The provider client is imported with its first use (a cancel), like S3 below.
    const providerSource = loadedOnFirstUse(async () => {
      const { createProviderSource } = await import(
        '../shared/provider-factory/provider-from-env.ts'
      );
      return createProviderSource({
        settings: config.provider,
        secretId: config.providerSecretId,
      });
    });
    const provider = async (deployment?: string) => (await providerSource())(deployment);
    const keyedLogger = annotatingJobIds(logger);
    // S3 serves three routes only (content links, reference images read and stored): it is
    // imported with the code that uses it on the first request that needs it, so a cold start
    // that reads or lists jobs does not load it.
    const videosBucket = loadedOnFirstUse(async (): Promise<VideosBucketRoutes> => {
      const [{ s3 }, { createContentLink }, { createUploadReader, createUploadStore }] =
        await Promise.all([
          import('../shared/aws/s3-client.ts'),
          import('./presigned-content-link.ts'),
          import('../shared/storage/uploads.ts'),
        ]);
      return {
        contentLink: createContentLink(s3(), config.videosBucketName),
        readUpload: createUploadReader(s3(), config.videosBucketName),
        storeUpload: createUploadStore(s3(), config.videosBucketName),
      };
    });
    // Step Functions serves submissions and cancels (and webhooks), not reads: imported on
    // first use like S3.
    const executions = workflowExecutionsOnFirstUse(config.stateMachineArn);
    const notify = webhookNotifierOnFirstUse(config.webhookStateMachineArn);
    // Secrets Manager serves one route (a client's webhook signing key): imported on first use
    // like S3 and Step Functions.
    const secrets = loadedOnFirstUse(() => import('../shared/secrets/read-secret.ts'));
    // Cancels settle through admission, whose hand-offs start waiting jobs; GETs of waiting and
    // running jobs read their standing. Imported on first use like S3: a cold start that submits
    // or lists done jobs does not load them.
    const admissionParts = loadedOnFirstUse(async () => {
      const [
        { createAdmission },
        { DynamoDurationStats },
        { standingOf },
        { deploymentsForJob },
        { DynamoDeploymentHealth },
      ] = await Promise.all([
        import('../shared/admission/admission.ts'),
        import('../shared/admission/duration-stats.ts'),
        import('../shared/admission/queue-standing.ts'),
        import('../shared/provider/deployments.ts'),
        import('../shared/admission/deployment-health.ts'),
      ]);
      const durations = new DynamoDurationStats({
        client: dynamoDb(),
        tableName: config.jobsTableName,
      });
      const admission = createAdmission({
        store,
        semaphore: limits.semaphore,
        budget: limits.budget,
        overBudgetAction: limits.config.overBudgetAction,
        priceOf: (job) => job.estimatedCostUsd,
        clock: now,
        executions,
        durations,
        // A hand-off may cancel a waiting job whose start timeout passed: announced like a cancel.
        notify,
        deploymentsOf: (job) => deploymentsForJob(config.provider, job.model),
        health: new DynamoDeploymentHealth({ client: dynamoDb(), tableName: config.jobsTableName }),
      });
      return {
        admission,
        standing: (job: Job) =>
          standingOf(job, { store, semaphore: limits.semaphore, durations, clock: now }),
      };
    });
    // Each client's request rate is checked before any operation runs (client-rate.ts).
    const api = createApiHandler({
      store,
      // Named by the job id: a second start of the same job starts nothing (start-execution.ts).
      startExecution: async (jobId) => {
        await executions.start(jobId, jobId);
      },
      providerConfig: config.provider,
      clock: now,
      newJobId,
      contentLink: async (key) => (await videosBucket()).contentLink(key),
      usage: (day) => readUsage(limits, day),
      standing: async (job) =>
        isTerminal(job.status) ? undefined : (await admissionParts()).standing(job),
      clientBudget: (client, day) => readClientBudget(limits.budget, client, day),
      cancel: {
        store,
        clock: now,
        admission: {
          settleAbandoned: async (job) => (await admissionParts()).admission.settleAbandoned(job),
        },
        stopExecution: async (name) => {
          const [{ sfn }, { stopExecution }] = await Promise.all([
            import('../shared/aws/sfn-client.ts'),
            import('../shared/scheduler/sfn-workflow-executions.ts'),
          ]);
          await stopExecution(sfn(), config.stateMachineArn, name);
        },
        deleteProviderJob: async (id, deployment) => {
          await (await provider(deployment)).delete(id);
        },
        onDeleteFailed: (providerJobId, error) =>
          keyedLogger.warn('Provider job of a cancelled video not deleted', {
            providerJobId,
            error,
          }),
        notify,
      },
      webhookSecret: async (client) => {
        const { readSecretString } = await secrets();
        return clientWebhookSecret(await readSecretString(config.webhookSecretId), client);
      },
      webhookPolicy: config.webhookPolicy,
      readUpload: async (key) => (await videosBucket()).readUpload(key),
      storeUpload: async (bytes, client) => (await videosBucket()).storeUpload(bytes, client),
      logger: keyedLogger,
    });
    return withClientRate(api, { limiter: clientRate, clock: now, logger: keyedLogger });
  }),
);
