import type { Logger } from '@aws-lambda-powertools/logger';
import type {
  DeferredReason,
  Job,
  JobError,
  JobResult,
  ProviderStatus,
  QueueReason,
} from '../jobs/job.ts';
import type { CountWaitingOptions, JobStore, ListJobsQuery } from '../jobs/job-store.ts';
import { logger } from '../observability/observability.ts';
import { recordMetric } from '../observability/pipeline-metrics.ts';
import type { WebhookDelivery } from '../webhooks/webhook-events.ts';
import { type JobEventPublisher, type JobEventStatus, jobEventDetail } from './job-events.ts';

/** What the wrapper logs with (the Powertools logger; tests pass a recording one). */
export type JobEventsLogger = Pick<Logger, 'warn'>;

/**
 * A job store that publishes a job event after each stored state change: `queued` when a job is
 * created, `started` when its provider create is attempted, `completed`, `failed`, `cancelled`. The one place
 * job events come from, so no entry point can forget them; every other call passes through.
 * Publishing never fails the change it reports (see job-events.ts).
 */
export class JobStoreWithEvents implements JobStore {
  readonly #store: JobStore;
  readonly #publisher: JobEventPublisher;
  readonly #logger: JobEventsLogger;

  constructor(store: JobStore, publisher: JobEventPublisher, log: JobEventsLogger = logger) {
    this.#store = store;
    this.#publisher = publisher;
    this.#logger = log;
  }

  async create(job: Job, idempotencyKey?: string): Promise<{ job: Job; created: boolean }> {
    const result = await this.#store.create(job, idempotencyKey);
    if (result.created) await this.#publish(result.job, 'queued');
    return result;
  }

  async markCreateAttempt(jobId: string, at: string): Promise<Job> {
    const job = await this.#store.markCreateAttempt(jobId, at);
    await this.#publish(job, 'started');
    return job;
  }

  async recordCompleted(
    jobId: string,
    result: JobResult,
    completedAt: string,
    actualCostUsd?: number,
  ): Promise<Job> {
    const job = await this.#store.recordCompleted(jobId, result, completedAt, actualCostUsd);
    await this.#publish(job, 'completed');
    return job;
  }

  async recordFailed(jobId: string, error: JobError, at: string): Promise<Job | undefined> {
    const job = await this.#store.recordFailed(jobId, error, at);
    // undefined: the job had already ended, nothing changed.
    if (job !== undefined) await this.#publish(job, 'failed');
    return job;
  }

  async recordCancelled(
    jobId: string,
    at: string,
    error?: JobError,
    options?: { unlessStarted?: boolean },
  ): Promise<{ job: Job; cancelled: boolean }> {
    const result = await this.#store.recordCancelled(jobId, at, error, options);
    if (result.cancelled) await this.#publish(result.job, 'cancelled');
    return result;
  }

  recordWebhookDelivery(jobId: string, delivery: WebhookDelivery): Promise<void> {
    return this.#store.recordWebhookDelivery(jobId, delivery);
  }

  get(jobId: string): Promise<Job | undefined> {
    return this.#store.get(jobId);
  }

  list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextCursor?: string }> {
    return this.#store.list(query);
  }

  recordProviderJob(
    jobId: string,
    update: { providerJobId: string; providerStatus: ProviderStatus; progress: number },
  ): Promise<void> {
    return this.#store.recordProviderJob(jobId, update);
  }

  recordProgress(
    jobId: string,
    update: { providerStatus: ProviderStatus; progress: number; pollCount: number },
  ): Promise<void> {
    return this.#store.recordProgress(jobId, update);
  }

  deferJob(jobId: string, reason: Exclude<DeferredReason, QueueReason>, at: string): Promise<void> {
    return this.#store.deferJob(jobId, reason, at);
  }

  enqueue(job: Job, at: string, reason?: QueueReason): Promise<void> {
    return this.#store.enqueue(job, at, reason);
  }

  listWaiting(client: string, limit: number): Promise<Job[]> {
    return this.#store.listWaiting(client, limit);
  }

  countWaiting(client: string, options: CountWaitingOptions): Promise<number> {
    return this.#store.countWaiting(client, options);
  }

  markStarted(jobId: string, at: string, deployment?: string): Promise<void> {
    return this.#store.markStarted(jobId, at, deployment);
  }

  claimDeferred(jobId: string, executionName: string, at: string): Promise<boolean> {
    return this.#store.claimDeferred(jobId, executionName, at);
  }

  claimResume(
    jobId: string,
    resume: { from: string; to: string; maxResumes: number },
    at: string,
  ): Promise<boolean> {
    return this.#store.claimResume(jobId, resume, at);
  }

  async #publish(job: Job, status: JobEventStatus): Promise<void> {
    try {
      await this.#publisher.publish(jobEventDetail(job, status));
    } catch (error) {
      recordMetric('JobEventsNotPublished');
      // The error's name only: an SDK message is no place for a prompt, but stay sure.
      this.#logger.warn('Job event not published', {
        jobId: job.jobId,
        status,
        error: error instanceof Error ? error.name : 'unknown',
      });
    }
  }
}
