import { createAdmission } from '../../functions/shared/admission/admission.ts';
import { now as pipelineNow } from '../../functions/shared/clock.ts';
import { DEFAULT_CLIENT } from '../../functions/shared/jobs/job.ts';
import type { JobStore } from '../../functions/shared/jobs/job-store.ts';
import type {
  BudgetClient,
  BudgetReservation,
  ClientDailyUsage,
  ClientSlots,
  ConcurrencySemaphore,
  DailyUsage,
  DeploymentSlot,
  RequestRateLimiter,
  SlotHolder,
  SlotPoolState,
  SpendingBudget,
} from '../../functions/shared/limits/limits.ts';
import type { OverBudgetAction } from '../../functions/shared/limits/limits-config.ts';
import { fromMicroUsd, toMicroUsd, utcMinute } from '../../functions/shared/limits/limits-table.ts';
import type { CancelJobDeps } from '../../functions/shared/workflow/cancel-job.ts';
import type { TaskLimits } from '../../functions/tasks/task-limits.ts';
import { InMemoryJobStore } from './in-memory-job-store.ts';

/**
 * The limits in memory, with the semantics of the DynamoDB implementations (idempotent per job,
 * the limit checked against committed = reserved + spent, costs kept on their reservation day),
 * for unit tests of the code that uses them.
 */

export class InMemoryConcurrencySemaphore implements ConcurrencySemaphore {
  readonly limit: number;
  /** job id -> its client */
  readonly #holders = new Map<string, string>();
  /** job id -> the deployment its slot is on */
  readonly #deployments = new Map<string, string>();
  readonly #clients = new Map<string, Omit<ClientSlots, 'running' | 'holders'>>();
  /** client -> when it was last marked waiting (ISO), for clearWaiting's grace. */
  readonly #marked = new Map<string, string>();
  readonly #now: () => Date;
  #served = 0;

  /**
   * `now` stamps the waiting marks (default: the pipeline's clock, as DynamoConcurrencySemaphore):
   * give it the clock admission runs on, or marks made "later" than that clock's markedBefore
   * are never cleared.
   */
  constructor(limit: number, options: { now?: () => Date } = {}) {
    this.limit = limit;
    this.#now = options.now ?? pipelineNow;
  }

