/**
 * Admission: the one owner of slots and money. A job takes a concurrency slot and a budget
 * reservation here, waits here when it cannot, and gives them back here; no other code writes
 * the slot pool or the budget items. Its transitions:
 *
 * - `admit`: the AdmitJob step. A slot (within the global limit and the client's cap), then the
 *   job's cost reserved on today's budget and its client's. No slot: the job is parked in its
 *   client's queue (QUEUED, deferred `capacity`, no execution). No money: the slot is handed on
 *   and the job deferred to a later day (`budget`) or refused (BudgetExceededError). A job past
 *   its start timeout is cancelled (`start_timeout`) before anything is taken.
 * - `handOff`: a freed slot goes to the next waiting job by weighted fair share (fair-share.ts),
 *   whose next execution is started holding it. Every transition that frees a slot hands off.
 * - `settleRendered`: the provider rendered the video: its cost is spent, the slot freed.
 * - `settleAbandoned`: a job given up (cancelled, failed, swept): spent if the provider may have
 *   rendered it, else its reservation released; the slot freed.
 * - `releaseUnrendered`: the provider never rendered it: reservation and slot given back.
 * - `returnToSchedule`: the request allowance stayed spent: back to the schedule, both given back.
 * - `makeAdmissible`: a job deferred for the schedule (or a later day's budget) joins its
 *   client's queue when the schedule fires, and flows through hand-offs like any waiting job.
 * - `recordOrphan`, `reclaimLeaked`: the ledger's orphans and the scheduler's backstop.
 *
 * Every transition is idempotent per job (the slot is keyed by the job; the budget record moves
 * under a condition on its state), so a retried step can neither take two slots nor pay twice.
 */
import { isTerminal, type Job, ownerOf, waitsForSlot } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { BudgetExceededError } from '../limits/limit-errors.ts';
import type {
  ConcurrencySemaphore,
  SlotHolder,
  SlotPoolState,
  SpendingBudget,
} from '../limits/limits.ts';
import type { OverBudgetAction } from '../limits/limits-config.ts';
import { utcDay } from '../limits/limits-table.ts';
import { logger } from '../observability/observability.ts';
import { recordMetric } from '../observability/pipeline-metrics.ts';
import { nextExecutionName, type WorkflowExecutions } from '../scheduler/workflow-executions.ts';
import type { NotifyWebhook } from '../webhooks/notify-webhook.ts';
import { DEFAULT_SHARE } from './client-share.ts';
import type { DurationStats } from './duration-stats.ts';
import { catchUpClock, fairOrder } from './fair-share.ts';

export interface AdmissionDeps {
  store: JobStore;
  semaphore: ConcurrencySemaphore;
  budget: SpendingBudget;
  overBudgetAction: OverBudgetAction;
  /** The job's cost at the catalogue's current prices. */
  priceOf: (job: Job) => number;
  clock: () => Date;
  /**
   * Starts a waiting job's next execution at a hand-off. Absent (a caller that does not know the
   * state machine), hand-offs start nothing and the scheduler's run is the backstop.
   */
  executions?: WorkflowExecutions | undefined;
  /** Recent durations for ETAs: a rendered job's duration is recorded here. */
  durations?: DurationStats | undefined;
  /** Announces `video.cancelled` of a job whose start timed out (absent: none). */
  notify?: NotifyWebhook | undefined;
  /**
   * The provider deployments a job's model is served by (its catalogue entry's `deployments`).
   * Absent or empty: the model has one implicit deployment, and slots are not kept per deployment.
   */
  deploymentsOf?: ((job: Job) => readonly DeploymentChoice[]) | undefined;
  /** Each deployment's circuit breaker (absent: every deployment is taken as healthy). */
  health?: DeploymentHealthView | undefined;
}

/** A deployment as admission chooses among them. */
export interface DeploymentChoice {
  id: string;
  weight: number;
  maxConcurrent?: number | undefined;
}

