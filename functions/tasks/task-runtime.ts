/**
 * What the state-machine task handlers share: input parsing, the job lookup every task starts
 * with, per-job logging and tracing, and lazily built production dependencies.
 */
import type { Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import { now as pipelineNow } from '../shared/clock.ts';
import type { Job, ProviderStatus } from '../shared/jobs/job.ts';
import {
  JobAlreadyTerminalError,
  JobNotFoundError,
  ValidationError,
} from '../shared/jobs/job-errors.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { annotateJobId } from '../shared/observability/job-tracing.ts';
import { loggableError } from '../shared/observability/loggable-error.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { expectedGenerationSeconds, nextWaitSeconds } from '../shared/polling/wait-policy.ts';
import type { JobProvider } from '../shared/provider/job-provider.ts';
import { ProviderError } from '../shared/provider/provider-errors.ts';
import type { NotifyWebhook } from '../shared/webhooks/notify-webhook.ts';
import { webhookNotifierOnFirstUse } from '../shared/webhooks/webhook-notifier-on-first-use.ts';

export type Clock = () => Date;
export const systemClock: Clock = pipelineNow;

/** The provider calls the tasks make: /v1/videos or Bedrock, per model (job-provider.ts). */
export type TaskProvider = JobProvider;
/** The provider of one deployment (provider-from-env.ts); none: the default deployment. */
export type TaskProviderSource = (deployment?: string) => Promise<TaskProvider>;

/** What create and poll return; the state machine stores it at `$.poll`. */
export interface PollState {
  status: ProviderStatus;
  progress: number;
  /** Seconds for the next Wait state (a whole number). */
  waitSeconds: number;
  pollCount: number;
  /** The provider's reason when status is `failed`, else null (always present for ResultSelector). */
  error: { code: string; message: string } | null;
}

export type TaskHandler<TResult> = (event: unknown, context?: Context) => Promise<TResult>;

/** Validates a task's input, throwing ValidationError naming the first bad field. */
export function parseTaskInput<TSchema extends z.ZodMiniType>(
  schema: TSchema,
  event: unknown,
): z.output<TSchema> {
  const result = schema.safeParse(event);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') || '(input)';
  throw new ValidationError(
    field,
    `Invalid task input: ${field} ${issue?.message ?? 'is invalid'}`,
  );
}

/**
 * The job a task works on. A FAILED or CANCELLED job is final: the task throws JobAlreadyTerminalError, which
 * the machine does not retry; its Catch hands it to RecordFailure, which leaves the record as is.
 * A COMPLETED job is returned, and each task answers from it without calling the provider, so a
 * re-driven execution ends in Succeed without a second download.
 */
export async function loadJob(store: JobStore, jobId: string): Promise<Job> {
  const job = await store.get(jobId);
  if (!job) throw new JobNotFoundError(`Job ${jobId} not found`);
  if (job.status === 'FAILED' || job.status === 'CANCELLED') {
    throw new JobAlreadyTerminalError(
      `Job ${jobId} already ${job.status}${job.error ? ` (${job.error.code})` : ''}`,
    );
  }
  return job;
}

/** The next wait for a job that now shows `progress`, using its last recorded observation. */
export function waitSecondsFor(
  job: Job,
  seen: { progress: number; pollCount: number },
  now: Date,
): number {
  const start = Date.parse(job.createAttemptedAt ?? job.createdAt);
  const seconds = (iso: string | number) =>
    Math.max(0, ((typeof iso === 'number' ? iso : Date.parse(iso)) - start) / 1000);
  const previousAt = Date.parse(job.updatedAt);
  return nextWaitSeconds({
    progress: seen.progress,
    elapsedSeconds: seconds(now.getTime()),
    pollCount: seen.pollCount,
    expectedSeconds: expectedGenerationSeconds(job),
    previous:
      Number.isFinite(previousAt) && job.providerJobId
        ? { progress: job.progress, elapsedSeconds: seconds(previousAt) }
        : undefined,
  });
}

/**
 * Runs `work` with `jobId` (and the Lambda context) on every log line it writes and on its trace.
 * A provider error escaping it is counted (ProviderErrors, by error name) before it propagates.
 */
export async function withJobLogging<T>(
  jobId: string,
  context: Context | undefined,
  work: () => Promise<T>,
): Promise<T> {
  if (context) logger.addContext(context);
  logger.appendKeys({ jobId });
  annotateJobId(jobId);
  try {
    return await work();
  } catch (error) {
    if (error instanceof ProviderError) recordMetric('ProviderErrors', 1, { error: error.name });
    logger.warn('Task failed', { error: loggableError(error) });
    throw error;
  } finally {
    logger.resetKeys();
  }
}

/** The production webhook notifier (readConfig's `webhookDelivery`; unset, nothing is sent). */
export function productionNotifier(webhookDelivery: string | undefined): NotifyWebhook {
  return webhookNotifierOnFirstUse(webhookDelivery);
}

/** The production job store on the jobs table (publishing job events where configured). */
export { productionJobStore } from '../shared/events/production-job-store.ts';