  async acquire(
    jobId: string,
    owner: {
      client: string;
      maxConcurrent?: number;
      weight?: number;
      deployment?: DeploymentSlot;
    } = { client: DEFAULT_CLIENT },
  ): Promise<boolean> {
    // Already holding: that slot, if it is on the deployment asked for (the DynamoDB one's rule).
    if (this.#holders.has(jobId)) {
      return owner.deployment === undefined || this.#deployments.get(jobId) === owner.deployment.id;
    }
    if (this.#holders.size >= this.limit) return false;
    if (owner.maxConcurrent !== undefined && this.#running(owner.client) >= owner.maxConcurrent) {
      return false;
    }
    const deployment = owner.deployment;
    if (deployment?.maxConcurrent !== undefined) {
      const there = [...this.#deployments.values()].filter((id) => id === deployment.id).length;
      if (there >= deployment.maxConcurrent) return false;
    }
    this.#holders.set(jobId, owner.client);
    if (deployment) this.#deployments.set(jobId, deployment.id);
    // A counter, not a clock: the order of service is what the fair share's ties read.
    this.#served += 1;
    const entry = this.#client(owner.client);
    entry.lastServedAt = String(this.#served).padStart(12, '0');
    entry.virtualClock += 1 / (owner.weight ?? 1);
    return true;
  }

  async release(jobId: string, _client?: string, _deployment?: string): Promise<boolean> {
    this.#deployments.delete(jobId);
    return this.#holders.delete(jobId);
  }

  async holders(): Promise<string[]> {
    return [...this.#holders.keys()].sort();
  }

  async slotHolders(): Promise<SlotHolder[]> {
    return [...this.#holders]
      .map(([jobId, client]) => {
        const deployment = this.#deployments.get(jobId);
        return { jobId, client, ...(deployment === undefined ? {} : { deployment }) };
      })
      .sort((a, b) => (a.jobId < b.jobId ? -1 : 1));
  }

  async state(): Promise<SlotPoolState> {
    const clients: Record<string, ClientSlots> = {};
    for (const [client, entry] of this.#clients) {
      clients[client] = {
        ...entry,
        running: this.#running(client),
        holders: this.#holdersOf(client),
      };
    }
    for (const client of this.#holders.values()) {
      clients[client] ??= {
        running: this.#running(client),
        holders: this.#holdersOf(client),
        waiting: false,
        weight: 1,
        virtualClock: 0,
      };
    }
    const deployments: SlotPoolState['deployments'] = {};
    for (const [jobId, id] of [...this.#deployments].sort()) {
      deployments[id] ??= { holders: [] };
      deployments[id].holders.push(jobId);
    }
    return { limit: this.limit, inUse: this.#holders.size, clients, deployments };
  }

  async markWaiting(
    client: string,
    share: { weight: number; maxConcurrent?: number },
    catchUpTo?: number,
  ): Promise<void> {
    const entry = this.#client(client);
    if (catchUpTo !== undefined) entry.virtualClock = Math.max(entry.virtualClock, catchUpTo);
    entry.waiting = true;
    this.#marked.set(client, this.#now().toISOString());
    entry.weight = share.weight;
    if (share.maxConcurrent === undefined) delete entry.maxConcurrent;
    else entry.maxConcurrent = share.maxConcurrent;
  }

  async clearWaiting(client: string, markedBefore: string): Promise<void> {
    // Marked lately: a job may be on its way into the queue (as the DynamoDB condition).
    const marked = this.#marked.get(client);
    if (marked !== undefined && marked >= markedBefore) return;
    const entry = this.#clients.get(client);
    if (entry !== undefined) entry.waiting = false;
  }

  /** Whether the job holds a slot (synchronous, for assertions). */
  holds(jobId: string): boolean {
    return this.#holders.has(jobId);
  }

  #holdersOf(client: string): string[] {
    return [...this.#holders]
      .filter(([, holder]) => holder === client)
      .map(([jobId]) => jobId)
      .sort();
  }

  #running(client: string): number {
    return [...this.#holders.values()].filter((holder) => holder === client).length;
  }

  #client(client: string): Omit<ClientSlots, 'running' | 'holders'> {
    let entry = this.#clients.get(client);
    if (entry === undefined) {
      entry = { waiting: false, weight: 1, virtualClock: 0 };
      this.#clients.set(client, entry);
    }
    return entry;
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
  store: JobStore;
  /** The state machine ARN of each admission asked for, in order. */
  handOffs: (string | undefined)[];
  /** Executions the hand-offs started: `<jobId>` -> execution name. */
  started: { jobId: string; executionName: string }[];
  overBudgetAction: OverBudgetAction;
}

/**
 * Task limits in memory: a real admission (functions/shared/admission) over in-memory slots and
 * budget and the given store (a fresh one by default); its hand-offs record the executions they
 * start instead of starting them.
 */
export function inMemoryTaskLimits(
  overrides: Partial<
    Pick<
      InMemoryTaskLimits,
      'semaphore' | 'rateLimiter' | 'budget' | 'store' | 'overBudgetAction' | 'priceOf' | 'random'
    >
  > & { clock?: () => Date } = {},
): InMemoryTaskLimits {
  const handOffs: (string | undefined)[] = [];
  const started: { jobId: string; executionName: string }[] = [];
  const limits: InMemoryTaskLimits = {
    semaphore:
      overrides.semaphore ??
      new InMemoryConcurrencySemaphore(4, overrides.clock ? { now: overrides.clock } : {}),
    rateLimiter: overrides.rateLimiter ?? new InMemoryRequestRateLimiter(1000),
    budget: overrides.budget ?? new InMemorySpendingBudget(null),
    store: overrides.store ?? new InMemoryJobStore(),
    overBudgetAction: overrides.overBudgetAction ?? 'queue',
    handOffs,
    started,
    priceOf: overrides.priceOf ?? ((job) => job.estimatedCostUsd),
    random: overrides.random ?? (() => 0),
    admission(stateMachineArn) {
      handOffs.push(stateMachineArn);
      return createAdmission({
        store: limits.store,
        semaphore: limits.semaphore,
        budget: limits.budget,
        overBudgetAction: limits.overBudgetAction,
        priceOf: limits.priceOf,
        clock: overrides.clock ?? (() => new Date()),
        executions:
          stateMachineArn === undefined
            ? undefined
            : {
                async start(jobId, executionName) {
                  started.push({ jobId, executionName });
                  return 'started' as const;
                },
                async state() {
                  return 'RUNNING' as const;
                },
              },
      });
    },
  };
  return limits;
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
  const limits = inMemoryTaskLimits({ store, clock });
  const deps: CancelJobDeps = {
    store,
    clock,
    admission: limits.admission('arn:cancel'),
    async stopExecution(name) {
      stopped.push(name);
    },
    async deleteProviderJob(id) {
      deleted.push(id);
    },
  };
  return {
    deps,
    semaphore: limits.semaphore,
    budget: limits.budget,
    stopped,
    deleted,
    handOffs: limits.started,
  };
}
