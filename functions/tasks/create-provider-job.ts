/**
 * State-machine task: start the provider job for one of our jobs, at most once, within the
 * shared limits.
 *
 * Input `{ jobId, stateMachineArn, rateWaits? }` (`stateMachineArn` is `$$.StateMachine.Id`, for
 * hand-offs; `rateWaits` the previous answer's count); output `CreateState` with `pollCount: 0`,
 * stored at `$.poll`.
 * - The job already has a provider job id: nothing is sent (a retried step, or a new execution
 *   resuming the job); it keeps the slot and reservation it holds.
 * - Admission came first (the AdmitJob step, functions/shared/admission): the job holds a slot
 *   and its budget reservation. This step only reconciles or creates.
 * - Every provider call takes a request from the per-minute allowance first. None left:
 *   `waiting_for_rate_limit` with the seconds to the next minute and `rateWaits + 1`; the machine
 *   waits (WaitForRequests) and asks again, at most MAX_RATE_WAITS times, after which admission
 *   takes its slot and reservation back and returns it to the schedule (`deferred`).
 * - An earlier attempt was stamped but left no id (a crash, or ProviderAmbiguousCreateError):
 *   the provider's recent jobs are searched first and a match is adopted, never one that another
 *   job holds in the provider-job ledger.
 * - Otherwise the attempt is stamped, then the job created (a remix: the source's provider video
 *   remixed) with an Idempotency-Key derived from our job id, and the provider's id recorded and
 *   claimed in the ledger.
 * Provider errors propagate under their names: the machine retries ProviderRateLimitedError,
 * ProviderTransientError and ProviderAmbiguousCreateError (this handler reconciles before creating
 * again) and catches the rest. A FAILED job throws JobAlreadyTerminalError; a COMPLETED one
 * answers `completed` (the execution goes on to the download step, which answers from the record
 * without another download), never another paid call.
 */
import * as z from 'zod/mini';
import '../shared/schema-messages.ts';
import { loadedOnFirstUse } from '../shared/aws/aws-client.ts';
import { readConfig } from '../shared/config/function-config.ts';
import type { Job, ProviderStatus } from '../shared/jobs/job.ts';
import { JobAlreadyTerminalError, ProviderJobClaimedError } from '../shared/jobs/job-errors.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { loggableError } from '../shared/observability/loggable-error.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { DEFAULT_DEPLOYMENT } from '../shared/provider/deployments.ts';
import {
  ProviderError,
  ProviderRateLimitedError,
  ProviderRejectedError,
  ProviderTransientError,
} from '../shared/provider/provider-errors.ts';
import type { ProviderVideo } from '../shared/provider/provider-video.ts';
import type { InputReference } from '../shared/provider/video-provider.ts';
import { taskProviderSource } from '../shared/provider-factory/bedrock-provider-source.ts';
import type { ReadUpload } from '../shared/storage/uploads.ts';
import { announce, type NotifyWebhook, noWebhooks } from '../shared/webhooks/notify-webhook.ts';
import { MAX_RATE_WAITS } from '../shared/workflow/workflow-bounds.ts';
import { ReferenceImageMissingError } from './task-errors.ts';
import { productionTaskLimits, rateWaitSeconds, type TaskLimits } from './task-limits.ts';
import {
  type Clock,
  loadJob,
  type PollState,
  parseTaskInput,
  productionJobStore,
  productionNotifier,
  systemClock,
  type TaskHandler,
  type TaskProvider,
  type TaskProviderSource,
  waitSecondsFor,
  withJobLogging,
} from './task-runtime.ts';

export interface CreateProviderJobDeps {
  store: JobStore;
  provider: TaskProviderSource;
  clock: Clock;
  limits: TaskLimits;
  /** Announces video.started to the job's webhook (default: nothing sent). */
  notify?: NotifyWebhook;
  /** Reads a job's reference image (image-to-video); absent, such a job cannot be created. */
  readUpload?: ReadUpload;
}

/**
 * What the create step answers: a provider status (the job was created or adopted), or what a
 * limit decided. The state machine's IsProviderJobStarted choice branches on these names.
 */
