/**
 * State-machine task: stream the finished MP4 (plus thumbnail and spritesheet) from the provider
 * into S3 and record the job COMPLETED.
 *
 * Input `{ jobId, stateMachineArn? }`; output `{ bucket, key, bytes, sha256 }` at `$.download`.
 * - Content past its `expires_at` throws ProviderContentExpiredError (not retried).
 * - A truncated or dropped body throws ProviderTransientError (retried; no object is left).
 * - A payload that is not an MP4 throws InvalidContentError (not retried; no object is left).
 * - Thumbnail and spritesheet are best effort: a provider without them still completes the job.
 * - Bedrock wrote the MP4 into our bucket: it is read from there, verified the same way (size,
 *   ISO-BMFF, sha256) as it is streamed to the video's key, and Bedrock's copy is then deleted
 *   (`discardContent`), so storing it is a move. Bedrock renders no thumbnail or spritesheet.
 * - A COMPLETED job answers with its recorded result, without downloading again.
 * - A resumed job (its earlier execution died) first looks for a whole video already stored at
 *   its key and adopts it (checked and hashed again) instead of downloading it again.
 * - The provider call takes a request from the shared per-minute allowance; when it is spent,
 *   RequestRateLimitedError is thrown (retried by the machine with backoff).
 * - Completion records the actual cost (the catalogue price of the job's model, size and
 *   seconds) on the job. The poll that saw the render finished has already spent that cost and
 *   released the slot; settling again here is a no-op then, and covers a job resumed straight
 *   into this step. A retry that finds the job COMPLETED settles again (a no-op when it was done),
 *   so a crash between the two never leaks a slot.
 */
import * as z from 'zod/mini';
import '../shared/schema-messages.ts';
import { s3 } from '../shared/aws/s3-client.ts';
import { readConfig } from '../shared/config/function-config.ts';
import type { Job, JobResult } from '../shared/jobs/job.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { RequestRateLimitedError } from '../shared/limits/limit-errors.ts';
import { loggableError } from '../shared/observability/loggable-error.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import {
  ProviderContentExpiredError,
  ProviderError,
  ProviderTransientError,
} from '../shared/provider/provider-errors.ts';
import type { ProviderVideo } from '../shared/provider/provider-video.ts';
import { taskProviderSource } from '../shared/provider-factory/bedrock-provider-source.ts';
import { type ImageVariant, VideoStorage } from '../shared/storage/video-storage.ts';
import { announce, type NotifyWebhook, noWebhooks } from '../shared/webhooks/notify-webhook.ts';
import { ProviderJobMissingError } from './task-errors.ts';
import { productionTaskLimits, type TaskLimits } from './task-limits.ts';
import {
  type Clock,
  loadJob,
  parseTaskInput,
  productionJobStore,
  productionNotifier,
  systemClock,
  type TaskHandler,
  type TaskProvider,
  type TaskProviderSource,
  withJobLogging,
} from './task-runtime.ts';

export interface DownloadVideoDeps {
  store: JobStore;
  provider: TaskProviderSource;
  storage: Pick<VideoStorage, 'putVideo' | 'putImage' | 'findVideo'>;
  clock: Clock;
  limits: Pick<TaskLimits, 'admission' | 'rateLimiter' | 'priceOf' | 'deploymentRate'>;
  /** Announces video.completed to the job's webhook (default: nothing sent). */
  notify?: NotifyWebhook;
}

export interface DownloadResult {
  bucket: string;
  key: string;
  bytes: number;
  sha256: string;
}

const inputSchema = z.object({
  jobId: z.string().check(z.minLength(1)),
  stateMachineArn: z.optional(z.string().check(z.minLength(1))),
});

