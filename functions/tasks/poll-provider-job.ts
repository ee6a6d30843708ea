/**
 * State-machine task: read the provider job's status, record it, and choose the next wait.
 *
 * Input `{ jobId, pollCount?, stateMachineArn? }` (pollCount from the previous `$.poll`, else
 * the stored count; `stateMachineArn` is `$$.StateMachine.Id`); output `PollState` with
 * `pollCount + 1`. The provider call takes a request from the shared per-minute allowance first;
 * when it is spent, nothing is sent and the last recorded state is answered with the seconds to
 * the next minute (a skipped poll still counts: the poll loop stays bounded by its count).
 * A provider `failed` carries its `{ code, message }` in `error` so the ProviderJobFailed Pass
 * state can build the failure. Provider errors propagate under their names (see
 * create-provider-job.ts). A COMPLETED job answers `completed` without a provider call; a FAILED
 * one throws JobAlreadyTerminalError.
 *
 * Money follows the provider: the first poll that sees the provider job terminal settles it.
 * `completed`: the video was rendered, so its cost is spent now, whatever later happens to our
 * download. `failed`: nothing was rendered, so the reservation is released. Either way the
 * provider job no longer runs: its concurrency slot is released and handed on by the fair share to the next
 * waiting job.
 */
import * as z from 'zod/mini';
import '../shared/schema-messages.ts';
import { readConfig } from '../shared/config/function-config.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { lazyHandler } from '../shared/lazy-handler.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { taskProviderSource } from '../shared/provider-factory/bedrock-provider-source.ts';
import { ProviderJobMissingError } from './task-errors.ts';
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
  type TaskProviderSource,
  waitSecondsFor,
  withJobLogging,
} from './task-runtime.ts';

export interface PollProviderJobDeps {
  store: JobStore;
  provider: TaskProviderSource;
  clock: Clock;
  limits: Pick<TaskLimits, 'rateLimiter' | 'random' | 'priceOf' | 'admission' | 'deploymentRate'>;
}

const inputSchema = z.object({
  jobId: z.string().check(z.minLength(1)),
  pollCount: z.optional(z.int().check(z.nonnegative())),
  stateMachineArn: z.optional(z.string().check(z.minLength(1))),
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
      const now = deps.clock();
      const deploymentRate = deps.limits.deploymentRate?.(job);
      const allowed =
        (await deps.limits.rateLimiter.tryTake(now)) &&
        (deploymentRate === undefined || (await deploymentRate.tryTake(now)));
      if (!allowed) {
        const waitSeconds = rateWaitSeconds(now, deps.limits.random);
        logger.info('Provider request allowance spent this minute; poll skipped', { waitSeconds });
        recordMetric('RateLimitWaits');
        return {
          // The loop goes on waiting: a recorded terminal status is confirmed by the next poll.
          status: job.providerStatus === 'in_progress' ? 'in_progress' : 'queued',
          progress: job.progress,
          waitSeconds,
          pollCount,
          error: null,
        };
      }
      const provider = await deps.provider(job.deployment);
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
      // The provider job ended: admission frees its slot (and hands it on) and settles its money.
      if (video.status === 'completed') {
        await deps.limits
          .admission(input.stateMachineArn)
          .settleRendered(job, deps.limits.priceOf(job));
      } else if (video.status === 'failed') {
        await deps.limits.admission(input.stateMachineArn).releaseUnrendered(job);
      }
      const error = video.status === 'failed' ? (video.error ?? UNKNOWN_FAILURE) : null;
      return { status: video.status, progress: video.progress, waitSeconds, pollCount, error };
    });
  };
}

export const handler = withObservability(
  'poll-provider-job',
  lazyHandler(() => {
    const config = readConfig([
      'jobsTableName',
      'jobEventsBusName',
      'providerSecretId',
      'provider',
      'bedrock',
      'limits',
      'webhookDelivery',
    ]);
    const store = productionJobStore(config.jobsTableName, config.jobEventsBusName);
    return createPollProviderJobHandler({
      store,
      provider: taskProviderSource(config),
      clock: systemClock,
      limits: productionTaskLimits(store, config.jobsTableName, config.limits, {
        jobEventsBusName: config.jobEventsBusName,
        provider: config.provider,
        // A hand-off of its may cancel a waiting job whose start timeout passed.
        notify: productionNotifier(config.webhookDelivery),
      }),
    });
  }),
);
