import type { JobStanding } from '../admission/standing.ts';
import type { WebhookDelivery, WebhookEvent } from '../webhooks/webhook-events.ts';
import {
  DEFAULT_PRIORITY,
  type DeferredReason,
  type Job,
  type JobError,
  type JobPriority,
  type JobSource,
  type JobStatus,
  ownerOf,
} from './job.ts';

export const CONTENT_VARIANTS = ['video', 'thumbnail', 'spritesheet'] as const;
export type ContentVariant = (typeof CONTENT_VARIANTS)[number];

/**
 * What the API shows of a job. Built field by field (never by spreading the record) so that a
 * new internal attribute cannot leak: no table keys, request hash, provider ids or S3 keys.
 */
export interface PublicJob {
  id: string;
  status: JobStatus;
  source: JobSource;
  /** The client the job belongs to. */
  client: string;
  batchId?: string;
  /** Set on a remix: the id of the video it remixes. */
  remixOf?: string;
  prompt: string;
  model: string;
  size: string;
  seconds: string;
  deferred: boolean;
  /** Why a deferred job waits: submitted for the schedule, or the day's budget is spent. */
  deferredReason?: DeferredReason;
  /** Orders the job within its client's share. */
  priority: JobPriority;
  /** Asked for: the job is cancelled (`start_timeout`) if not admitted this long after submission. */
  startTimeoutSeconds?: number;
  /** When the job was admitted (given a slot and its budget reservation). */
  startedAt?: string;
  /** The provider deployment the job runs on (once admitted). */
  deployment?: string;
  /** A job waiting for a slot: its place in the queue and when it is expected done. */
  queue?: { position: number; etaSeconds: number | null };
  /** A running job: seconds until it is expected done (null without recent durations). */
  etaSeconds?: number | null;
  /** 0..100 as last reported by the provider. */
  progress: number;
  estimatedCostUsd: number;
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
  cancelledAt?: string;
  /** The webhook the job announces its events to, and how the last delivery went. */
  webhook?: { url: string; events: WebhookEvent[]; lastDelivery?: WebhookDelivery };
  /** Set when COMPLETED. */
  video?: { bytes: number; sha256: string; contentType: string; variants: ContentVariant[] };
  /** Set when FAILED. */
  error?: JobError;
  links: { self: string; content?: string };
}

export function jobPath(jobId: string): string {
  return `/videos/${encodeURIComponent(jobId)}`;
}

/** The job as the API shows it; `standing` (a single job's GET) adds its queue place and ETA. */
export function toPublicJob(job: Job, standing?: JobStanding): PublicJob {
  const view: PublicJob = {
    id: job.jobId,
    status: job.status,
    source: job.source,
    client: ownerOf(job),
    prompt: job.prompt,
    model: job.model,
    size: job.size,
    seconds: job.seconds,
    deferred: job.deferred,
    priority: job.priority ?? DEFAULT_PRIORITY,
    progress: job.progress,
    estimatedCostUsd: job.estimatedCostUsd,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    links: { self: jobPath(job.jobId) },
  };
  if (job.deferred && job.deferredReason !== undefined) view.deferredReason = job.deferredReason;
  if (job.startTimeoutSeconds !== undefined) view.startTimeoutSeconds = job.startTimeoutSeconds;
  if (job.startedAt !== undefined) view.startedAt = job.startedAt;
  if (job.deployment !== undefined) view.deployment = job.deployment;
  if (standing?.queue !== undefined) view.queue = { ...standing.queue };
  if (standing?.etaSeconds !== undefined) view.etaSeconds = standing.etaSeconds;
  if (job.batchId !== undefined) view.batchId = job.batchId;
  if (job.remixOf !== undefined) view.remixOf = job.remixOf;
  if (job.completedAt !== undefined) view.completedAt = job.completedAt;
  if (job.cancelledAt !== undefined) view.cancelledAt = job.cancelledAt;
  if (job.webhook !== undefined) {
    view.webhook = { url: job.webhook.url, events: [...job.webhook.events] };
    if (job.lastWebhookDelivery !== undefined) {
      view.webhook.lastDelivery = { ...job.lastWebhookDelivery };
    }
  }
  if (job.status === 'COMPLETED' && job.result !== undefined) {
    view.video = {
      bytes: job.result.bytes,
      sha256: job.result.sha256,
      contentType: job.result.contentType,
      variants: availableVariants(job),
    };
    view.links.content = `${jobPath(job.jobId)}/content`;
  }
  if (job.error !== undefined) {
    view.error = {
      code: job.error.code,
      message: job.error.message,
      retryable: job.error.retryable,
    };
  }
  return view;
}

/** The S3 key of a variant of a completed job, if it has one. */
export function contentKey(job: Job, variant: ContentVariant): string | undefined {
  if (job.result === undefined) return undefined;
  if (variant === 'thumbnail') return job.result.thumbnailKey;
  if (variant === 'spritesheet') return job.result.spritesheetKey;
  return job.result.key;
}

function availableVariants(job: Job): ContentVariant[] {
  return CONTENT_VARIANTS.filter((variant) => contentKey(job, variant) !== undefined);
}
