/**
 * State-machine task: read the provider job's status, record it, and choose the next wait.
 *
 * Input `{ jobId, pollCount? }` (pollCount from the previous `$.poll`, else the stored count);
 * output `PollState` with `pollCount + 1`. A provider `failed` carries its `{ code, message }` in
 * `error` so the ProviderJobFailed Pass state can build the failure. Provider errors propagate
 * under their names (see create-provider-job.ts). A COMPLETED job answers `completed` without a
 * provider call; a FAILED one throws JobAlreadyTerminalError.
 */
import { z } from 'zod';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { logger } from '../shared/observability/observability.ts';
import { createProviderSource } from '../shared/provider-factory/provider-from-env.ts';
import { ProviderJobMissingError } from './task-errors.ts';
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
  type TaskProviderSource,
  waitSecondsFor,
  withJobLogging,
} from './task-runtime.ts';

export interface PollProviderJobDeps {
  store: JobStore;
  provider: TaskProviderSource;
  clock: Clock;
}

const inputSchema = z.object({
  jobId: z.string().min(1),
  pollCount: z.number().int().nonnegative().optional(),
});

const UNKNOWN_FAILURE = {
  code: 'video_generation_failed',
  message: 'The provider reported the generation as failed without a reason',
};

export function createPollProviderJobHandler(deps: PollProviderJobDeps): TaskHandler<PollState> {
  return async (event, context) => {
    const input = parseTaskInput(inputSchema, event);
    return withJobLogging(input.jobId, context, async () => {
      const job = await loadJob(deps.store, input.jobId);
      const pollCount = (input.pollCount ?? job.pollCount) + 1;
      if (job.status === 'COMPLETED') {
        return { status: 'completed', progress: 100, waitSeconds: 0, pollCount, error: null };
      }
      if (!job.providerJobId) {
        throw new ProviderJobMissingError(`Job ${job.jobId} has no provider job to poll`);
      }
      const provider = await deps.provider();
      const video = await provider.retrieve(job.providerJobId);
      await deps.store.recordProgress(job.jobId, {
        providerStatus: video.status,
        progress: video.progress,
        pollCount,
      });
      const waitSeconds = waitSecondsFor(
        job,
        { progress: video.progress, pollCount },
        deps.clock(),
      );
      logger.info('Provider job polled', {
        providerJobId: video.id,
        status: video.status,
        progress: video.progress,
        pollCount,
        waitSeconds,
      });
      const error = video.status === 'failed' ? (video.error ?? UNKNOWN_FAILURE) : null;
      return { status: video.status, progress: video.progress, waitSeconds, pollCount, error };
    });
  };
}

export const handler = lazyHandler(() => {
  const env = parseTaskEnv(jobsEnvSchema);
  return createPollProviderJobHandler({
    store: productionJobStore(env.JOBS_TABLE_NAME),
    provider: createProviderSource(),
    clock: systemClock,
  });
});
