import { listPlan } from '../../functions/shared/jobs/dynamo-job-store.ts';
import {
  type DeferredReason,
  isQueueReason,
  isTerminal,
  type Job,
  type JobError,
  type JobResult,
  ownerOf,
  type ProviderStatus,
  type QueueReason,
} from '../../functions/shared/jobs/job.ts';
import {
  IdempotencyConflictError,
  JobAlreadyExistsError,
  JobAlreadyStartedError,
  JobAlreadyTerminalError,
  JobNotFoundError,
  ProviderJobClaimedError,
  ValidationError,
} from '../../functions/shared/jobs/job-errors.ts';
import { canTransition } from '../../functions/shared/jobs/job-status.ts';
import type {
  CountWaitingOptions,
  JobStore,
  ListJobsQuery,
} from '../../functions/shared/jobs/job-store.ts';
import {
  createdSortKey,
  jobKey,
  PARTITION_KEY,
  queueSortKey,
  SORT_KEY,
} from '../../functions/shared/jobs/jobs-table.ts';
import { decodeCursor, encodeCursor } from '../../functions/shared/jobs/list-cursor.ts';
import type { WebhookDelivery } from '../../functions/shared/webhooks/webhook-events.ts';

/**
 * `JobStore` in memory with the semantics of `DynamoJobStore`: idempotent create, updates
 * checked against the same transition table (JobAlreadyTerminalError, recordFailed a no-op on a terminal job, JobNotFoundError on a
 * missing one), lists by creation time (newest first by default) with opaque cursors. Jobs are copied in and out, so a test
 * cannot change stored state by mutating a returned object.
 */
export class InMemoryJobStore implements JobStore {
  readonly #jobs = new Map<string, Job>();
  readonly #idempotency = new Map<string, { jobId: string; requestHash: string }>();
  /** The provider-job ledger: provider job id -> the job holding it. */
  readonly #ledger = new Map<string, string>();
  readonly #now: () => Date;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  /** Puts a job as is (any status), bypassing create: for arranging a test's starting state. */
  seed(...jobs: Job[]): void {
    for (const job of jobs) this.#jobs.set(job.jobId, structuredClone(job));
  }

