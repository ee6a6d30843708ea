/**
 * The shared limits as the task handlers use them: the collaborators, the waits they choose when
 * a limit says "not now", and the two ways a job gives back what it took (settle on success,
 * release on failure). Each step is idempotent, so a retried or re-driven task repeats it safely.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Job } from '../shared/jobs/job.ts';
import type {
  ConcurrencySemaphore,
  RequestRateLimiter,
  SpendingBudget,
} from '../shared/limits/limits.ts';
import type { OverBudgetAction } from '../shared/limits/limits-config.ts';
import { limitsFromEnv } from '../shared/limits/limits-from-env.ts';
import { utcDay } from '../shared/limits/limits-table.ts';
import { logger } from '../shared/observability/observability.ts';
import {
  estimateCostUsd,
  type ProviderConfig,
  providerConfigFromEnv,
} from '../shared/provider/provider-config.ts';

export interface TaskLimits {
  semaphore: ConcurrencySemaphore;
  rateLimiter: RequestRateLimiter;
  budget: SpendingBudget;
  overBudgetAction: OverBudgetAction;
  /** How long a job may wait for a slot, from its execution's start, before it is deferred. */
  maxSlotWaitSeconds: number;
  /** The job's cost at the catalogue's current prices. */
  priceOf(job: Job): number;
  /** 0 <= x < 1, for jittered waits. */
  random(): number;
}

// A slot frees when a running job ends: typically tens of seconds to minutes. Jitter spreads
// the waiting jobs so they do not all ask again at the same moment.
const SLOT_WAIT_MIN_SECONDS = 10;
const SLOT_WAIT_JITTER_SECONDS = 20;
const RATE_WAIT_JITTER_SECONDS = 5;

/** Seconds to wait before asking for a slot again: 10 to 30. */
export function slotWaitSeconds(random: () => number): number {
  return SLOT_WAIT_MIN_SECONDS + Math.round(random() * SLOT_WAIT_JITTER_SECONDS);
}

/** Seconds until the next UTC minute (a fresh request allowance), plus a little jitter. */
export function rateWaitSeconds(now: Date, random: () => number): number {
  const untilNextMinute = 60 - Math.floor((now.getTime() % 60_000) / 1000);
  return untilNextMinute + Math.round(random() * RATE_WAIT_JITTER_SECONDS);
}

/** The job is done and paid for: gives its slot back and records what it cost on the budget. */
export async function settleJobLimits(
  limits: Pick<TaskLimits, 'semaphore' | 'budget'>,
  job: Job,
  costUsd: number,
  now: Date,
): Promise<void> {
  await limits.semaphore.release(job.jobId);
  await limits.budget.recordSpent(job.jobId, costUsd, utcDay(now));
  logger.info('Slot released and cost recorded', { costUsd });
}

/** The job ended without a result: gives its slot and its budget reservation back. */
export async function releaseJobLimits(
  limits: Pick<TaskLimits, 'semaphore' | 'budget'>,
  jobId: string,
  now: Date,
): Promise<void> {
  await limits.semaphore.release(jobId);
  await limits.budget.release(jobId, utcDay(now));
  logger.info('Slot and budget reservation released');
}

/**
 * Prices from the model catalogue (PROVIDER_MODELS); a job whose model has left the catalogue
 * keeps the estimate it was submitted with.
 */
export function catalogPrices(config: ProviderConfig): (job: Job) => number {
  return (job) => {
    try {
      return estimateCostUsd(config, job);
    } catch {
      return job.estimatedCostUsd;
    }
  };
}

// The tasks never send the catalogue's API key anywhere; prices need only the models.
const NO_API_KEY = 'not-used-for-prices';

/** The production limits of a task on the jobs table, from the environment (see limits-config.ts). */
export function productionTaskLimits(
  client: DynamoDBDocumentClient,
  tableName: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): TaskLimits {
  const { config, semaphore, rateLimiter, budget } = limitsFromEnv(client, tableName, env);
  return {
    semaphore,
    rateLimiter,
    budget,
    overBudgetAction: config.overBudgetAction,
    maxSlotWaitSeconds: config.maxSlotWaitMinutes * 60,
    priceOf: catalogPrices(providerConfigFromEnv(env, NO_API_KEY)),
    random: Math.random,
  };
}
