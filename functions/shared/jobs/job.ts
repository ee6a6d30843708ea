/**
 * The job record: one video generation, from request to MP4 in S3. This is the shape stored in
 * DynamoDB (plus key attributes) and the source of what the HTTP API returns.
 */

import type { JobStatus } from './job-status.ts';

export {
  ACTIVE_STATUSES,
  isTerminal,
  JOB_STATUSES,
  type JobStatus,
  TERMINAL_STATUSES,
} from './job-status.ts';

/** Where a job came from: the HTTP API, the S3 drop folder, or a scheduled batch. */
export const JOB_SOURCES = ['api', 'inbox', 'batch'] as const;
export type JobSource = (typeof JOB_SOURCES)[number];

/** The provider's own lifecycle, as last seen by a poll. */
export type ProviderStatus = 'queued' | 'in_progress' | 'completed' | 'failed';

/**
 * Why a QUEUED job waits with no execution running: `capacity` (no concurrency slot was free; a
 * released slot hands off to it by fair share), `failover` (its deployment refused the create),
 * `scheduled` (submitted for the batch schedule, or
 * put back for it), `budget` (today's budget cannot cover it; a later day's run starts it).
 */
export const DEFERRED_REASONS = ['capacity', 'failover', 'scheduled', 'budget'] as const;
export type DeferredReason = (typeof DEFERRED_REASONS)[number];

/**
 * The reasons a job waits in its client's queue for a slot: `capacity` (none was free for it),
 * `failover` (its deployment refused the create, nothing made: it waits for a slot on one that
 * can take it). The others wait out of the queue, for the schedule or a later day's budget.
 */
export type QueueReason = Extract<DeferredReason, 'capacity' | 'failover'>;
export const isQueueReason = (reason: DeferredReason | undefined): reason is QueueReason =>
  reason === 'capacity' || reason === 'failover';

export interface JobError {
  /** Machine-readable: a provider error code (`moderation_blocked`) or our error name. */
  code: string;
  /** Human-readable reason; never contains a secret or a stack trace. */
  message: string;
  /** Whether submitting the same request again could succeed. */
  retryable: boolean;
}

export interface JobResult {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
  contentType: string;
  thumbnailKey?: string;
  spritesheetKey?: string;
}

import type { ClientShare } from '../admission/client-share.ts';
import type { WebhookDelivery, WebhookRequest } from '../webhooks/webhook-events.ts';

/** Orders a job within its client's share: high before normal before low. */
export const JOB_PRIORITIES = ['high', 'normal', 'low'] as const;
export type JobPriority = (typeof JOB_PRIORITIES)[number];
export const DEFAULT_PRIORITY: JobPriority = 'normal';

/** The client a job belongs to when its record names none (jobs made before clients existed). */
export const DEFAULT_CLIENT = 'default';

export interface Job {
  jobId: string;
  status: JobStatus;
  source: JobSource;
  /**
   * The named client (API token owner) the job belongs to: only it (and an admin) sees, cancels
   * and downloads it. Jobs from the drop folder and batches belong to the default client.
   */
  client?: string;
  /** Jobs from one drop file or batch file share a batch id (`GET /videos?batch=`). */
  batchId?: string;
  /** Image-to-video: the reference image in the videos bucket, checked at submission. */
  inputReference?: {
    key: string;
    contentType: string;
    bytes: number;
    width: number;
    height: number;
  };
  /** A remix: the completed job whose video this one remixes (same model, size and seconds). */
  remixOf?: string;
  /** The provider's id of that job's video, which the create step remixes. */
  remixOfProviderJobId?: string;
  prompt: string;
  model: string;
  size: string;
  /** Seconds of video, a string as in the /v1/videos protocol ("4", "8", "12"). */
  seconds: string;
  /** Orders the job within its client's share (absent: normal). */
  priority?: JobPriority;
  /**
   * A job not admitted within this many seconds of `createdAt` ends CANCELLED with error code
   * `start_timeout`, never having called the provider.
   */
  startTimeoutSeconds?: number;
  /** Its client's share (weight, cap, budget) when it was submitted; absent: the defaults. */
  share?: ClientShare;
  /** When admission gave the job its slot and reservation (the first time). */
  startedAt?: string;
  /**
   * The provider deployment its slot is on (a model's `deployments`; `default` for a model
   * without): every provider call for its provider job goes there.
   */
  deployment?: string;
  /** A remix: the deployment that holds the source video (the remix is created there). */
  remixOfDeployment?: string;
  /** Deferred jobs wait as QUEUED until a scheduled batch run starts them. */
  deferred: boolean;
  /** Why a job waits: submitted as deferred, or put back because the daily budget ran out. */
  deferredReason?: DeferredReason;
  /**
   * The Step Functions execution driving the job: the job id for the first start (duplicate
   * starts are then harmless), `<jobId>-<n>` when the scheduler starts it again later.
   */
  executionName?: string;
  /**
   * How many times a new execution took over from one that died (crash, timeout, retries spent)
   * while the provider job was alive or rendered; bounded (see functions/shared/workflow/resume-job.ts).
   */
  resumeCount?: number;
  idempotencyKey?: string;
  /** sha256 of the normalized request; tells a replay from a conflicting reuse of a key. */
  requestHash: string;
  estimatedCostUsd: number;
  createdAt: string;
  updatedAt: string;
  /** Set just before the provider create call, so a crash after it is reconciled, not repeated. */
  createAttemptedAt?: string;
  providerJobId?: string;
  providerStatus?: ProviderStatus;
  /** 0..100 as reported by the provider. */
  progress: number;
  pollCount: number;
  completedAt?: string;
  /** When a client cancelled the job (status CANCELLED). */
  cancelledAt?: string;
  /** Where the job's events are announced (signed with its client's secret). */
  webhook?: WebhookRequest;
  /**
   * How the last webhook delivery went. Bookkeeping, not a status change: written on terminal
   * jobs too (the events of an ending are delivered after it).
   */
  lastWebhookDelivery?: WebhookDelivery;
  /** What the job cost at the provider's prices (model x seconds), recorded on completion. */
  actualCostUsd?: number;
  result?: JobResult;
  error?: JobError;
}

/** A job parked for a slot in its client's queue (functions/shared/admission). */
export const waitsForSlot = (job: Job): boolean =>
  job.status === 'QUEUED' && job.deferred && isQueueReason(job.deferredReason);

/** The client a job belongs to. */
export function ownerOf(job: Pick<Job, 'client'>): string {
  return job.client ?? DEFAULT_CLIENT;
}