  /** Every stored job, in insertion order. */
  all(): Job[] {
    return [...this.#jobs.values()].map((job) => structuredClone(job));
  }

  async create(job: Job, idempotencyKey?: string): Promise<{ job: Job; created: boolean }> {
    if (idempotencyKey !== undefined) {
      const record = this.#idempotency.get(idempotencyKey);
      if (record !== undefined) {
        if (record.requestHash !== job.requestHash) {
          throw new IdempotencyConflictError(
            'The idempotency key was already used with a different request',
          );
        }
        const existing = this.#jobs.get(record.jobId);
        if (existing === undefined) throw new JobNotFoundError(`Job ${record.jobId} not found`);
        return { job: structuredClone(existing), created: false };
      }
    }
    const taken = this.#jobs.get(job.jobId);
    if (taken !== undefined) {
      // As DynamoJobStore: without a key, the very same job again is a retried put of our own.
      const retried =
        idempotencyKey === undefined &&
        taken.requestHash === job.requestHash &&
        taken.createdAt === job.createdAt;
      if (retried) return { job: structuredClone(taken), created: true };
      throw new JobAlreadyExistsError(`Job ${job.jobId} already exists`);
    }
    this.#jobs.set(job.jobId, structuredClone(job));
    if (idempotencyKey !== undefined) {
      this.#idempotency.set(idempotencyKey, { jobId: job.jobId, requestHash: job.requestHash });
    }
    return { job: structuredClone(job), created: true };
  }

  async get(jobId: string): Promise<Job | undefined> {
    const job = this.#jobs.get(jobId);
    return job === undefined ? undefined : structuredClone(job);
  }

  async list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextCursor?: string }> {
    if (!Number.isInteger(query.limit) || query.limit < 1) {
      throw new ValidationError('limit', 'limit must be a positive integer');
    }
    const { index, partition } = listPlan(query);
    const after =
      query.cursor === undefined
        ? undefined
        : decodeCursor(query.cursor, [PARTITION_KEY, SORT_KEY, index.partitionKey, index.sortKey], {
            attribute: index.partitionKey,
            value: partition,
          })[index.sortKey];
    const ascending = query.order === 'asc';
    const matching = [...this.#jobs.values()]
      .filter(
        (job) =>
          (query.status === undefined || job.status === query.status) &&
          (query.client === undefined || ownerOf(job) === query.client) &&
          (query.batchId === undefined || job.batchId === query.batchId) &&
          (query.createdOn === undefined || job.createdAt.startsWith(`${query.createdOn}T`)),
      )
      .map((job) => ({ job, sortKey: createdSortKey(job.createdAt, job.jobId) }))
      .filter(
        ({ sortKey }) => after === undefined || (ascending ? sortKey > after : sortKey < after),
      )
      .sort((a, b) => (a.sortKey < b.sortKey === ascending ? -1 : 1));
    const page = matching.slice(0, query.limit);
    const jobs = page.map(({ job }) => structuredClone(job));
    const last = page.at(-1);
    if (matching.length <= query.limit || last === undefined) return { jobs };
    const nextCursor = encodeCursor({
      ...jobKey(last.job.jobId),
      [index.partitionKey]: partition,
      [index.sortKey]: last.sortKey,
    });
    return { jobs, nextCursor };
  }

  async markCreateAttempt(jobId: string, at: string): Promise<Job> {
    return this.#update(jobId, { status: 'IN_PROGRESS', createAttemptedAt: at, updatedAt: at });
  }

  /** Which job holds a provider job, per the ledger. */
  holderOf(providerJobId: string): string | undefined {
    return this.#ledger.get(providerJobId);
  }

  async recordProviderJob(
    jobId: string,
    update: { providerJobId: string; providerStatus: ProviderStatus; progress: number },
  ): Promise<void> {
    const holder = this.#ledger.get(update.providerJobId);
    if (holder !== undefined && holder !== jobId) {
      throw new ProviderJobClaimedError(update.providerJobId, holder);
    }
    const job = this.#jobs.get(jobId);
    if (
      job !== undefined &&
      !isTerminal(job.status) &&
      job.providerJobId !== undefined &&
      job.providerJobId !== update.providerJobId
    ) {
      throw new JobAlreadyStartedError(
        `Job ${jobId} already holds provider job ${job.providerJobId}`,
      );
    }
    this.#update(jobId, {
      status: 'IN_PROGRESS',
      ...update,
      updatedAt: this.#now().toISOString(),
    });
    this.#ledger.set(update.providerJobId, jobId);
  }

  async recordProgress(
    jobId: string,
    update: { providerStatus: ProviderStatus; progress: number; pollCount: number },
  ): Promise<void> {
    await this.#update(jobId, {
      status: 'IN_PROGRESS',
      ...update,
      updatedAt: this.#now().toISOString(),
    });
  }

  async recordCompleted(
    jobId: string,
    result: JobResult,
    completedAt: string,
    actualCostUsd?: number,
  ): Promise<Job> {
    return this.#update(jobId, {
      status: 'COMPLETED',
      result,
      progress: 100,
      completedAt,
      updatedAt: completedAt,
      ...(actualCostUsd === undefined ? {} : { actualCostUsd }),
    });
  }

  async recordCancelled(
    jobId: string,
    at: string,
    error?: JobError,
    options: { unlessStarted?: boolean } = {},
  ): Promise<{ job: Job; cancelled: boolean }> {
    const job = this.#jobs.get(jobId);
    if (job === undefined) throw new JobNotFoundError(`Job ${jobId} not found`);
    const started = job.startedAt !== undefined || job.providerJobId !== undefined;
    if (!canTransition(job.status, 'CANCELLED') || (options.unlessStarted && started)) {
      return { job: structuredClone(job), cancelled: false };
    }
    return {
      job: this.#update(jobId, {
        status: 'CANCELLED',
        cancelledAt: at,
        updatedAt: at,
        ...(error === undefined ? {} : { error }),
      }),
      cancelled: true,
    };
  }

  async recordWebhookDelivery(jobId: string, delivery: WebhookDelivery): Promise<void> {
    const job = this.#jobs.get(jobId);
    if (job === undefined) throw new JobNotFoundError(`Job ${jobId} not found`);
    this.#jobs.set(jobId, { ...job, lastWebhookDelivery: structuredClone(delivery) });
  }

  async recordFailed(jobId: string, error: JobError, at: string): Promise<Job | undefined> {
    const job = this.#jobs.get(jobId);
    if (job !== undefined && isTerminal(job.status)) return undefined;
    return this.#update(jobId, { status: 'FAILED', error, updatedAt: at });
  }

  async enqueue(job: Job, at: string, reason: QueueReason = 'capacity'): Promise<void> {
    await this.#park(job.jobId, reason, at);
  }

  /** The byQueue index: a client's jobs waiting for a slot, in admission order. */
  #waiting(client: string): Job[] {
    return [...this.#jobs.values()]
      .filter(
        (job) =>
          job.status === 'QUEUED' &&
          job.deferred &&
          isQueueReason(job.deferredReason) &&
          ownerOf(job) === client,
      )
      .sort((a, b) => (queueSortKey(a) < queueSortKey(b) ? -1 : 1));
  }

  async listWaiting(client: string, limit: number): Promise<Job[]> {
    return this.#waiting(client)
      .slice(0, limit)
      .map((job) => structuredClone(job));
  }

  async countWaiting(client: string, options: CountWaitingOptions): Promise<number> {
    const before = options.before === undefined ? undefined : queueSortKey(options.before);
    const excluding = new Set(options.excluding ?? []);
    const ahead = this.#waiting(client).filter(
      (job) => (before === undefined || queueSortKey(job) < before) && !excluding.has(job.jobId),
    );
    return Math.min(ahead.length, options.max);
  }

  async markStarted(jobId: string, at: string, deployment?: string): Promise<void> {
    const job = this.#jobs.get(jobId);
    if (job === undefined || isTerminal(job.status)) return;
    this.#jobs.set(jobId, {
      ...job,
      startedAt: job.startedAt ?? at,
      ...(deployment === undefined ? {} : { deployment }),
    });
  }

  async deferJob(
    jobId: string,
    reason: Exclude<DeferredReason, QueueReason>,
    at: string,
  ): Promise<void> {
    await this.#park(jobId, reason, at);
  }

  async #park(jobId: string, reason: DeferredReason, at: string): Promise<void> {
    const job = this.#jobs.get(jobId);
    if (job?.providerJobId !== undefined && !isTerminal(job.status)) {
      throw new JobAlreadyStartedError(
        `Job ${jobId} already has provider job ${job.providerJobId}`,
      );
    }
    this.#update(jobId, {
      status: 'QUEUED',
      deferred: true,
      deferredReason: reason,
      updatedAt: at,
    });
    // As DynamoJobStore: a failover's create was definitely refused, nothing to reconcile.
    if (reason === 'failover') {
      const parked = this.#jobs.get(jobId);
      if (parked !== undefined) {
        const { createAttemptedAt: _refused, deployment: _refusing, ...rest } = parked;
        this.#jobs.set(jobId, rest);
      }
    }
  }

  async claimDeferred(jobId: string, executionName: string, at: string): Promise<boolean> {
    const job = this.#jobs.get(jobId);
    if (job === undefined || job.status !== 'QUEUED' || !job.deferred) return false;
    const { deferredReason: _cleared, ...rest } = job;
    this.#jobs.set(jobId, { ...rest, deferred: false, executionName, updatedAt: at });
    return true;
  }

  async claimResume(
    jobId: string,
    resume: { from: string; to: string; maxResumes: number },
    at: string,
  ): Promise<boolean> {
    const job = this.#jobs.get(jobId);
    if (job === undefined || isTerminal(job.status)) return false;
    if ((job.executionName ?? job.jobId) !== resume.from) return false;
    if ((job.resumeCount ?? 0) >= resume.maxResumes) return false;
    this.#update(jobId, {
      executionName: resume.to,
      resumeCount: (job.resumeCount ?? 0) + 1,
      updatedAt: at,
    });
    return true;
  }

  #update(jobId: string, changes: Partial<Job>): Job {
    const job = this.#jobs.get(jobId);
    if (job === undefined) throw new JobNotFoundError(`Job ${jobId} not found`);
    if (!canTransition(job.status, changes.status ?? job.status)) {
      throw new JobAlreadyTerminalError(`Job ${jobId} is already ${job.status}`);
    }
    const updated = { ...job, ...structuredClone(changes) };
    this.#jobs.set(jobId, updated);
    return structuredClone(updated);
  }
}