export function createDownloadVideoHandler(deps: DownloadVideoDeps): TaskHandler<DownloadResult> {
  return async (event, context) => {
    const { jobId, stateMachineArn } = parseTaskInput(inputSchema, event);
    const settle = (job: Job, costUsd: number) =>
      deps.limits.admission(stateMachineArn).settleRendered(job, costUsd);
    return withJobLogging(jobId, context, async () => {
      const job = await loadJob(deps.store, jobId);
      if (job.status === 'COMPLETED' && job.result) {
        await settle(job, job.actualCostUsd ?? deps.limits.priceOf(job));
        return summary(job.result);
      }
      if (!job.providerJobId) {
        throw new ProviderJobMissingError(`Job ${jobId} has no provider job to download`);
      }
      const deploymentRate = deps.limits.deploymentRate?.(job);
      const allowed =
        (await deps.limits.rateLimiter.tryTake(deps.clock())) &&
        (deploymentRate === undefined || (await deploymentRate.tryTake(deps.clock())));
      if (!allowed) {
        recordMetric('RateLimitWaits');
        throw new RequestRateLimitedError(
          'The provider request allowance of this minute is spent; the download waits',
        );
      }
      const provider = await deps.provider(job.deployment);
      // A resumed job may find its whole video stored by the execution that died.
      const adopted = job.resumeCount ? await deps.storage.findVideo(jobId) : undefined;
      if (adopted)
        logger.info('Adopted the video an earlier execution stored', { key: adopted.key });
      let stored = adopted;
      if (stored === undefined) {
        const video = await provider.retrieve(job.providerJobId);
        assertDownloadable(video, deps.clock());
        stored = await deps.storage.putVideo(
          jobId,
          await provider.downloadContent(video.id, 'video'),
        );
      }
      const providerJobId = job.providerJobId;
      const [thumbnailKey, spritesheetKey] = await Promise.all([
        storeImage(deps, provider, jobId, providerJobId, 'thumbnail'),
        storeImage(deps, provider, jobId, providerJobId, 'spritesheet'),
      ]);
      const result: JobResult = {
        bucket: stored.bucket,
        key: stored.key,
        bytes: stored.bytes,
        sha256: stored.sha256,
        contentType: stored.contentType,
        ...(thumbnailKey ? { thumbnailKey } : {}),
        ...(spritesheetKey ? { spritesheetKey } : {}),
      };
      const actualCostUsd = deps.limits.priceOf(job);
      const completedAt = deps.clock();
      await deps.store.recordCompleted(jobId, result, completedAt.toISOString(), actualCostUsd);
      logger.info('Video stored', {
        key: stored.key,
        bytes: stored.bytes,
        sha256: stored.sha256,
        estimatedCostUsd: job.estimatedCostUsd,
        actualCostUsd,
      });
      recordCompletion(job, stored.bytes, completedAt);
      await settle(job, actualCostUsd);
      await discardProviderCopy(provider, providerJobId);
      await announce(deps.notify ?? noWebhooks, deps.store, job, 'video.completed', completedAt);
      return summary(result);
    });
  };
}

function recordCompletion(job: Job, bytes: number, completedAt: Date): void {
  const secondsSince = (iso: string) =>
    Math.max(0, (completedAt.getTime() - Date.parse(iso)) / 1000);
  recordMetric('JobsCompleted', 1, { source: job.source });
  recordMetric('VideoBytesStored', bytes);
  recordMetric('JobDuration', secondsSince(job.createdAt));
  if (job.createAttemptedAt)
    recordMetric('GenerationDuration', secondsSince(job.createAttemptedAt));
}

function assertDownloadable(video: ProviderVideo, now: Date): void {
  if (video.status !== 'completed') {
    // Poll saw it completed; a provider that now says otherwise is inconsistent for a moment.
    const message = `download: provider reports ${video.id} as ${video.status}, not completed`;
    throw new ProviderTransientError(message, {
      code: 'video_not_ready',
      providerMessage: message,
      operation: 'download',
    });
  }
  if (video.expiresAt !== undefined && now.getTime() >= video.expiresAt * 1000) {
    const expiredAt = new Date(video.expiresAt * 1000).toISOString();
    const message = `download: content of ${video.id} expired at ${expiredAt}`;
    throw new ProviderContentExpiredError(message, {
      code: 'video_expired',
      providerMessage: message,
      operation: 'download',
    });
  }
}

/**
 * The video is stored at its key: a provider that wrote it into our bucket (Bedrock) has its copy
 * deleted, so storing was a move. Best effort: a copy left behind expires by the bucket's rules.
 */
async function discardProviderCopy(provider: TaskProvider, providerJobId: string): Promise<void> {
  try {
    await provider.discardContent?.(providerJobId);
  } catch (error) {
    logger.warn('Provider copy of the video not deleted', {
      providerJobId,
      error: loggableError(error),
    });
  }
}

/** Stores a preview image; a failure is logged and leaves the key out, never fails the job. */
async function storeImage(
  deps: DownloadVideoDeps,
  provider: TaskProvider,
  jobId: string,
  videoId: string,
  variant: ImageVariant,
): Promise<string | undefined> {
  try {
    const content = await provider.downloadContent(videoId, variant);
    return (await deps.storage.putImage(jobId, variant, content)).key;
  } catch (error) {
    // A provider that renders no such image (Bedrock) is not a fault worth a warning.
    const absent = error instanceof ProviderError && error.code === 'variant_not_available';
    logger[absent ? 'info' : 'warn']('Preview image not stored', {
      variant,
      error: loggableError(error),
    });
    return undefined;
  }
}

function summary(result: JobResult): DownloadResult {
  return { bucket: result.bucket, key: result.key, bytes: result.bytes, sha256: result.sha256 };
}

export const handler = withObservability(
  'download-video',
  lazyHandler(() => {
    const config = readConfig([
      'jobsTableName',
      'jobEventsBusName',
      'videosBucketName',
      'providerSecretId',
      'provider',
      'bedrock',
      'limits',
      'webhookDelivery',
    ]);
    const store = productionJobStore(config.jobsTableName, config.jobEventsBusName);
    // Its own announcements, and a start-timeout cancel a hand-off of its makes.
    const notify = productionNotifier(config.webhookDelivery);
    return createDownloadVideoHandler({
      store,
      provider: taskProviderSource(config),
      storage: new VideoStorage({ s3: s3(), bucket: config.videosBucketName }),
      clock: systemClock,
      limits: productionTaskLimits(store, config.jobsTableName, config.limits, {
        jobEventsBusName: config.jobEventsBusName,
        provider: config.provider,
        notify,
      }),
      notify,
    });
  }),
);
