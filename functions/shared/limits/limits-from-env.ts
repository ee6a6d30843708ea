import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoConcurrencySemaphore } from './dynamo-concurrency-semaphore.ts';
import { DynamoRequestRateLimiter, unlimitedRequestRate } from './dynamo-request-rate-limiter.ts';
import { DynamoSpendingBudget } from './dynamo-spending-budget.ts';
import type { ConcurrencySemaphore, RequestRateLimiter, SpendingBudget } from './limits.ts';
import { type LimitsConfig, limitsConfigFromEnv } from './limits-config.ts';

export interface SharedLimits {
  config: LimitsConfig;
  semaphore: ConcurrencySemaphore;
  rateLimiter: RequestRateLimiter;
  budget: SpendingBudget;
}

/**
 * The production limits on the jobs table, configured from the environment (MAX_CONCURRENT_JOBS,
 * PROVIDER_REQUESTS_PER_MINUTE, DAILY_BUDGET_USD, OVER_BUDGET_ACTION).
 * Call once per container; throws LimitsConfigError naming a bad variable.
 */
export function limitsFromEnv(
  client: DynamoDBDocumentClient,
  tableName: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): SharedLimits {
  const config = limitsConfigFromEnv(env);
  return {
    config,
    semaphore: new DynamoConcurrencySemaphore({
      client,
      tableName,
      limit: config.maxConcurrentJobs,
    }),
    rateLimiter:
      config.requestsPerMinute === 0
        ? unlimitedRequestRate
        : new DynamoRequestRateLimiter({
            client,
            tableName,
            requestsPerMinute: config.requestsPerMinute,
          }),
    budget: new DynamoSpendingBudget({ client, tableName, dailyLimitUsd: config.dailyBudgetUsd }),
  };
}
