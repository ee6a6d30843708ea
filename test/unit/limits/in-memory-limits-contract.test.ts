import {
  InMemoryConcurrencySemaphore,
  InMemoryRequestRateLimiter,
  InMemorySpendingBudget,
} from '../../support/in-memory-limits.ts';
import { limitsContract } from '../../support/limits-contract.ts';

// The fakes the unit tests use, held to the contract the DynamoDB adapters pass
// (test/integration/limits.test.ts).
limitsContract('in memory', () => ({
  semaphore: async (limit) => new InMemoryConcurrencySemaphore(limit),
  rateLimiter: async (requestsPerMinute) => new InMemoryRequestRateLimiter(requestsPerMinute),
  budget: async (dailyLimitUsd) => new InMemorySpendingBudget(dailyLimitUsd),
}));