/** What admission asks of the deployments' circuit breakers (deployment-health.ts). */
export interface DeploymentHealthView {
  states(ids: string[], now: Date): Promise<Record<string, 'closed' | 'open' | 'half_open'>>;
  /** Half-open: the one caller that gets to send the probe. */
  takeProbe(id: string, now: Date): Promise<boolean>;
}

/** A waiting job a hand-off started, and the execution it runs under. */
export interface StartedJob {
  jobId: string;
  executionName: string;
}

/** What the AdmitJob step does next: go on to create, or end (the job waits, or ended). */
export type AdmitOutcome = 'admitted' | 'parked' | 'deferred' | 'timed_out';

/** The error code of a job cancelled because no slot came within its start timeout. */
export const START_TIMEOUT = 'start_timeout';

/** Jobs read from the head of a client's queue per try: a stale index entry or two is skipped. */
const QUEUE_HEAD_READ = 3;

/**
 * A client whose queue looked empty keeps its "waiting" mark this long after a job marked it:
 * the queue index may not show that job yet.
 */
const WAITING_MARK_GRACE_MS = 10_000;

export interface Admission {
  admit(job: Job): Promise<AdmitOutcome>;
  handOff(): Promise<StartedJob[]>;
  settleRendered(job: Job, costUsd: number): Promise<void>;
  settleAbandoned(job: Job): Promise<void>;
  releaseUnrendered(job: Job): Promise<void>;
  returnToSchedule(job: Job): Promise<void>;
  /**
   * Its deployment definitely refused the create (nothing was made there): slot and reservation
   * given back, the job back at its place in its client's queue, for a slot on a deployment
   * that can take it (the refusing one counted against its health by the caller).
   */
  failover(job: Job): Promise<void>;
  /**
   * Puts a job deferred for the schedule (or the budget) in its client's queue. `markWaiting:
   * false` when the caller marks the client itself (once for many of its jobs).
   */
  makeAdmissible(job: Job, options?: { markWaiting?: boolean }): Promise<boolean>;
  /** Notes that a parked job's client has work waiting (the scheduler's backstop of the mark). */
  markWaiting(job: Job): Promise<void>;
  /** Cancels a waiting job whose start timeout has passed; true when this call cancelled it. */
  timeOut(job: Job): Promise<boolean>;
  recordOrphan(orphan: { providerJobId: string; job: Job; costUsd: number }): Promise<boolean>;
  /** Frees the slots of holders `isLeaked` says are gone; answers the freed and the kept. */
  reclaimLeaked(
    isLeaked: (holder: SlotHolder) => Promise<boolean>,
  ): Promise<{ released: string[]; kept: number }>;
}

/** Whether a job that was never admitted has waited past its start timeout. */
export function startTimedOut(job: Job, now: Date): boolean {
  if (job.startTimeoutSeconds === undefined || job.startedAt !== undefined) return false;
  if (job.providerJobId !== undefined) return false;
  return now.getTime() - Date.parse(job.createdAt) >= job.startTimeoutSeconds * 1000;
}