export type CreateStatus = ProviderStatus | 'waiting_for_rate_limit' | 'deferred';

export interface CreateState extends Omit<PollState, 'status'> {
  status: CreateStatus;
  /** Waits for the request allowance in this execution so far (bounds WaitForRequests). */
  rateWaits: number;
}

const inputSchema = z.object({
  jobId: z.string().check(z.minLength(1)),
  /** `$$.StateMachine.Id`: where a freed slot's hand-off starts the next job. */
  stateMachineArn: z.optional(z.string().check(z.minLength(1))),
  rateWaits: z.optional(z.int().check(z.nonnegative())),
});

interface CreateInput {
  jobId: string;
  stateMachineArn?: string | undefined;
  rateWaits?: number | undefined;
}

/**
 * A create the provider definitely refused, having made nothing: an answered 5xx other than a
 * gateway's (502/504 are ambiguous), a 408, a refused connection, a 429, or 401/403 (this
 * deployment's key). Such a job is safe to create on another deployment. Not a 409 (our own
 * create still in flight there).
 */
export function isDefiniteRefusal(error: unknown): error is Error {
  if (error instanceof ProviderRateLimitedError) return true;
  if (error instanceof ProviderTransientError) {
    // A 409 says a create with our Idempotency-Key is still in flight there (it may yet make the
    // job), and video_not_ready a remix source not ready there: both stay on this deployment.
    return error.status !== 409 && error.code !== 'video_not_ready';
  }
  return error instanceof ProviderRejectedError && (error.status === 401 || error.status === 403);
}

/** The Idempotency-Key sent with the create: stable per job, distinct from users' own keys. */
export function providerIdempotencyKey(jobId: string): string {
  return `sora-pipeline-${jobId}`;
}

export function createCreateProviderJobHandler(
  deps: CreateProviderJobDeps,
): TaskHandler<CreateState> {
  const { limits } = deps;
  return async (event, context) => {
    const input: CreateInput = parseTaskInput(inputSchema, event);
    const { jobId } = input;
    return withJobLogging(jobId, context, async () => {
      const job = await loadJob(deps.store, jobId);
      if (job.status === 'COMPLETED') {
        return { ...waiting('completed', 0), progress: 100 };
      }
      if (job.providerJobId) {
        logger.info('Provider job already recorded; nothing sent', {
          providerJobId: job.providerJobId,
        });
        return stateOf(job, job.providerStatus ?? 'queued', job.progress, deps.clock());
      }

      try {
        // The deployment-wide allowance, then the job's deployment's own if it has one.
        const deploymentRate = limits.deploymentRate?.(job);
        const takeRequest = async () =>
          (await limits.rateLimiter.tryTake(deps.clock())) &&
          (deploymentRate === undefined || (await deploymentRate.tryTake(deps.clock())));
        const provider = await deps.provider(job.deployment);
        if (job.createAttemptedAt) {
          if (!(await takeRequest())) return await waitForRequests(deps, job, input);
          const adopted = await reconcile(deps, provider, job);
          if (adopted) return adopted;
        }
        if (!(await takeRequest())) return await waitForRequests(deps, job, input);

        const attempted = await deps.store.markCreateAttempt(jobId, deps.clock().toISOString());
        const deployment = job.deployment ?? DEFAULT_DEPLOYMENT;
        let video: ProviderVideo;
        try {
          // A remix starts from the provider's copy of the source video, with the same parameters.
          video =
            job.remixOfProviderJobId === undefined
              ? await provider.create({
                  prompt: job.prompt,
                  model: job.model,
                  size: job.size,
                  seconds: job.seconds,
                  inputReference: await referenceImage(deps, job),
                  idempotencyKey: providerIdempotencyKey(jobId),
                  jobId,
                })
              : await provider.remix(job.remixOfProviderJobId, {
                  prompt: job.prompt,
                  idempotencyKey: providerIdempotencyKey(jobId),
                });
        } catch (error) {
          // Refused before anything was made there: counted against the deployment's health,
          // and the job goes back to its queue for a deployment that can take it (never paid,
          // never failed for it). An ambiguous create is not a refusal: it is reconciled on this
          // very deployment by the retry, never created elsewhere.
          if (!isDefiniteRefusal(error)) throw error;
          const status = error instanceof ProviderError ? error.status : undefined;
          await limits.health?.recordFailure(
            deployment,
            deps.clock(),
            status === undefined ? error.name : `${error.name} ${status}`,
          );
          logger.warn('Create refused by the deployment; failing over', {
            deployment,
            error: loggableError(error),
          });
          await limits.admission(input.stateMachineArn).failover(attempted);
          return waiting('deferred', 0);
        }
        await limits.health?.recordSuccess(deployment, deps.clock());
        try {
          await deps.store.recordProviderJob(jobId, {
            providerJobId: video.id,
            providerStatus: video.status,
            progress: video.progress,
          });
        } catch (error) {
          if (error instanceof JobAlreadyTerminalError) {
            await recordOrphan(deps, provider, job, video.id, input.stateMachineArn);
          } else if (error instanceof ProviderJobClaimedError) {
            // A job whose own create answer was lost adopted this identical job first: ours is
            // that job's twin, unclaimed at the provider. Take it, so both jobs hold one each.
            const twin = await reconcile(deps, provider, attempted);
            if (twin) return twin;
          }
          throw error;
        }
        logger.info('Provider job created', { providerJobId: video.id, status: video.status });
        recordMetric('ProviderJobsCreated');
        await announce(deps.notify ?? noWebhooks, deps.store, job, 'video.started', deps.clock());
        return stateOf(attempted, video.status, video.progress, deps.clock(), video.error);
      } catch (error) {
        // Closed (cancelled, or failed by the sweep) after it was read, before its provider job
        // was recorded: nothing rendered. Give back what admission took (both idempotent).
        if (error instanceof JobAlreadyTerminalError) {
          await limits.admission(input.stateMachineArn).releaseUnrendered(job);
        }
        throw error;
      }
    });
  };
}

