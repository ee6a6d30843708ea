import type { JobStore } from '../../functions/shared/jobs/job-store.ts';
import type {
  BudgetClient,
  BudgetReservation,
  ClientDailyUsage,
  ConcurrencySemaphore,
  DailyUsage,
  RequestRateLimiter,
  SpendingBudget,
} from '../../functions/shared/limits/limits.ts';
import { fromMicroUsd, toMicroUsd, utcMinute } from '../../functions/shared/limits/limits-table.ts';
import type { CancelJobDeps } from '../../functions/shared/workflow/cancel-job.ts';
import type { TaskLimits } from '../../functions/tasks/task-limits.ts';

/**
 * The limits in memory, with the semantics of the DynamoDB implementations (idempotent per job,
 * the limit checked against committed = reserved + spent, costs kept on their reservation day),
 * for unit tests of the code that uses them.
 */

export class InMemoryConcurrencySemaphore implements ConcurrencySemaphore {
  readonly limit: number;
  readonly #holders = new Set<string>();

  constructor(limit: number) {
    this.limit = limit;
  }

  async acquire(jobId: string): Promise<boolean> {
    if (this.#holders.has(jobId)) return true;
    if (this.#holders.size >= this.limit) return false;
    this.#holders.add(jobId);
    return true;
  }

  async release(jobId: string): Promise<boolean> {
    return this.#holders.delete(jobId);
  }

  async holders(): Promise<string[]> {
    return [...this.#holders].sort();
  }

  /** Whether the job holds a slot (synchronous, for assertions). */
  holds(jobId: string): boolean {
    return this.#holders.has(jobId);
  }
}

export class InMemoryRequestRateLimiter implements RequestRateLimiter {
  readonly #limit: number;
  readonly #counts = new Map<string, number>();

  constructor(requestsPerMinute: number) {
    this.#limit = requestsPerMinute;
  }

  async tryTake(now: Date): Promise<boolean> {
    const minute = utcMinute(now);
    const count = this.#counts.get(minute) ?? 0;
    if (count >= this.#limit) return false;
    this.#counts.set(minute, count + 1);
    return true;
  }

  /** Requests taken in the minute of `at`. */
  taken(at: Date): number {
    return this.#counts.get(utcMinute(at)) ?? 0;
  }
}

interface JobRecord {
  day: string;
  state: 'reserved' | 'released' | 'spent';
  reservedMicroUsd: number;
  spentMicroUsd: number;
  client?: string | undefined;
}

interface DayTotals {
  orphaned?: number;
  orphanedJobs?: number;
  committed: number;
  reserved: number;
  spent: number;
  started: number;
  completed: number;
}

interface ClientTotals extends DayTotals {
  limit: number | null;
}

export class InMemorySpendingBudget implements SpendingBudget {
  readonly #limitMicroUsd: number | null;
  readonly #jobs = new Map<string, JobRecord>();
  readonly #days = new Map<string, DayTotals>();
  /** By `<day> <client>`. */
  readonly #clients = new Map<string, ClientTotals>();
  /** Provider job ids recorded as orphans, with their cost in micro-dollars. */
  readonly orphans = new Map<string, number>();

  constructor(dailyLimitUsd: number | null) {
    this.#limitMicroUsd = dailyLimitUsd === null ? null : toMicroUsd(dailyLimitUsd);
  }

  async reserve(
    jobId: string,
    costUsd: number,
    day: string,
    client?: BudgetClient,
  ): Promise<BudgetReservation> {
    const cost = toMicroUsd(costUsd);
    const record = this.#jobs.get(jobId);
    if (record !== undefined && record.state !== 'released') return 'reserved';
    const totals = this.#day(day);
    if (this.#limitMicroUsd !== null && totals.committed + cost > this.#limitMicroUsd) {
      return 'exceeded';
    }
    const clientLimit =
      client?.dailyBudgetUsd === undefined ? null : toMicroUsd(client.dailyBudgetUsd);
    const clientTotals = client === undefined ? undefined : this.#client(day, client.name);
    if (clientTotals && clientLimit !== null && clientTotals.committed + cost > clientLimit) {
      return 'client-exceeded';
    }
    this.#jobs.set(jobId, {
      day,
      state: 'reserved',
      reservedMicroUsd: cost,
      spentMicroUsd: 0,
      client: client?.name,
    });
    for (const each of clientTotals ? [totals, clientTotals] : [totals]) {
      each.committed += cost;
      each.reserved += cost;
      each.started += 1;
    }
    if (clientTotals) clientTotals.limit = clientLimit;
    return 'reserved';
  }

  async release(jobId: string, _day: string): Promise<void> {
    const record = this.#jobs.get(jobId);
    if (record?.state !== 'reserved') return;
    for (const totals of this.#totalsOf(record.day, record.client)) {
      totals.committed -= record.reservedMicroUsd;
      totals.reserved -= record.reservedMicroUsd;
    }
    record.state = 'released';
  }

  async recordSpent(jobId: string, costUsd: number, day: string, client?: string): Promise<void> {
    const spent = toMicroUsd(costUsd);
    const record = this.#jobs.get(jobId);
    if (record?.state === 'spent') return;
    const owner = record === undefined ? client : record.client;
    for (const totals of this.#totalsOf(record?.day ?? day, owner)) {
      if (record?.state === 'reserved') {
        totals.committed -= record.reservedMicroUsd;
        totals.reserved -= record.reservedMicroUsd;
      }
      totals.committed += spent;
      totals.spent += spent;
      totals.completed += 1;
    }
    this.#jobs.set(jobId, {
      day: record?.day ?? day,
      state: 'spent',
      reservedMicroUsd: record?.reservedMicroUsd ?? 0,
      spentMicroUsd: spent,
      client: owner,
    });
  }

