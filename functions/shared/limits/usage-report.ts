import type { ClientUsage } from '../jobs/client-usage.ts';
import type { ConcurrencySemaphore, SpendingBudget } from './limits.ts';

/** A client's part of the day's budget, against its own daily budget when it has one. */
export interface ClientBudgetReport {
  /** The client's own budget (as its latest reservation of the day ran under); null: none. */
  limitUsd: number | null;
  reservedUsd: number;
  spentUsd: number;
  /** limit - reserved - spent, never below 0; null without a budget of its own. */
  remainingUsd: number | null;
}

/**
 * What `GET /usage` answers: one UTC day's spending against the budget, and the slots now; for a
 * client (an admin's: the one asked for), its share of the day and its part of the budget.
 */
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
  client?: ClientUsage & { budget: ClientBudgetReport };
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

/** Reads a client's part of a day's budget (one consistent read), rounded as `readUsage`. */
export async function readClientBudget(
  budget: Pick<SpendingBudget, 'clientUsage'>,
  client: string,
  day: string,
): Promise<ClientBudgetReport> {
  const usage = await budget.clientUsage(client, day);
  return {
    limitUsd: usage.limitUsd,
    reservedUsd: roundUsd(usage.reservedUsd),
    spentUsd: roundUsd(usage.spentUsd),
    remainingUsd:
      usage.limitUsd === null
        ? null
        : roundUsd(Math.max(0, usage.limitUsd - usage.reservedUsd - usage.spentUsd)),
  };
}
