/**
 * State-machine task: start the provider job for one of our jobs, at most once, within the
 * shared limits.
 *
 * Input `{ jobId, executionStartedAt? }`; output `CreateState` with `pollCount: 0`, stored at
 * `$.poll`.
 * - The job already has a provider job id: nothing is sent (a retried or re-driven step); it
 *   keeps the slot and reservation it took before.
 * - A concurrency slot is taken first. None free: `waiting_for_slot` with `waitSeconds`; the
 *   machine waits (WaitForSlot) and asks again. A job that waited longer than
 *   MAX_SLOT_WAIT_MINUTES since its execution started is deferred instead (`deferred`, back to
 *   the schedule), so waiting never runs into the machine timeout.
 * - The job's cost is reserved on today's budget next. Over budget: the slot is given back,
 *   then with OVER_BUDGET_ACTION `queue` the job is deferred (`deferred`; QUEUED with
 *   deferredReason `budget`, for a scheduled run on a later day) and with `reject`
 *   BudgetExceededError is thrown (not retried; RecordFailure records `budget_exceeded`).
 * - Every provider call takes a request from the per-minute allowance first. None left:
 *   `waiting_for_rate_limit` with the seconds to the next minute; the machine waits and asks
 *   again (slot and reservation are kept: taking them again is a no-op).
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
import { dynamoDb } from '../shared/aws/clients.ts';
import type { Job, ProviderStatus } from '../shared/jobs/job.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { BudgetExceededError } from '../shared/limits/limit-errors.ts';
import { utcDay } from '../shared/limits/limits-table.ts';
import { logger } from '../shared/observability/observability.ts';
import { recordMetric } from '../shared/observability/pipeline-metrics.ts';
import { withObservability } from '../shared/observability/with-observability.ts';
import { createProviderSource } from '../shared/provider-factory/provider-from-env.ts';
import {
  productionTaskLimits,
  rateWaitSeconds,
  slotWaitSeconds,
  type TaskLimits,
} from './task-limits.ts';
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
  limits: TaskLimits;
}

/**
 * What the create step answers: a provider status (the job was created or adopted), or what a
 * limit decided. The state machine's IsProviderJobStarted choice branches on these names.
 */
export type CreateStatus =
  | ProviderStatus
  | 'waiting_for_slot'
  | 'waiting_for_rate_limit'
  | 'deferred';

export interface CreateState extends Omit<PollState, 'status'> {
  status: CreateStatus;
}

const inputSchema = z.object({
  jobId: z.string().min(1),
  /** `$$.Execution.StartTime`: slot waits are measured from it. */
  executionStartedAt: z.iso.datetime({ offset: true }).optional(),
});

/** The Idempotency-Key sent with the create: stable per job, distinct from users' own keys. */
export function providerIdempotencyKey(jobId: string): string {
  return `sora-pipeline-${jobId}`;
}

export function createCreateProviderJobHandler(
  deps: CreateProviderJobDeps,
): TaskHandler<CreateState> {
  const { limits } = deps;
  return async (event, context) => {
    const input = parseTaskInput(inputSchema, event);
    const { jobId } = input;
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

      const heldBack = await admit(deps, job, input.executionStartedAt);
      if (heldBack) return heldBack;

      const takeRequest = () => limits.rateLimiter.tryTake(deps.clock());
      const waitForRequests = (): CreateState => {
        const waitSeconds = rateWaitSeconds(deps.clock(), limits.random);
        logger.info('Provider request allowance spent this minute; waiting', { waitSeconds });
        recordMetric('RateLimitWaits');
        return waiting('waiting_for_rate_limit', waitSeconds);
      };
      const provider = await deps.provider();
      if (job.createAttemptedAt) {
        if (!(await takeRequest())) return waitForRequests();
        const adopted = await reconcile(deps, provider, job);
        if (adopted) return adopted;
      }
      if (!(await takeRequest())) return waitForRequests();

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
      recordMetric('ProviderJobsCreated');
      return stateOf(attempted, video.status, video.progress, deps.clock(), video.error);
    });
  };
}

