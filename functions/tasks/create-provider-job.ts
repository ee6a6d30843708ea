/**
 * State-machine task: start the provider job for one of our jobs, at most once.
 *
 * Input `{ jobId }`; output `PollState` with `pollCount: 0`, stored at `$.poll`.
 * - The job already has a provider job id: nothing is sent (a retried or re-driven step).
 * - An earlier attempt was stamped but left no id (a crash, or ProviderAmbiguousCreateError):
 *   the provider's recent jobs are searched first and a match is adopted.
 * - Otherwise the attempt is stamped, then the job created with an Idempotency-Key derived from
 *   our job id, and the provider's id recorded.
 * Provider errors propagate under their names: the machine retries ProviderRateLimitedError,
 * ProviderTransientError and ProviderAmbiguousCreateError (this handler reconciles before creating
 * again) and catches the rest. A FAILED job throws JobAlreadyTerminalError; a COMPLETED one
 * answers `completed` so the execution runs on to Succeed without another paid call.
 */
import { z } from 'zod';
import type { Job } from '../shared/jobs/job.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { logger } from '../shared/observability/observability.ts';
import { createProviderSource } from '../shared/provider-factory/provider-from-env.ts';
import {
  type Clock,
  jobsEnvSchema,
  lazyHandler,
  loadJob,
  type PollState,
  parseTaskEnv,
  parseTaskInput,
  productionJobStore,
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
}

const inputSchema = z.object({ jobId: z.string().min(1) });

/** The Idempotency-Key sent with the create: stable per job, distinct from users' own keys. */
export function providerIdempotencyKey(jobId: string): string {
  return `sora-pipeline-${jobId}`;
}

export function createCreateProviderJobHandler(
  deps: CreateProviderJobDeps,
): TaskHandler<PollState> {
  return async (event, context) => {
    const { jobId } = parseTaskInput(inputSchema, event);
    return withJobLogging(jobId, context, async () => {
      const job = await loadJob(deps.store, jobId);
      if (job.status === 'COMPLETED') {
        return { status: 'completed', progress: 100, waitSeconds: 0, pollCount: 0, error: null };
      }
      if (job.providerJobId) {
        logger.info('Provider job already recorded; nothing sent', {
          providerJobId: job.providerJobId,
        });
        return stateOf(job, job.providerStatus ?? 'queued', job.progress, deps.clock());
      }
      const provider = await deps.provider();
      const adopted = job.createAttemptedAt ? await reconcile(deps, provider, job) : undefined;
      if (adopted) return adopted;

      const attempted = await deps.store.markCreateAttempt(jobId, deps.clock().toISOString());
      const video = await provider.create({
        prompt: job.prompt,
        model: job.model,
        size: job.size,
        seconds: job.seconds,
        idempotencyKey: providerIdempotencyKey(jobId),
      });
      await deps.store.recordProviderJob(jobId, {
        providerJobId: video.id,
        providerStatus: video.status,
        progress: video.progress,
      });
      logger.info('Provider job created', { providerJobId: video.id, status: video.status });
      return stateOf(attempted, video.status, video.progress, deps.clock(), video.error);
    });
  };
}

/** Adopts the job an earlier, unanswered create started, if the provider lists one. */
async function reconcile(
  deps: CreateProviderJobDeps,
  provider: TaskProvider,
  job: Job,
): Promise<PollState | undefined> {
  const found = await provider.findCreatedJob({
    prompt: job.prompt,
    model: job.model,
    size: job.size,
    seconds: job.seconds,
    createdAfter: new Date(job.createAttemptedAt ?? job.createdAt),
  });
  if (!found) {
    logger.info('No provider job from the earlier create attempt; creating', {
      createAttemptedAt: job.createAttemptedAt,
    });
    return undefined;
  }
  await deps.store.recordProviderJob(job.jobId, {
    providerJobId: found.id,
    providerStatus: found.status,
    progress: found.progress,
  });
  logger.info('Adopted the provider job an earlier create attempt started', {
    providerJobId: found.id,
  });
  return stateOf(job, found.status, found.progress, deps.clock(), found.error);
}

function stateOf(
  job: Job,
  status: PollState['status'],
  progress: number,
  now: Date,
  error?: { code: string; message: string } | undefined,
): PollState {
  return {
    status,
    progress,
    waitSeconds: waitSecondsFor(job, { progress, pollCount: 0 }, now),
    pollCount: 0,
    error: status === 'failed' ? (error ?? null) : null,
  };
}

export const handler = lazyHandler(() => {
  const env = parseTaskEnv(jobsEnvSchema);
  return createCreateProviderJobHandler({
    store: productionJobStore(env.JOBS_TABLE_NAME),
    provider: createProviderSource(),
    clock: systemClock,
  });
});
