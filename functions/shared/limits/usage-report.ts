import type { ConcurrencySemaphore, SpendingBudget } from './limits.ts';

/** What `GET /usage` answers: one UTC day's spending against the budget, and the slots now. */
export interface UsageReport {
  day: string;
  budget: {
    limitUsd: number | null;
    reservedUsd: number;
    spentUsd: number;
    /** Provider jobs created that no job holds (orphans): paid for, counted against the budget. */
    orphanedUsd: number;
    /** limit - reserved - spent - orphaned, never below 0; null without a budget. */
    remainingUsd: number | null;
  };
  concurrency: { limit: number; inUse: number };
  jobs: { started: number; completed: number; orphaned: number };
}

export interface UsageSources {
  semaphore: Pick<ConcurrencySemaphore, 'limit' | 'holders'>;
  budget: Pick<SpendingBudget, 'usage'>;
}

/** Reads a day's usage (two consistent reads). Amounts are rounded to 1/10000 of a dollar. */
export async function readUsage(sources: UsageSources, day: string): Promise<UsageReport> {
  const [usage, holders] = await Promise.all([
    sources.budget.usage(day),
    sources.semaphore.holders(),
  ]);
  const orphanedUsd = usage.orphanedUsd ?? 0;
  return {
    day,
    budget: {
      limitUsd: usage.limitUsd,
      reservedUsd: roundUsd(usage.reservedUsd),
      spentUsd: roundUsd(usage.spentUsd),
      orphanedUsd: roundUsd(orphanedUsd),
      remainingUsd:
        usage.limitUsd === null
          ? null
          : roundUsd(
              Math.max(0, usage.limitUsd - usage.reservedUsd - usage.spentUsd - orphanedUsd),
            ),
    },
    concurrency: { limit: sources.semaphore.limit, inUse: holders.length },
    jobs: {
      started: usage.startedJobs ?? 0,
      completed: usage.completedJobs ?? 0,
      orphaned: usage.orphanedJobs ?? 0,
    },
  };
}

const roundUsd = (usd: number) => Math.round(usd * 10_000) / 10_000;