export function createAdmission(deps: AdmissionDeps): Admission {
  const ownerShare = (job: Job) => ({
    client: ownerOf(job),
    weight: (job.share ?? DEFAULT_SHARE).weight,
    ...(job.share?.maxConcurrent === undefined ? {} : { maxConcurrent: job.share.maxConcurrent }),
  });
  const clientBudget = (job: Job) => ({
    name: ownerOf(job),
    ...(job.share?.dailyBudgetUsd === undefined
      ? {}
      : { dailyBudgetUsd: job.share.dailyBudgetUsd }),
  });

  const deploymentsFor = (job: Job) => deps.deploymentsOf?.(job) ?? [];

  /** The deployment a job's slot is on: as recorded on the job, or as the pool holds it. */
  async function deploymentHeld(job: Job): Promise<string | undefined> {
    if (job.deployment !== undefined) return job.deployment;
    if (deploymentsFor(job).length === 0) return undefined;
    const pool = await deps.semaphore.state();
    return Object.entries(pool.deployments).find(([, there]) =>
      there.holders.includes(job.jobId),
    )?.[0];
  }

  /** Gives the job's slot back, on its deployment too; true when it held one. */
  async function releaseSlot(job: Job): Promise<boolean> {
    return deps.semaphore.release(job.jobId, ownerOf(job), await deploymentHeld(job));
  }

  /** Frees the job's slot; the one call that freed it hands it on. */
  async function freeSlot(job: Job): Promise<boolean> {
    const freed = await releaseSlot(job);
    if (freed) await handOff();
    return freed;
  }

  /**
   * The deployments a job may take a slot on now, best first: not open (a half-open one only
   * for the job that takes its probe, in takeSlot), under their own cap, the one furthest below its weighted
   * share of the slots first. A remix goes where its source video is. Undefined: the model has
   * no deployments (one slot pool for it).
   */
  async function deploymentOrder(
    job: Job,
    pool: SlotPoolState,
  ): Promise<(DeploymentChoice & { halfOpen: boolean })[] | undefined> {
    let candidates = deploymentsFor(job);
    if (candidates.length === 0) return undefined;
    if (job.remixOfDeployment !== undefined) {
      candidates = candidates.filter((deployment) => deployment.id === job.remixOfDeployment);
    }
    const now = deps.clock();
    const states =
      deps.health === undefined
        ? {}
        : await deps.health.states(
            candidates.map((deployment) => deployment.id),
            now,
          );
    const running = (id: string) => pool.deployments[id]?.holders.length ?? 0;
    const open = candidates
      .filter((deployment) => states[deployment.id] !== 'open')
      .filter(
        (deployment) =>
          deployment.maxConcurrent === undefined ||
          running(deployment.id) < deployment.maxConcurrent,
      )
      .sort(
        (a, b) =>
          (running(a.id) + 1) / a.weight - (running(b.id) + 1) / b.weight || (a.id < b.id ? -1 : 1),
      );
    return open.map((deployment) => ({
      ...deployment,
      halfOpen: states[deployment.id] === 'half_open',
    }));
  }

  /**
   * Takes a slot for the job: on the best deployment that has room, when its model has
   * deployments. Answers the deployment (`null`: the model has none), or false when no slot.
   */
  async function takeSlot(job: Job): Promise<string | null | false> {
    const pool = deploymentsFor(job).length === 0 ? undefined : await deps.semaphore.state();
    if (pool === undefined) {
      return (await deps.semaphore.acquire(job.jobId, ownerShare(job))) ? null : false;
    }
    // Already holding one (a hand-off took it for this job): that deployment's.
    const held = heldIn(pool, job);
    if (held !== undefined) return held;
    for (const deployment of (await deploymentOrder(job, pool)) ?? []) {
      // A half-open deployment takes one job, its probe: taken only when it is this job's turn
      // there, so a probe is not spent on a job another deployment takes.
      if (deployment.halfOpen && !(await deps.health?.takeProbe(deployment.id, deps.clock()))) {
        continue;
      }
      const taken = await deps.semaphore.acquire(job.jobId, {
        ...ownerShare(job),
        deployment: { id: deployment.id, maxConcurrent: deployment.maxConcurrent },
      });
      if (taken) return deployment.id;
    }
    // A concurrent hand-off may have taken one for it since the pool was read (the acquires
    // above were refused for it): that one is its slot.
    return heldIn(await deps.semaphore.state(), job) ?? false;
  }

  /** The deployment the pool holds the job's slot on, if it holds one there. */
  function heldIn(pool: SlotPoolState, job: Job): string | undefined {
    return Object.entries(pool.deployments).find(([, there]) =>
      there.holders.includes(job.jobId),
    )?.[0];
  }

  /**
   * Marks the job's client waiting, its clock caught up with the others' when it was not waiting
   * (back from a rest, it banks no credit: fair-share.ts).
   */
  async function markWaiting(job: Job): Promise<void> {
    const share = job.share ?? DEFAULT_SHARE;
    const client = ownerOf(job);
    const pool = await deps.semaphore.state();
    const catchUp = pool.clients[client]?.waiting
      ? undefined
      : catchUpClock(pool, client, share.weight);
    await deps.semaphore.markWaiting(
      client,
      {
        weight: share.weight,
        ...(share.maxConcurrent === undefined ? {} : { maxConcurrent: share.maxConcurrent }),
      },
      catchUp,
    );
  }

  async function timeOut(job: Job): Promise<boolean> {
    const now = deps.clock();
    // Only if it was never admitted: a job admitted a moment ago goes on (it met its timeout).
    const { job: cancelled, cancelled: changed } = await deps.store.recordCancelled(
      job.jobId,
      now.toISOString(),
      {
        code: START_TIMEOUT,
        message: `Not started within its start timeout of ${job.startTimeoutSeconds} s; nothing was sent to the provider`,
        retryable: true,
      },
      { unlessStarted: true },
    );
    if (!changed) return false;
    logger.info('Start timeout passed before a slot came; cancelled', {
      jobId: job.jobId,
      startTimeoutSeconds: job.startTimeoutSeconds,
    });
    recordMetric('JobsTimedOut');
    // It may hold a slot and a reservation from a hand-off that raced the timeout.
    await deps.budget.release(job.jobId, utcDay(now));
    await freeSlot(job);
    await deps.notify?.(cancelled, 'video.cancelled', now);
    return true;
  }

  /**
   * Takes a slot for a waiting job and starts its next execution holding it. `refused`: no slot
   * for it (the pool is full, or its client at its cap); `skipped`: it no longer waits.
   */
  async function startWaiting(listed: Job): Promise<StartedJob | 'refused' | 'skipped'> {
    const executions = deps.executions;
    if (executions === undefined) return 'refused';
    const slot = await takeSlot(listed);
    if (slot === false) return 'refused';
    // The queue index is eventually consistent: decide on the job as it is now.
    const job = await deps.store.get(listed.jobId);
    const waits = job !== undefined && waitsForSlot(job);
    if (job === undefined || !waits) {
      // Running under another start (whose slot this is, keyed by the job), or ended, or
      // waiting for something else: a slot it does not use now goes back. Not handed off from
      // here: this hand-off goes on to the next job, and a nested one would read the same stale
      // index entry again, and again, for as long as the index lags.
      if (job === undefined || isTerminal(job.status) || job.deferred) {
        await deps.semaphore.release(listed.jobId, ownerOf(listed), slot ?? undefined);
      }
      return 'skipped';
    }
    const now = deps.clock();
    if (startTimedOut(job, now)) {
      await timeOut(job);
      return 'skipped';
    }
    const executionName = nextExecutionName(job);
    if (!(await deps.store.claimDeferred(job.jobId, executionName, now.toISOString()))) {
      return 'skipped';
    }
    try {
      await executions.start(job.jobId, executionName);
    } catch (error) {
      // Back in its queue, slot given back; the next hand-off or the scheduler starts it.
      await deps.store.enqueue(job, deps.clock().toISOString());
      await deps.semaphore.release(job.jobId, ownerOf(job), slot ?? undefined);
      throw error;
    }
    return { jobId: job.jobId, executionName };
  }

  /** The head of one client's queue: started one, found it empty, or could not start it. */
  async function startNextOf(client: string): Promise<StartedJob | 'empty' | 'refused'> {
    const waiting = await deps.store.listWaiting(client, QUEUE_HEAD_READ);
    if (waiting.length === 0) {
      await deps.semaphore.clearWaiting(
        client,
        new Date(deps.clock().getTime() - WAITING_MARK_GRACE_MS).toISOString(),
      );
      return 'empty';
    }
    for (const job of waiting) {
      const outcome = await startWaiting(job);
      if (outcome !== 'skipped') return outcome;
    }
    return 'empty';
  }

  async function handOff(): Promise<StartedJob[]> {
    if (deps.executions === undefined) return [];
    const started: StartedJob[] = [];
    // Clients whose next job was refused a slot: the pool filled since it was read, or the job
    // carries a lower cap than the one its client is marked with (its share changed while it
    // waited). Either way the slot goes on to the next client, not back to this one.
    const refused = new Set<string>();
    // Bounded whatever the backlog: one pool read and one queue read per slot handed out.
    for (let round = 0; round < deps.semaphore.limit + 2; round += 1) {
      const pool = await deps.semaphore.state();
      if (pool.inUse >= pool.limit) break;
      let next: StartedJob | undefined;
      for (const client of fairOrder(pool)) {
        if (refused.has(client)) continue;
        const outcome = await startNextOf(client);
        if (outcome === 'refused') refused.add(client);
        else if (outcome !== 'empty') {
          next = outcome;
          break;
        }
      }
      if (next === undefined) break;
      started.push(next);
    }
    if (started.length > 0) {
      logger.info('Freed slots handed to waiting jobs', {
        started: started.map((start) => start.jobId),
      });
    }
    return started;
  }

  async function overBudget(
    job: Job,
    costUsd: number,
    now: Date,
    refusedBy: 'exceeded' | 'client-exceeded',
  ): Promise<AdmitOutcome> {
    const day = utcDay(now);
    const usage = await deps.budget.usage(day);
    const limitUsd =
      refusedBy === 'client-exceeded' ? (job.share?.dailyBudgetUsd ?? 0) : (usage.limitUsd ?? 0);
    const whose =
      refusedBy === 'client-exceeded'
        ? `client ${ownerOf(job)}'s daily budget`
        : 'the daily budget';
    const committed = usage.reservedUsd + usage.spentUsd;
    const reason =
      refusedBy === 'client-exceeded'
        ? `${whose} of $${usd(limitUsd)} for ${day} (UTC) cannot cover this job's $${usd(costUsd)}`
        : `${whose} of $${usd(limitUsd)} for ${day} (UTC) cannot cover this job's $${usd(costUsd)}: $${usd(committed)} is already reserved or spent`;
    // A job dearer than a whole day's budget would wait for a day that never comes.
    const neverFits = costUsd > limitUsd;
    if (deps.overBudgetAction === 'reject' || neverFits) {
      throw new BudgetExceededError(
        neverFits
          ? `Not started: this job's $${usd(costUsd)} is more than ${whose} of $${usd(limitUsd)}`
          : `Not started: ${reason}`,
      );
    }
    await deps.store.deferJob(job.jobId, 'budget', now.toISOString());
    logger.info('Over budget; deferred to a later scheduled run', {
      costUsd,
      refusedBy,
      limitUsd,
    });
    recordMetric('JobsDeferred', 1, { reason: 'budget' });
    return 'deferred';
  }

  return {
    async admit(job) {
      // A resumed job keeps the slot and reservation of its first admission.
      if (job.providerJobId !== undefined) return 'admitted';
      const now = deps.clock();
      if (startTimedOut(job, now)) {
        await timeOut(job);
        return 'timed_out';
      }
      const slot = await takeSlot(job);
      if (slot === false) {
        await deps.store.enqueue(job, now.toISOString());
        await markWaiting(job);
        logger.info('No free slot for its client; parked until a hand-off starts it', {
          limit: deps.semaphore.limit,
          client: ownerOf(job),
        });
        recordMetric('JobsDeferred', 1, { reason: 'capacity' });
        // A slot freed between the refused acquire and the parking finds it waiting now.
        await handOff();
        return 'parked';
      }
      const costUsd = deps.priceOf(job);
      const reservation = await deps.budget.reserve(
        job.jobId,
        costUsd,
        utcDay(now),
        clientBudget(job),
      );
      if (reservation !== 'reserved') {
        await freeSlot({ ...job, ...(slot === null ? {} : { deployment: slot }) });
        return overBudget(job, costUsd, now, reservation);
      }
      await deps.store.markStarted(job.jobId, now.toISOString(), slot ?? undefined);
      return 'admitted';
    },

    handOff,

    async settleRendered(job, costUsd) {
      const now = deps.clock();
      await deps.budget.recordSpent(job.jobId, costUsd, utcDay(now), ownerOf(job));
      // Settled twice per job (poll, then download): only the release that freed the slot
      // records the duration and hands off.
      const freed = await releaseSlot(job);
      if (!freed) return;
      logger.info('Cost recorded as spent and slot released', { costUsd });
      if (job.startedAt !== undefined && deps.durations !== undefined) {
        const seconds = (now.getTime() - Date.parse(job.startedAt)) / 1000;
        if (seconds > 0) await deps.durations.record(job.model, job.seconds, seconds);
      }
      await handOff();
    },

    async settleAbandoned(job) {
      await settleAbandonedJob(deps.budget, job, utcDay(deps.clock()));
      await freeSlot(job);
    },

    async releaseUnrendered(job) {
      await deps.budget.release(job.jobId, utcDay(deps.clock()));
      if (await freeSlot(job)) logger.info('Slot and budget reservation released');
    },

    async failover(job) {
      const now = deps.clock();
      await deps.budget.release(job.jobId, utcDay(now));
      await deps.store.enqueue(job, now.toISOString(), 'failover');
      await markWaiting(job);
      logger.info('Create refused by its deployment; back in the queue for another', {
        deployment: job.deployment,
      });
      recordMetric('JobsDeferred', 1, { reason: 'failover' });
      await freeSlot(job);
    },

    async returnToSchedule(job) {
      await deps.store.deferJob(job.jobId, 'scheduled', deps.clock().toISOString());
      await deps.budget.release(job.jobId, utcDay(deps.clock()));
      await freeSlot(job);
    },

    async makeAdmissible(job, options = {}) {
      try {
        await deps.store.enqueue(job, deps.clock().toISOString());
      } catch (error) {
        // Started, ended or gone since it was read: not waiting any more.
        logger.info('Not made admissible: no longer waiting', {
          jobId: job.jobId,
          error: error instanceof Error ? error.name : String(error),
        });
        return false;
      }
      if (options.markWaiting !== false) await markWaiting(job);
      return true;
    },

    markWaiting,
    timeOut,

    async recordOrphan({ providerJobId, job, costUsd }) {
      return deps.budget.recordOrphan(
        { providerJobId, attemptedBy: job.jobId, costUsd },
        utcDay(deps.clock()),
      );
    },

    async reclaimLeaked(isLeaked) {
      const released: string[] = [];
      let kept = 0;
      for (const holder of await deps.semaphore.slotHolders()) {
        if (await isLeaked(holder)) {
          await deps.semaphore.release(holder.jobId, holder.client, holder.deployment);
          released.push(holder.jobId);
        } else {
          kept += 1;
        }
      }
      return { released, kept };
    },
  };
}

const usd = (amount: number) => amount.toFixed(2);

/**
 * Settles the budget of a job given up without completing, as the provider left it: its cost is
 * spent when the provider rendered the video or its job was still alive (it may render and
 * charge), and the reservation is released only when the provider never rendered it.
 */
async function settleAbandonedJob(
  budget: Pick<SpendingBudget, 'recordSpent' | 'release'>,
  job: {
    jobId: string;
    providerJobId?: string | undefined;
    providerStatus?: string | undefined;
    actualCostUsd?: number | undefined;
    estimatedCostUsd: number;
  },
  day: string,
): Promise<void> {
  if (job.providerJobId !== undefined && job.providerStatus !== 'failed') {
    await budget.recordSpent(job.jobId, job.actualCostUsd ?? job.estimatedCostUsd, day);
  } else {
    await budget.release(job.jobId, day);
  }
}
