/**
 * The shared limits as the task handlers use them: the collaborators, the waits they choose when
 * a limit says "not now", and the two ways a job gives back what it took (settle on success,
 * release on failure). Each step is idempotent, so a retried or re-driven task repeats it safely.
 */
import { dynamoDb } from '../shared/aws/dynamodb-client.ts';
import { DynamoJobStore } from '../shared/jobs/dynamo-job-store.ts';
import type { Job } from '../shared/jobs/job.ts';
import type {
  ConcurrencySemaphore,
  RequestRateLimiter,
  SpendingBudget,
} from '../shared/limits/limits.ts';
import type { LimitsConfig, OverBudgetAction } from '../shared/limits/limits-config.ts';
import { sharedLimits } from '../shared/limits/limits-from-env.ts';
import { utcDay } from '../shared/limits/limits-table.ts';
import { logger } from '../shared/observability/observability.ts';
import { estimateCostUsd, type ProviderSettings } from '../shared/provider/provider-config.ts';
import { workflowExecutionsOnFirstUse } from '../shared/scheduler/workflow-executions.ts';
import { dispatchWaiting } from '../shared/workflow/job-queue.ts';
import { systemClock } from './task-runtime.ts';

export interface TaskLimits {
  semaphore: ConcurrencySemaphore;
  rateLimiter: RequestRateLimiter;
  budget: SpendingBudget;
  overBudgetAction: OverBudgetAction;
  /**
   * Hands freed slots to the oldest parked jobs (functions/shared/workflow/job-queue.ts), starting
   * their executions on the state machine the calling execution runs on (`$$.StateMachine.Id`).
   */
  handOff(stateMachineArn: string | undefined): Promise<void>;
  /** The job's cost at the catalogue's current prices. */
  priceOf(job: Job): number;
  /** 0 <= x < 1, for jittered waits. */
  random(): number;
}

const RATE_WAIT_JITTER_SECONDS = 5;

/** Seconds until the next UTC minute (a fresh request allowance), plus a little jitter. */
export function rateWaitSeconds(now: Date, random: () => number): number {
  const untilNextMinute = 60 - Math.floor((now.getTime() % 60_000) / 1000);
  return untilNextMinute + Math.round(random() * RATE_WAIT_JITTER_SECONDS);
}

/**
 * The provider rendered the video: its cost is spent, whatever happens to our download. Gives the
 * slot back (the provider job is terminal) and hands it to the oldest waiting job.
 */
export async function settleJobLimits(
  limits: Pick<TaskLimits, 'semaphore' | 'budget' | 'handOff'>,
  job: Job,
  costUsd: number,
  now: Date,
  stateMachineArn: string | undefined,
): Promise<void> {
  await limits.budget.recordSpent(job.jobId, costUsd, utcDay(now));
  // Settled twice per job (poll, then download): only the release that freed the slot hands off.
  if (await limits.semaphore.release(job.jobId)) {
    logger.info('Cost recorded as spent and slot released', { costUsd });
    await limits.handOff(stateMachineArn);
  }
}

/**
 * The provider never rendered the video (rejected, failed, or never created): gives the slot and
 * the budget reservation back and hands the slot to the oldest waiting job.
 */
export async function releaseJobLimits(
  limits: Pick<TaskLimits, 'semaphore' | 'budget' | 'handOff'>,
  jobId: string,
  now: Date,
  stateMachineArn: string | undefined,
): Promise<void> {
  await limits.budget.release(jobId, utcDay(now));
  if (await limits.semaphore.release(jobId)) {
    logger.info('Slot and budget reservation released');
    await limits.handOff(stateMachineArn);
  }
}

/**
 * Prices from the model catalogue (PROVIDER_MODELS); a job whose model has left the catalogue
 * keeps the estimate it was submitted with.
 */
export function catalogPrices(config: ProviderSettings): (job: Job) => number {
  return (job) => {
    try {
      return estimateCostUsd(config, job);
    } catch {
      return job.estimatedCostUsd;
    }
  };
}

/**
 * The production limits of a task on the jobs table. `provider` prices jobs (the catalogue);
 * record-failure, which never prices, passes none.
 */
export function productionTaskLimits(
  tableName: string,
  limitsConfig: LimitsConfig,
  provider?: ProviderSettings,
): TaskLimits {
  const client = dynamoDb();
  const { semaphore, rateLimiter, budget } = sharedLimits(client, tableName, limitsConfig);
  const store = new DynamoJobStore({ client, tableName });
  const prices = provider ? catalogPrices(provider) : (job: Job) => job.estimatedCostUsd;
  return {
    semaphore,
    rateLimiter,
    budget,
    overBudgetAction: limitsConfig.overBudgetAction,
    async handOff(stateMachineArn) {
      if (stateMachineArn === undefined) return;
      const executions = workflowExecutionsOnFirstUse(stateMachineArn);
      const started = await dispatchWaiting({ store, semaphore, executions, clock: systemClock });
      if (started.length > 0) logger.info('Freed slots handed to waiting jobs', { started });
    },
    priceOf: prices,
    random: Math.random,
  };
}
