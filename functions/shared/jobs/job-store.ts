import type { WebhookDelivery } from '../webhooks/webhook-events.ts';
import type {
  DeferredReason,
  Job,
  JobError,
  JobResult,
  JobStatus,
  ProviderStatus,
  QueueReason,
} from './job.ts';

/**
 * Persistence of jobs. Implemented on DynamoDB by `DynamoJobStore`; task handlers and use cases
 * depend on this interface so unit tests can hand them an in-memory fake.
 *
 * Every write after creation is conditional on the transition table (job-status.ts): a job in a
 * terminal state (COMPLETED, FAILED, CANCELLED) is never changed again, so a late or repeated step cannot undo an outcome. Writes that lose that
 * race throw `JobAlreadyTerminalError` (except `recordFailed`, which is a no-op then).
 */
/** What `countWaiting` counts. */
export interface CountWaitingOptions {
  /** Only the jobs ahead of this one in its client's queue. */
  before?: Job;
  /** Counting stops here. */
  max: number;
  /**
   * Jobs not to count although still queued: those a hand-off is starting (it takes the slot a
   * moment before it takes the job out of the queue).
   */
  excluding?: readonly string[];
}

export interface JobStore {
  /**
   * Writes a new job. With an idempotency key, the job and the key are written atomically: if
   * the key exists with the same request hash the existing job is returned (`created: false`);
   * with a different hash it throws `IdempotencyConflictError`.
   */
  create(job: Job, idempotencyKey?: string): Promise<{ job: Job; created: boolean }>;
  get(jobId: string): Promise<Job | undefined>;
  /** Newest first unless `order: 'asc'`; `cursor` is opaque (from a previous page's `nextCursor`). */
  list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextCursor?: string }>;
  /** Stamps `createAttemptedAt` (status becomes IN_PROGRESS) before the provider create call. */
  markCreateAttempt(jobId: string, at: string): Promise<Job>;
  /**
   * Records the provider's job id right after a create (or a reconciliation) succeeded, and claims
   * it in the provider-job ledger in the same transaction: a provider job is held by exactly one
   * job. Throws ProviderJobClaimedError when another job holds it (nothing is written), and
   * JobAlreadyStartedError when this job already holds a different one.
   */
  recordProviderJob(
    jobId: string,
    update: { providerJobId: string; providerStatus: ProviderStatus; progress: number },
  ): Promise<void>;
  /** Records what a poll saw. */
  recordProgress(
    jobId: string,
    update: { providerStatus: ProviderStatus; progress: number; pollCount: number },
  ): Promise<void>;
  /** Records COMPLETED with its video; answers the job as recorded. */
  recordCompleted(
    jobId: string,
    result: JobResult,
    completedAt: string,
    actualCostUsd?: number,
  ): Promise<Job>;
  /**
   * Records CANCELLED (with `cancelledAt`) on a job the transition table lets be cancelled.
   * Answers the job as it is after the write, or as it was when it could not be cancelled (already
   * terminal); JobNotFoundError when it does not exist.
   */
  recordCancelled(
    jobId: string,
    at: string,
    error?: JobError,
    /** `unlessStarted`: only a job never admitted (no `startedAt`, no provider job). */
    options?: { unlessStarted?: boolean },
  ): Promise<{ job: Job; cancelled: boolean }>;
  /**
   * Records how the last webhook delivery went. Changes no status, so it is written on a
   * terminal job too; JobNotFoundError when the job does not exist.
   */
  recordWebhookDelivery(jobId: string, delivery: WebhookDelivery): Promise<void>;
  /**
   * Records FAILED with a reason and answers the job as recorded; does nothing (and answers
   * undefined) if the job is already terminal.
   */
  recordFailed(jobId: string, error: JobError, at: string): Promise<Job | undefined>;
  /**
   * Puts a job that has no provider job yet back to QUEUED + deferred (e.g. the daily budget is
   * spent), for a later scheduled run. Keeps `createAttemptedAt` and `executionName`, so a later
   * start reconciles an ambiguous create and gets a fresh execution name. Throws
   * JobAlreadyStartedError if the job already has a provider job, JobAlreadyTerminalError if it
   * is finished, JobNotFoundError if it does not exist.
   */
  deferJob(jobId: string, reason: Exclude<DeferredReason, QueueReason>, at: string): Promise<void>;
  /**
   * Parks a job without a provider job to wait for a slot: QUEUED, deferred `capacity`, and in its
   * client's queue (the byQueue index) in admission order. Same refusals as `deferJob`.
   */
  enqueue(job: Job, at: string, reason?: QueueReason): Promise<void>;
  /** Up to `limit` of a client's jobs waiting for a slot, in the order they are to be admitted. */
  listWaiting(client: string, limit: number): Promise<Job[]>;
  /**
   * How many of a client's jobs wait for a slot (ahead of `before`, when given), leaving out the
   * `excluding` ones, counting no further than `max`.
   */
  countWaiting(client: string, options: CountWaitingOptions): Promise<number>;
  /**
   * Stamps `startedAt` (the first admission only) on a job that has not ended, and the
   * deployment its slot is on (every admission: a failover moves it).
   */
  markStarted(jobId: string, at: string, deployment?: string): Promise<void>;
  /**
   * Claims a deferred QUEUED job for starting: sets `deferred: false` and `executionName`
   * atomically, only if it is still QUEUED and deferred. Returns false when another run claimed
   * it first (or the job is gone or no longer waiting), so two scheduler runs never start one
   * job twice. Clears `deferredReason`.
   */
  claimDeferred(jobId: string, executionName: string, at: string): Promise<boolean>;
  /**
   * Hands a job whose execution `from` died over to a new execution `to`: sets `executionName`
   * and increments `resumeCount`, only while the job is not terminal, is still driven by `from`
   * and has resumed fewer than `maxResumes` times. False when another caller resumed it first,
   * the job ended, or the bound is reached.
   */
  claimResume(
    jobId: string,
    resume: { from: string; to: string; maxResumes: number },
    at: string,
  ): Promise<boolean>;
}

export interface ListJobsQuery {
  status?: JobStatus;
  /** Only this client's jobs. */
  client?: string;
  /** Only the jobs of this batch. */
  batchId?: string;
  /** With `client`: only the jobs created on this UTC day (YYYY-MM-DD). */
  createdOn?: string;
  limit: number;
  cursor?: string;
  /** By creation time; newest first (`desc`) unless asked otherwise. */
  order?: 'asc' | 'desc';
}
