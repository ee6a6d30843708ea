/**
 * Contracts of the shared limits that protect the provider account and the wallet: at most N
 * provider jobs in flight, requests per minute under the provider's limit, and a daily
 * spending budget. Implemented on DynamoDB items in the jobs table; every operation is
 * idempotent per job, so a retried step can neither take two slots nor pay twice.
 */

/** Who holds a slot: a job, and the client it belongs to (for the client's cap and share). */
export interface SlotHolder {
  jobId: string;
  client: string;
  /** The provider deployment its slot is on, when its model has deployments. */
  deployment?: string;
}

/** One client as the fair share sees it (slot-pool item; functions/shared/admission). */
export interface ClientSlots {
  /** Slots its jobs hold now. */
  running: number;
  /** The jobs holding them. */
  holders: string[];
  /** Whether it has jobs waiting for a slot (kept by enqueue and hand-off; may be stale). */
  waiting: boolean;
  /** Its weight and cap, as its latest waiting job's share set them. */
  weight: number;
  maxConcurrent?: number;
  /** When one of its jobs last took a slot. */
  lastServedAt?: string;
  /**
   * Its virtual clock: every slot its jobs take moves it on by 1 / weight, so the client with the
   * earliest next tick (`virtualClock + 1 / weight`) is the one furthest below its share.
   */
  virtualClock: number;
}

export interface SlotPoolState {
  limit: number;
  inUse: number;
  clients: Record<string, ClientSlots>;
  /** The jobs holding a slot on each provider deployment (`holders@<deployment>`). */
  deployments: Record<string, { holders: string[] }>;
}

/** The provider deployment a slot is taken on, and that deployment's own cap. */
export interface DeploymentSlot {
  id: string;
  maxConcurrent?: number;
}

/**
 * At most `limit` provider jobs in flight across every entry point, and at most a client's
 * `maxConcurrent` of its own. Only the admission module (functions/shared/admission) calls it.
 */
export interface ConcurrencySemaphore {
  readonly limit: number;
  /**
   * Takes a slot for the job, within the global limit and its client's cap; true if it holds one
   * (already holding counts, on the `deployment` asked for when there is one: a slot held on
   * another deployment answers false). Without a client, the job is the default client's.
   */
  acquire(
    jobId: string,
    owner?: {
      client: string;
      maxConcurrent?: number;
      weight?: number;
      deployment?: DeploymentSlot;
    },
  ): Promise<boolean>;
  /** Gives the job's slot back; true when it held one (false: a no-op). */
  release(jobId: string, client?: string, deployment?: string): Promise<boolean>;
  /** The jobs holding a slot now (the scheduler's sweep reclaims leaked ones). */
  holders(): Promise<string[]>;
  /** The jobs holding a slot, with their clients. */
  slotHolders(): Promise<SlotHolder[]>;
  /** Everything the fair share decides on, in one consistent read. */
  state(): Promise<SlotPoolState>;
  /**
   * Notes that a client has jobs waiting, with the weight and cap its latest one carries; with
   * `catchUpTo`, moves its virtual clock up to it (a client back from idle banks no credit).
   */
  markWaiting(
    client: string,
    share: { weight: number; maxConcurrent?: number },
    catchUpTo?: number,
  ): Promise<void>;
  /**
   * Notes that a client has no job waiting (its queue was found empty), unless a job marked it
   * at or after `markedBefore` (the queue index may not show that job yet).
   */
  clearWaiting(client: string, markedBefore: string): Promise<void>;
}

/** Requests per minute to the provider, shared by every function instance. */
export interface RequestRateLimiter {
  /** Takes one request from the current minute's allowance; false when it is spent. */
  tryTake(now: Date): Promise<boolean>;
}

/**
 * How a reservation ended: `exceeded` when the deployment's day has no room for the job,
 * `client-exceeded` when the deployment's has but its client's own day does not.
 */
export type BudgetReservation = 'reserved' | 'exceeded' | 'client-exceeded';

/** The client a job is reserved for, and its own daily budget (absent: tracked, not limited). */
export interface BudgetClient {
  name: string;
  dailyBudgetUsd?: number | undefined;
}

export interface DailyUsage {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  limitUsd: number | null;
  /** Estimated cost of jobs started today and still in flight (neither released nor completed). */
  reservedUsd: number;
  /** Actual cost of jobs completed today. */
  spentUsd: number;
  /** Jobs whose cost was reserved today (each counted once). */
  startedJobs?: number;
  /** Jobs whose actual cost was recorded on today's budget. */
  completedJobs?: number;
  /** Cost of provider jobs the pipeline created that no job holds (orphans), counted as spent. */
  orphanedUsd?: number;
  /** How many orphans were recorded this day. */
  orphanedJobs?: number;
}

/** One client's part of a UTC day's budget, as its jobs' reservations recorded it. */
export interface ClientDailyUsage {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  client: string;
  /** The client's own budget its latest reservation of the day ran under; null: none. */
  limitUsd: number | null;
  /** Estimated cost of its jobs reserved on this day and still in flight. */
  reservedUsd: number;
  /** Actual cost of its jobs charged to this day. */
  spentUsd: number;
  startedJobs: number;
  completedJobs: number;
}

/**
 * A daily spending budget; reservations are made before the provider create call. A job reserved
 * for a client also counts on that client's day, and needs room in both when the client has a
 * budget of its own; release and spending move the client's day with the deployment's.
 */
export interface SpendingBudget {
  /**
   * Reserves the job's estimated cost on `day`, for `client` when given; reserving twice for one
   * job counts once.
   */
  reserve(
    jobId: string,
    costUsd: number,
    day: string,
    client?: BudgetClient,
  ): Promise<BudgetReservation>;
  /**
   * Returns a reservation (job failed or deferred before it cost anything); idempotent. The
   * reservation is returned to the day (and the client) it was made for.
   */
  release(jobId: string, day: string): Promise<void>;
  /**
   * Records the job's actual cost on completion, on the day and client its cost was reserved
   * for (`day` and `client` when there was no reservation); idempotent.
   */
  recordSpent(jobId: string, costUsd: number, day: string, client?: string): Promise<void>;
  /**
   * Records a provider job the pipeline created that no job holds (e.g. its create answered
   * after the job was closed): it is marked an orphan in the provider-job ledger, so no job can
   * adopt it later, and its cost is charged to `day` as orphaned (it counts against the budget).
   * Returns false, changing nothing, when the ledger already knows the provider job.
   */
  recordOrphan(
    orphan: { providerJobId: string; attemptedBy: string; costUsd: number },
    day: string,
  ): Promise<boolean>;
  usage(day: string): Promise<DailyUsage>;
  /** One client's part of `day` (all zeros and no limit before it reserved anything). */
  clientUsage(client: string, day: string): Promise<ClientDailyUsage>;
}