  async recordOrphan(
    orphan: { providerJobId: string; attemptedBy: string; costUsd: number },
    day: string,
  ): Promise<boolean> {
    if (this.orphans.has(orphan.providerJobId)) return false;
    const cost = toMicroUsd(orphan.costUsd);
    this.orphans.set(orphan.providerJobId, cost);
    const totals = this.#day(day);
    totals.committed += cost;
    totals.orphaned = (totals.orphaned ?? 0) + cost;
    totals.orphanedJobs = (totals.orphanedJobs ?? 0) + 1;
    return true;
  }

  async usage(day: string): Promise<DailyUsage> {
    const totals = this.#day(day);
    return {
      day,
      limitUsd: this.#limitMicroUsd === null ? null : fromMicroUsd(this.#limitMicroUsd),
      reservedUsd: fromMicroUsd(totals.reserved),
      spentUsd: fromMicroUsd(totals.spent),
      startedJobs: totals.started,
      completedJobs: totals.completed,
      orphanedUsd: fromMicroUsd(totals.orphaned ?? 0),
      orphanedJobs: totals.orphanedJobs ?? 0,
    };
  }

  async clientUsage(client: string, day: string): Promise<ClientDailyUsage> {
    const totals = this.#client(day, client);
    return {
      day,
      client,
      limitUsd: totals.limit === null ? null : fromMicroUsd(totals.limit),
      reservedUsd: fromMicroUsd(totals.reserved),
      spentUsd: fromMicroUsd(totals.spent),
      startedJobs: totals.started,
      completedJobs: totals.completed,
    };
  }

  /** The job's budget state, if it has a record (synchronous, for assertions). */
  stateOf(jobId: string): 'reserved' | 'released' | 'spent' | undefined {
    return this.#jobs.get(jobId)?.state;
  }

  /** The totals a job's settlement moves: its day's, and its client's part of it. */
  #totalsOf(day: string, client: string | undefined): DayTotals[] {
    return client === undefined ? [this.#day(day)] : [this.#day(day), this.#client(day, client)];
  }

  #client(day: string, client: string): ClientTotals {
    const key = `${day} ${client}`;
    let totals = this.#clients.get(key);
    if (totals === undefined) {
      totals = { committed: 0, reserved: 0, spent: 0, started: 0, completed: 0, limit: null };
      this.#clients.set(key, totals);
    }
    return totals;
  }

  #day(day: string): DayTotals {
    let totals = this.#days.get(day);
    if (totals === undefined) {
      totals = { committed: 0, reserved: 0, spent: 0, started: 0, completed: 0 };
      this.#days.set(day, totals);
    }
    return totals;
  }
}

export interface InMemoryTaskLimits extends TaskLimits {
  semaphore: InMemoryConcurrencySemaphore;
  rateLimiter: InMemoryRequestRateLimiter;
  budget: InMemorySpendingBudget;
  /** The state machine ARN of each hand-off asked for, in order. */
  handOffs: (string | undefined)[];
}

/**
 * Task limits in memory: 4 slots, 1000 requests a minute, no budget, `queue`, hand-offs
 * recorded (not run), prices = the job's estimate, no jitter (random() is 0). Override what a test is about.
 */
export function inMemoryTaskLimits(
  overrides: Partial<Omit<InMemoryTaskLimits, 'priceOf' | 'random'>> &
    Partial<Pick<TaskLimits, 'priceOf' | 'random'>> = {},
): InMemoryTaskLimits {
  const handOffs: (string | undefined)[] = [];
  return {
    semaphore: new InMemoryConcurrencySemaphore(4),
    rateLimiter: new InMemoryRequestRateLimiter(1000),
    budget: new InMemorySpendingBudget(null),
    overBudgetAction: 'queue',
    handOffs,
    async handOff(stateMachineArn) {
      handOffs.push(stateMachineArn);
    },
    priceOf: (job) => job.estimatedCostUsd,
    random: () => 0,
    ...overrides,
  };
}

/** What GET /usage reads, in memory: 4 slots and the given daily budget (none by default). */
export function inMemoryUsageSources(options: { budgetUsd?: number | null; slots?: number } = {}) {
  return {
    semaphore: new InMemoryConcurrencySemaphore(options.slots ?? 4),
    budget: new InMemorySpendingBudget(options.budgetUsd ?? null),
  };
}

/** Cancel deps in memory: the store's jobs, 4 slots, no budget; stops and deletes recorded. */
export function inMemoryCancelDeps(store: JobStore, clock: () => Date = () => new Date()) {
  const stopped: string[] = [];
  const deleted: string[] = [];
  const handOffs: number[] = [];
  const semaphore = new InMemoryConcurrencySemaphore(4);
  const budget = new InMemorySpendingBudget(null);
  const deps: CancelJobDeps = {
    store,
    clock,
    semaphore,
    budget,
    async stopExecution(name) {
      stopped.push(name);
    },
    async deleteProviderJob(id) {
      deleted.push(id);
    },
    async handOff() {
      handOffs.push(1);
    },
  };
  return { deps, semaphore, budget, stopped, deleted, handOffs };
}
