/**
 * Job state-change events: every status change of a job is put on an EventBridge bus, so users
 * route them (to SNS, SQS, Step Functions, a webhook, ...) instead of polling the API. The schema
 * is documented in docs/guide.md ("Job events") and is a public contract: add fields, never
 * rename or remove one.
 *
 * Delivery is at least once and best effort: an event is published after the state change is
 * stored, a failure to publish is logged and counted (JobEventsNotPublished, alarmed) and never
 * fails the job; a retried step may publish the same change twice.
 */
import type { Job, JobSource } from '../jobs/job.ts';

/** The `source` of every job event on the bus. */
export const JOB_EVENT_SOURCE = 'sora-pipeline';
/** The `detail-type` of every job event on the bus. */
export const JOB_EVENT_DETAIL_TYPE = 'Video Job State Changed';
/** Bumped only on a breaking change of the detail (never so far). */
export const JOB_EVENT_SCHEMA_VERSION = '1';

/** What a job event reports: each status change `JobStoreWithEvents` publishes. */
export const JOB_EVENT_STATUSES = [
  'queued',
  'started',
  'completed',
  'failed',
  'cancelled',
] as const;
export type JobEventStatus = (typeof JOB_EVENT_STATUSES)[number];

/** The `detail` of a job event. No prompt and no error message: either may quote the prompt. */
export interface JobEventDetail {
  version: typeof JOB_EVENT_SCHEMA_VERSION;
  jobId: string;
  status: JobEventStatus;
  source: JobSource;
  model: string;
  size: string;
  seconds: string;
  /** When the change was recorded (the job's updatedAt). */
  at: string;
  /** The provider's job id, once created. */
  providerJobId: string | null;
  /** `failed` only: the failure code (docs/guide.md, section 7) and whether a retry could work. */
  error: { code: string; retryable: boolean } | null;
  /** `completed` only: where the MP4 is. */
  video: { bucket: string; key: string; bytes: number; sha256: string } | null;
  /** The recorded cost when known (`completed`), else the estimate, in USD. */
  costUsd: number;
}

/** The detail of `job`'s event for `status`. */
export function jobEventDetail(job: Job, status: JobEventStatus): JobEventDetail {
  return {
    version: JOB_EVENT_SCHEMA_VERSION,
    jobId: job.jobId,
    status,
    source: job.source,
    model: job.model,
    size: job.size,
    seconds: job.seconds,
    at: job.updatedAt,
    providerJobId: job.providerJobId ?? null,
    error: job.error ? { code: job.error.code, retryable: job.error.retryable } : null,
    video: job.result
      ? {
          bucket: job.result.bucket,
          key: job.result.key,
          bytes: job.result.bytes,
          sha256: job.result.sha256,
        }
      : null,
    costUsd: job.actualCostUsd ?? job.estimatedCostUsd,
  };
}

/** Puts job events somewhere (the EventBridge bus, a test's list). Throws when it could not. */
export interface JobEventPublisher {
  publish(detail: JobEventDetail): Promise<void>;
}
