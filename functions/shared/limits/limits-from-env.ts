import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoConcurrencySemaphore } from './dynamo-concurrency-semaphore.ts';
import { DynamoRequestRateLimiter, unlimitedRequestRate } from './dynamo-request-rate-limiter.ts';
import { DynamoSpendingBudget } from './dynamo-spending-budget.ts';
import type { ConcurrencySemaphore, RequestRateLimiter, SpendingBudget } from './limits.ts';
import type { LimitsConfig } from './limits-config.ts';

export interface SharedLimits {
  config: LimitsConfig;
  semaphore: ConcurrencySemaphore;
  rateLimiter: RequestRateLimiter;
  budget: SpendingBudget;
}

/**
 * The production limits on the jobs table, as configured (readConfig's `limits`: the
 * MAX_CONCURRENT_JOBS, PROVIDER_REQUESTS_PER_MINUTE, DAILY_BUDGET_USD and OVER_BUDGET_ACTION
 * variables). Call once per container.
 */
export function sharedLimits(
  client: DynamoDBDocumentClient,
  tableName: string,
  config: LimitsConfig,
): SharedLimits {
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