/**
 * Takes a concurrency slot, then reserves the job's cost on today's budget (both idempotent, so
 * a job that holds them already keeps them). Answers what to do instead when a limit holds the
 * job back; undefined when it may go on.
 */
async function admit(
  deps: CreateProviderJobDeps,
  job: Job,
  executionStartedAt: string | undefined,
): Promise<CreateState | undefined> {
  const { limits } = deps;
  const now = deps.clock();
  if (!(await limits.semaphore.acquire(job.jobId))) {
    return waitForSlot(deps, job, now, executionStartedAt);
  }
  const costUsd = limits.priceOf(job);
  if ((await limits.budget.reserve(job.jobId, costUsd, utcDay(now))) === 'exceeded') {
    await limits.semaphore.release(job.jobId);
    return overBudget(deps, job, costUsd, now);
  }
  return undefined;
}

/** No free slot: wait and ask again, or, after waiting too long, go back to the schedule. */
async function waitForSlot(
  deps: CreateProviderJobDeps,
  job: Job,
  now: Date,
  executionStartedAt: string | undefined,
): Promise<CreateState> {
  const waitedSeconds =
    executionStartedAt === undefined ? 0 : (now.getTime() - Date.parse(executionStartedAt)) / 1000;
  if (waitedSeconds >= deps.limits.maxSlotWaitSeconds) {
    // Nothing is normally reserved yet; a reservation left by an earlier run goes back too.
    await deps.limits.budget.release(job.jobId, utcDay(now));
    await deps.store.deferJob(job.jobId, 'scheduled', now.toISOString());
    logger.info('No slot within the maximum wait; deferred to the schedule', {
      waitedSeconds: Math.round(waitedSeconds),
    });
    recordMetric('JobsDeferred', 1, { reason: 'slot_wait' });
    return waiting('deferred', 0);
  }
  const waitSeconds = slotWaitSeconds(deps.limits.random);
  logger.info('No free concurrency slot; waiting', {
    limit: deps.limits.semaphore.limit,
    waitSeconds,
  });
  recordMetric('SlotWaits');
  return waiting('waiting_for_slot', waitSeconds);
}

/** Today's budget cannot cover the job: defer it to a later day, or refuse it. */
async function overBudget(
  deps: CreateProviderJobDeps,
  job: Job,
  costUsd: number,
  now: Date,
): Promise<CreateState> {
  const day = utcDay(now);
  const usage = await deps.limits.budget.usage(day);
  const committed = usage.reservedUsd + usage.spentUsd;
  const reason = `the daily budget of $${formatUsd(usage.limitUsd ?? 0)} for ${day} (UTC) cannot cover this job's $${formatUsd(costUsd)}: $${formatUsd(committed)} is already reserved or spent`;
  // A job dearer than a whole day's budget would wait for a day that never comes.
  const neverFits = usage.limitUsd !== null && costUsd > usage.limitUsd;
  if (deps.limits.overBudgetAction === 'reject' || neverFits) {
    throw new BudgetExceededError(
      neverFits
        ? `Not started: this job's $${formatUsd(costUsd)} is more than the whole daily budget of $${formatUsd(usage.limitUsd ?? 0)}`
        : `Not started: ${reason}`,
    );
  }
  await deps.store.deferJob(job.jobId, 'budget', now.toISOString());
  logger.info('Over the daily budget; deferred to a later scheduled run', {
    costUsd,
    committedUsd: committed,
    limitUsd: usage.limitUsd,
  });
  recordMetric('JobsDeferred', 1, { reason: 'budget' });
  return waiting('deferred', 0);
}

function waiting(status: CreateStatus, waitSeconds: number): CreateState {
  return { status, progress: 0, waitSeconds, pollCount: 0, error: null };
}

const formatUsd = (usd: number) => usd.toFixed(2);

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

export const handler = withObservability(
  'create-provider-job',
  lazyHandler(() => {
    const env = parseTaskEnv(jobsEnvSchema);
    return createCreateProviderJobHandler({
      store: productionJobStore(env.JOBS_TABLE_NAME),
      provider: createProviderSource(),
      clock: systemClock,
      limits: productionTaskLimits(dynamoDb, env.JOBS_TABLE_NAME),
    });
  }),
);
