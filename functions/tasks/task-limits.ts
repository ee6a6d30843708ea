/**
 * The shared limits as the task handlers use them: admission (the one owner of slots and money,
 * functions/shared/admission), the provider's request allowance, and the waits a task chooses
 * when the allowance says "not now". Each step is idempotent, so a retried or re-driven task
 * repeats it safely.
 */
import { type Admission, createAdmission } from '../shared/admission/admission.ts';
import { DynamoDeploymentHealth } from '../shared/admission/deployment-health.ts';
import { DynamoDurationStats } from '../shared/admission/duration-stats.ts';
import { dynamoDb } from '../shared/aws/dynamodb-client.ts';
import { productionHealthChangeReporter } from '../shared/events/production-job-store.ts';
import type { Job } from '../shared/jobs/job.ts';
import type { JobStore } from '../shared/jobs/job-store.ts';
import { DynamoRequestRateLimiter } from '../shared/limits/dynamo-request-rate-limiter.ts';
import type { RequestRateLimiter } from '../shared/limits/limits.ts';
import type { LimitsConfig } from '../shared/limits/limits-config.ts';
import { sharedLimits } from '../shared/limits/limits-from-env.ts';
import { deploymentsForJob } from '../shared/provider/deployments.ts';
import { estimateCostUsd, type ProviderSettings } from '../shared/provider/provider-config.ts';
import { workflowExecutionsOnFirstUse } from '../shared/scheduler/workflow-executions-on-first-use.ts';
import type { NotifyWebhook } from '../shared/webhooks/notify-webhook.ts';
import { systemClock } from './task-runtime.ts';

export interface TaskLimits {
  /**
   * Admission for a step of the execution running on `stateMachineArn` (`$$.StateMachine.Id`):
   * its hand-offs start waiting jobs' executions on that state machine.
   */
  admission(stateMachineArn: string | undefined): Admission;
  rateLimiter: RequestRateLimiter;
  /**
   * A deployment's own request allowance (`requestsPerMinute` in its catalogue entry), taken
   * with the deployment-wide one; undefined when it has none.
   */
  deploymentRate?: (job: Job) => RequestRateLimiter | undefined;
  /** Each deployment's circuit breaker, told how its creates went (absent: not tracked). */
  health?: {
    recordFailure(deployment: string, now: Date, reason: string): Promise<unknown>;
    recordSuccess(deployment: string, now: Date): Promise<unknown>;
  };
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
 * The production limits of a task on the jobs table, over the task's job store. `provider` (the
 * catalogue) prices jobs and names each model's deployments, where admission places slots.
 */
export function productionTaskLimits(
  store: JobStore,
  tableName: string,
  limitsConfig: LimitsConfig,
  options: { provider?: ProviderSettings; notify?: NotifyWebhook; jobEventsBusName?: string } = {},
): TaskLimits {
  const { provider, notify } = options;
  const client = dynamoDb();
  const { semaphore, rateLimiter, budget } = sharedLimits(client, tableName, limitsConfig);
  const durations = new DynamoDurationStats({ client, tableName });
  const priceOf = provider ? catalogPrices(provider) : (job: Job) => job.estimatedCostUsd;
  const deploymentRates = new Map<string, DynamoRequestRateLimiter>();
  const breakers = new DynamoDeploymentHealth({ client, tableName });
  const report = productionHealthChangeReporter(options.jobEventsBusName);
  return {
    admission: (stateMachineArn) =>
      createAdmission({
        store,
        semaphore,
        budget,
        overBudgetAction: limitsConfig.overBudgetAction,
        priceOf,
        clock: systemClock,
        durations,
        notify,
        health: breakers,
        ...(provider === undefined
          ? {}
          : { deploymentsOf: (job: Job) => deploymentsForJob(provider, job.model) }),
        executions:
          stateMachineArn === undefined ? undefined : workflowExecutionsOnFirstUse(stateMachineArn),
      }),
    rateLimiter,
    health: {
      async recordFailure(deployment, at, reason) {
        const outcome = await breakers.recordFailure(deployment, at, reason);
        await report({ deployment, outcome, at, reason });
      },
      async recordSuccess(deployment, at) {
        const outcome = await breakers.recordSuccess(deployment, at);
        await report({ deployment, outcome, at });
      },
    },
    deploymentRate: (job) => {
      if (provider === undefined || job.deployment === undefined) return undefined;
      const spec = deploymentsForJob(provider, job.model).find((one) => one.id === job.deployment);
      if (spec?.requestsPerMinute === undefined) return undefined;
      let limiter = deploymentRates.get(spec.id);
      if (limiter === undefined) {
        limiter = new DynamoRequestRateLimiter({
          client,
          tableName,
          requestsPerMinute: spec.requestsPerMinute,
          deployment: spec.id,
        });
        deploymentRates.set(spec.id, limiter);
      }
      return limiter;
    },
    priceOf,
    random: Math.random,
  };
}