/**
 * The minute's request allowance is spent: wait for the next minute, a bounded number of times;
 * then give the slot and reservation back and go back to the schedule.
 */
async function waitForRequests(
  deps: CreateProviderJobDeps,
  job: Job,
  input: CreateInput,
): Promise<CreateState> {
  const now = deps.clock();
  const rateWaits = (input.rateWaits ?? 0) + 1;
  recordMetric('RateLimitWaits');
  if (rateWaits > MAX_RATE_WAITS) {
    await deps.limits.admission(input.stateMachineArn).returnToSchedule(job);
    logger.info('Request allowance spent for too long; back to the schedule', { rateWaits });
    recordMetric('JobsDeferred', 1, { reason: 'rate_limit' });
    return waiting('deferred', 0);
  }
  const waitSeconds = rateWaitSeconds(now, deps.limits.random);
  logger.info('Provider request allowance spent this minute; waiting', { waitSeconds, rateWaits });
  return { ...waiting('waiting_for_rate_limit', waitSeconds), rateWaits };
}

function waiting(status: CreateStatus, waitSeconds: number): CreateState {
  return { status, progress: 0, waitSeconds, pollCount: 0, error: null, rateWaits: 0 };
}

/**
 * The provider created a job that ours cannot hold (it was closed while the create was in
 * flight): the provider job is an orphan. It is marked in the ledger with its cost, counted on
 * today's budget, and deleted at the provider where the protocol allows (best effort).
 */
async function recordOrphan(
  deps: CreateProviderJobDeps,
  provider: TaskProvider,
  job: Job,
  providerJobId: string,
  stateMachineArn: string | undefined,
): Promise<void> {
  const costUsd = deps.limits.priceOf(job);
  const recorded = await deps.limits
    .admission(stateMachineArn)
    .recordOrphan({ providerJobId, job, costUsd });
  logger.warn('Provider job created for a job that can no longer hold it: an orphan', {
    providerJobId,
    costUsd,
    recorded,
  });
  // Only a provider job this call recorded as an orphan is ours to delete: one the ledger
  // already knows may be held by another job.
  if (!recorded) return;
  recordMetric('OrphanedProviderJobs');
  try {
    await provider.delete(providerJobId);
  } catch (error) {
    logger.warn('Orphaned provider job not deleted', {
      providerJobId,
      error: loggableError(error),
    });
  }
}

/** The job's reference image as the provider takes it (bytes), if it has one. */
async function referenceImage(
  deps: CreateProviderJobDeps,
  job: Job,
): Promise<InputReference | undefined> {
  const reference = job.inputReference;
  if (reference === undefined) return undefined;
  const data = await deps.readUpload?.(reference.key);
  // Checked at submission: gone since then (deleted by hand), the job cannot be made as asked.
  if (data === undefined || data.byteLength !== reference.bytes) {
    throw new ReferenceImageMissingError(
      `The reference image ${reference.key} is gone or changed since the job was submitted`,
    );
  }
  return {
    data,
    filename: reference.key.slice(reference.key.lastIndexOf('/') + 1),
    contentType: reference.contentType,
  };
}

/** Candidates a reconciliation looks at before it gives up and creates. */
const MAX_RECONCILE_CANDIDATES = 5;

/**
 * Adopts the job an earlier, unanswered create started, if the provider lists one: the match
 * nearest after our attempt that no other job holds (the ledger refuses a held one, and the next
 * candidate is tried).
 */
async function reconcile(
  deps: CreateProviderJobDeps,
  provider: TaskProvider,
  job: Job,
): Promise<CreateState | undefined> {
  const excludeIds: string[] = [];
  for (let candidate = 0; candidate < MAX_RECONCILE_CANDIDATES; candidate += 1) {
    const found = await provider.findCreatedJob({
      prompt: job.prompt,
      model: job.model,
      size: job.size,
      seconds: job.seconds,
      createdAfter: new Date(job.createAttemptedAt ?? job.createdAt),
      excludeIds,
      jobId: job.jobId,
    });
    if (!found) break;
    try {
      await deps.store.recordProviderJob(job.jobId, {
        providerJobId: found.id,
        providerStatus: found.status,
        progress: found.progress,
      });
    } catch (error) {
      if (!(error instanceof ProviderJobClaimedError)) throw error;
      logger.info('Matching provider job is held by another job; not adopted', {
        providerJobId: found.id,
        heldBy: error.claimedBy,
      });
      excludeIds.push(found.id);
      continue;
    }
    logger.info('Adopted the provider job an earlier create attempt started', {
      providerJobId: found.id,
    });
    await announce(deps.notify ?? noWebhooks, deps.store, job, 'video.started', deps.clock());
    return stateOf(job, found.status, found.progress, deps.clock(), found.error);
  }
  logger.info('No provider job from the earlier create attempt; creating', {
    createAttemptedAt: job.createAttemptedAt,
  });
  return undefined;
}

function stateOf(
  job: Job,
  status: PollState['status'],
  progress: number,
  now: Date,
  error?: { code: string; message: string } | undefined,
): CreateState {
  return {
    rateWaits: 0,
    status,
    progress,
    waitSeconds: waitSecondsFor(job, { progress, pollCount: 0 }, now),
    pollCount: 0,
    error: status === 'failed' ? (error ?? null) : null,
  };
}

/**
 * Reads reference images (uploads/) with the S3 client, both imported on the first job that has
 * one: most jobs have none, so a cold start does not load the S3 SDK for them.
 */
function uploadReaderOnFirstUse(bucket: string): ReadUpload {
  const reader = loadedOnFirstUse(async () => {
    const [{ createUploadReader }, { s3 }] = await Promise.all([
      import('../shared/storage/uploads.ts'),
      import('../shared/aws/s3-client.ts'),
    ]);
    return createUploadReader(s3(), bucket);
  });
  return async (key) => (await reader())(key);
}

export const handler = withObservability(
  'create-provider-job',
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
    return createCreateProviderJobHandler({
      store,
      provider: taskProviderSource(config),
      clock: systemClock,
      limits: productionTaskLimits(store, config.jobsTableName, config.limits, {
        jobEventsBusName: config.jobEventsBusName,
        provider: config.provider,
        notify,
      }),
      notify,
      readUpload: uploadReaderOnFirstUse(config.videosBucketName),
    });
  }),
);
