import {
  type Admission,
  type AdmissionDeps,
  createAdmission,
  startTimedOut,
} from '../admission/admission.ts';
import { isQueueReason, isTerminal, type Job, type JobStatus, ownerOf } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import type { ConcurrencySemaphore, SpendingBudget } from '../limits/limits.ts';
import { toMicroUsd, utcDay } from '../limits/limits-table.ts';
import { type NotifyWebhook, noWebhooks } from '../webhooks/notify-webhook.ts';
import type { WebhookEvent } from '../webhooks/webhook-events.ts';
import { hasProviderWork, resumeJob } from '../workflow/resume-job.ts';
import {
  currentExecutionName,
  type ExecutionState,
  isLive,
  type WorkflowExecutions,
} from './workflow-executions.ts';

/** The error code of a job whose workflow ended (or vanished) without recording an outcome. */
export const EXECUTION_LOST = 'execution_lost';

export interface SchedulerSettings {
  /**
   * A QUEUED job whose execution does not exist is left alone this long after its last change:
   * the submitter may still be between writing the job and starting it.
   */
  startGraceSeconds: number;
  /** IN_PROGRESS jobs the sweep looks at per run (oldest first). */
  maxInProgressChecked: number;
  /** QUEUED jobs read per run (oldest first), deferred or not: the sweep's and the starts' pool. */
  maxQueuedRead: number;
  /** Deferred jobs made admissible (put in their client's queue) per run at most. */
  maxStartsPerRun: number;
  /** Jobs of each ending (COMPLETED, FAILED, CANCELLED) whose webhook is checked per run (newest first). */
  maxEndedChecked: number;
  /**
   * An ending's webhook event is queued again when the job's record shows no delivery of it this
   * long after the job ended (its own queueing had its chance) ...
   */
  webhookRequeueAfterSeconds: number;
  /** ... and no longer than this after it ended. */
  webhookRequeueWindowSeconds: number;
}

export const DEFAULT_SCHEDULER_SETTINGS: SchedulerSettings = {
  startGraceSeconds: 300,
  maxInProgressChecked: 200,
  maxQueuedRead: 1000,
  maxStartsPerRun: 1000,
  maxEndedChecked: 50,
  webhookRequeueAfterSeconds: 120,
  webhookRequeueWindowSeconds: 3600,
};

export interface SchedulerDeps {
  store: JobStore;
  executions: WorkflowExecutions;
  semaphore: ConcurrencySemaphore;
  budget: SpendingBudget;
  clock: () => Date;
  settings?: Partial<SchedulerSettings>;
  /** Announces `video.failed` of a job the sweep closes (absent: no webhooks). */
  notify?: NotifyWebhook;
  /** Each model's provider deployments, where hand-offs place slots (absent: none). */
  deploymentsOf?: AdmissionDeps['deploymentsOf'];
  /** The deployments' circuit breakers (absent: all taken as healthy). */
  health?: AdmissionDeps['health'];
  /** Every deployment of the catalogue: each run reports their states (the DeploymentsOpen gauge). */
  reportDeploymentStates?: () => Promise<void>;
}

export interface SchedulerSummary {
  /** Jobs whose execution was looked up. */
  checked: number;
  /** Jobs closed as FAILED (`execution_lost`): their execution ended without an outcome. */
  reconciled: string[];
  /** Jobs whose execution died with provider work alive: a new execution continues them. */
  resumed: string[];
  /** QUEUED jobs that were never started, put back in their client's queue. */
  requeued: string[];
  /** Jobs deferred for the schedule (or the budget) that joined their client's queue. */
  admissible: string[];
  /** Waiting jobs cancelled because their start timeout passed. */
  timedOut: string[];
  /** Slots given back: held by finished jobs or jobs without a live execution. */
  releasedSlots: string[];
  /** Waiting jobs the run's hand-off started, with their execution names. */
  started: { jobId: string; executionName: string }[];
  /** Slots free for waiting jobs after the sweep (limit - holders). */
  freeSlots: number;
  /** Jobs deferred for the budget left waiting because today's budget cannot cover them. */
  overBudget: number;
  /**
   * Ended jobs whose ending's webhook event was queued again: their record showed no delivery of
   * it (a delivery queued already is refused by its name, so none is sent twice).
   */
  webhooksRequeued: string[];
  /**
   * Gauges for the dashboard and alarms, as this run left things: waiting jobs (parked or
   * deferred, of the oldest `maxQueuedRead` read), the age of the oldest one, slots held, and
   * today's spending (spent plus reserved) against the budget (null without one).
   */
  gauges: {
    waiting: number;
    oldestWaitingSeconds: number;
    inFlight: number;
    spentTodayUsd: number;
    dailyBudgetUsd: number | null;
  };
}

/**
 * One scheduled run: (1) sweep jobs that are not terminal but whose execution is gone: resume the
 * ones with provider work (a new execution continues from the record), close or requeue the
 * others, (2) give back slots nobody holds any more, (3) put jobs deferred for the schedule in
 * their client's queue, cancel waiting jobs past their start timeout, and hand the free slots to
 * waiting jobs by fair share: the backstop of the hand-off a freed slot makes, (4) queue again
 * the ending webhook of a recently ended job whose record shows no delivery of it: the backstop
 * of webhook queueing. Work per run is bounded; what is left is picked up by the next run. Safe
 * to run twice at once: every write is conditional (claimDeferred, claimResume, recordFailed on
 * a non-terminal job, idempotent releases), and a deferred job is read again before it is queued.
 */
export async function runScheduler(deps: SchedulerDeps): Promise<SchedulerSummary> {
  const settings = { ...DEFAULT_SCHEDULER_SETTINGS, ...deps.settings };
  const states = new Map<string, ExecutionState>();
  const stateOf = async (name: string) => {
    let state = states.get(name);
    if (state === undefined) {
      state = await deps.executions.state(name);
      states.set(name, state);
    }
    return state;
  };
  const summary: SchedulerSummary = {
    checked: 0,
    reconciled: [],
    resumed: [],
    requeued: [],
    admissible: [],
    timedOut: [],
    releasedSlots: [],
    started: [],
    freeSlots: 0,
    overBudget: 0,
    webhooksRequeued: [],
    gauges: {
      waiting: 0,
      oldestWaitingSeconds: 0,
      inFlight: 0,
      spentTodayUsd: 0,
      dailyBudgetUsd: null,
    },
  };

  const admission = createAdmission({
    store: deps.store,
    semaphore: deps.semaphore,
    budget: deps.budget,
    // The scheduler admits nobody itself (the AdmitJob step does): these two are never used.
    overBudgetAction: 'queue',
    priceOf: (job) => job.estimatedCostUsd,
    clock: deps.clock,
    // Every hand-off of the run is reported, the ones a settlement in the sweep makes included.
    executions: notingStarts(deps.executions, summary.started),
    notify: deps.notify,
    // Its hand-offs place slots on deployments like any other: a slot taken without one would
    // let the job's admission take it for whichever deployment it picks, uncounted there.
    deploymentsOf: deps.deploymentsOf,
    health: deps.health,
  });
  const inProgress = await oldest(deps.store, 'IN_PROGRESS', settings.maxInProgressChecked);
  const queued = await oldest(deps.store, 'QUEUED', settings.maxQueuedRead);
  await sweep(
    deps,
    admission,
    settings,
    [...inProgress, ...queued.filter((job) => !job.deferred)],
    stateOf,
    summary,
  );
  const holders = await releaseLeakedSlots(deps, admission, stateOf, summary);
  summary.freeSlots = Math.max(0, deps.semaphore.limit - holders);
  await admitDeferred(
    deps,
    admission,
    settings,
    queued.filter((job) => job.deferred),
    summary,
  );
  await admission.handOff();
  await requeueEndingWebhooks(deps, settings, summary);
  await deps.reportDeploymentStates?.();
  summary.checked = states.size;
  summary.gauges = await gaugesAfter(deps, queued, summary);
  return summary;
}

/** The webhook event each ending announces. */
const ENDING_EVENTS = [
  ['COMPLETED', 'video.completed'],
  ['FAILED', 'video.failed'],
  ['CANCELLED', 'video.cancelled'],
] as const satisfies readonly (readonly [JobStatus, WebhookEvent])[];

/**
 * The backstop of webhook queueing, which is best effort where a job ends (a failed
 * StartExecution is logged and counted, not retried): a job that ended a little while ago and
 * asked for its ending's event, but whose record shows no delivery of that event, has it queued
 * again, with the time it ended. Queueing is idempotent by name (the delivery execution is named
 * by the webhook-id), so an event that was queued (and perhaps delivered, with a later event's
 * delivery recorded since) is refused, never sent twice.
 */
async function requeueEndingWebhooks(
  deps: SchedulerDeps,
  settings: SchedulerSettings,
  summary: SchedulerSummary,
): Promise<void> {
  if (deps.notify === undefined) return;
  const now = deps.clock().getTime();
  for (const [status, event] of ENDING_EVENTS) {
    const { jobs } = await deps.store.list({
      status,
      order: 'desc',
      limit: settings.maxEndedChecked,
    });
    for (const job of jobs) {
      if (job.webhook === undefined || !job.webhook.events.includes(event)) continue;
      if (job.lastWebhookDelivery?.event === event) continue;
      const endedAt = Date.parse(job.updatedAt);
      const age = (now - endedAt) / 1000;
      if (
        !(age >= settings.webhookRequeueAfterSeconds && age <= settings.webhookRequeueWindowSeconds)
      ) {
        continue;
      }
      await deps.notify(job, event, new Date(endedAt));
      summary.webhooksRequeued.push(job.jobId);
    }
  }
}

async function gaugesAfter(
  deps: SchedulerDeps,
  queued: readonly Job[],
  summary: SchedulerSummary,
): Promise<SchedulerSummary['gauges']> {
  const now = deps.clock();
  const started = new Set(summary.started.map((start) => start.jobId));
  const requeued = new Set(summary.requeued);
  const timedOut = new Set(summary.timedOut);
  // Waiting as the run left them: the sweep's requeued jobs joined, the started and the
  // cancelled left (a cancelled job counted would hold the oldest-waiting age up).
  const waiting = queued.filter(
    (job) =>
      (job.deferred || requeued.has(job.jobId)) &&
      !started.has(job.jobId) &&
      !timedOut.has(job.jobId),
  );
  // Oldest first (`oldest` reads in ascending creation order).
  const oldest = waiting[0];
  const [usage, pool] = await Promise.all([deps.budget.usage(utcDay(now)), deps.semaphore.state()]);
  return {
    waiting: waiting.length,
    oldestWaitingSeconds: oldest
      ? Math.max(0, Math.round((now.getTime() - Date.parse(oldest.createdAt)) / 1000))
      : 0,
    // Read after the run's hand-offs: some started before the leaked slots were counted.
    inFlight: pool.inUse,
    spentTodayUsd: usage.spentUsd + usage.reservedUsd,
    dailyBudgetUsd: usage.limitUsd,
  };
}

/** Resumes, closes or requeues jobs that are not terminal but have no live execution. */
async function sweep(
  deps: SchedulerDeps,
  admission: Admission,
  settings: SchedulerSettings,
  candidates: readonly Job[],
  stateOf: (name: string) => Promise<ExecutionState>,
  summary: SchedulerSummary,
): Promise<void> {
  for (const listed of candidates) {
    // The index is eventually consistent: decide on the job as it is now.
    const job = await deps.store.get(listed.jobId);
    if (job === undefined || isTerminal(job.status) || job.deferred) continue;
    const state = await stateOf(currentExecutionName(job));
    if (isLive(state)) continue;
    const now = deps.clock();
    if (state === 'NOT_FOUND' && job.status === 'QUEUED') {
      const age = (now.getTime() - Date.parse(job.updatedAt)) / 1000;
      if (!(age >= settings.startGraceSeconds)) continue;
      // An API caller without an idempotency key was told its first start failed and may have
      // submitted again: running this job now could pay twice. Anything else was meant to run,
      // including an API job a hand-off was starting (its caller was told it was accepted).
      const firstStart = job.executionName === undefined || job.executionName === job.jobId;
      if (job.source === 'api' && job.idempotencyKey === undefined && firstStart) {
        await reconcile(
          deps,
          admission,
          job,
          'Its workflow was never started; submit it again',
          now,
        );
        summary.reconciled.push(job.jobId);
      } else if (await admission.makeAdmissible(job)) {
        // Back in its client's queue: the next hand-off (this run's included) starts it.
        summary.requeued.push(job.jobId);
      }
      continue;
    }
    // Paid work goes on: a new execution continues from the record (poll, download).
    if (hasProviderWork(job)) {
      const outcome = await resumeJob(
        { store: deps.store, executions: deps.executions, clock: deps.clock },
        job,
      );
      if (outcome === 'resumed') {
        summary.resumed.push(job.jobId);
        continue;
      }
    }
    const how = state === 'NOT_FOUND' ? 'no longer exists' : `ended ${state}`;
    await reconcile(
      deps,
      admission,
      job,
      `Its workflow execution ${how} without recording an outcome`,
      now,
    );
    summary.reconciled.push(job.jobId);
  }
}

/**
 * Records the job FAILED (retryable) and gives back what it held. Money follows the provider: a
 * job that holds a provider job may have been rendered, so its cost counts as spent.
 */
async function reconcile(
  deps: SchedulerDeps,
  admission: Admission,
  job: Job,
  message: string,
  now: Date,
): Promise<void> {
  const failed = await deps.store.recordFailed(
    job.jobId,
    { code: EXECUTION_LOST, message, retryable: true },
    now.toISOString(),
  );
  await admission.settleAbandoned(job);
  // Only when this run closed it (a job that ended meanwhile announced its own ending). The
  // notifier never throws: a delivery that cannot be queued is logged and counted.
  if (failed !== undefined) await (deps.notify ?? noWebhooks)(failed, 'video.failed', now);
}

/**
 * Gives back slots whose job is gone, finished, or waiting parked without an execution; a job
 * with provider work keeps its slot (the sweep resumed it, or its execution is live). Returns the
 * holders left.
 */
async function releaseLeakedSlots(
  deps: SchedulerDeps,
  admission: Admission,
  stateOf: (name: string) => Promise<ExecutionState>,
  summary: SchedulerSummary,
): Promise<number> {
  const { released, kept } = await admission.reclaimLeaked(async (holder) => {
    const job = await deps.store.get(holder.jobId);
    return (
      job === undefined ||
      isTerminal(job.status) ||
      (!hasProviderWork(job) && !isLive(await stateOf(currentExecutionName(job))))
    );
  });
  summary.releasedSlots.push(...released);
  return kept;
}

/**
 * The schedule fires: jobs deferred for it (and for the budget, while today's remaining budget
 * can cover them) join their client's queue, oldest first, and flow through hand-offs like any
 * waiting job, so no slot idles while admissible work waits. Jobs already waiting for a slot
 * have their client marked waiting again (the backstop of a lost mark); jobs past their start
 * timeout are cancelled.
 */
async function admitDeferred(
  deps: SchedulerDeps,
  admission: Admission,
  settings: SchedulerSettings,
  deferred: readonly Job[],
  summary: SchedulerSummary,
): Promise<void> {
  if (deferred.length === 0) return;
  const now = deps.clock();
  const usage = await deps.budget.usage(utcDay(now));
  // In micro-dollars, as the budget counts: float dollars would refuse a job that fits exactly.
  let budgetLeft =
    usage.limitUsd === null
      ? Number.POSITIVE_INFINITY
      : toMicroUsd(usage.limitUsd) - toMicroUsd(usage.reservedUsd) - toMicroUsd(usage.spentUsd);
  const marked = new Set<string>();
  // What each client's own budget has left today, read once per client that has one.
  const clientLeft = new Map<string, number>();
  const leftOf = async (client: string, limitUsd: number) => {
    let left = clientLeft.get(client);
    if (left === undefined) {
      const part = await deps.budget.clientUsage(client, utcDay(now));
      left = toMicroUsd(limitUsd) - toMicroUsd(part.reservedUsd) - toMicroUsd(part.spentUsd);
      clientLeft.set(client, left);
    }
    return left;
  };
  let room = settings.maxStartsPerRun;
  for (const listed of deferred) {
    // Listed before the sweep: another run's hand-off may have started it since. Queued again
    // it would run twice; "timed out" it would be cancelled while it runs.
    const job = await deps.store.get(listed.jobId);
    if (job?.status !== 'QUEUED' || !job.deferred) continue;
    if (startTimedOut(job, now)) {
      if (await admission.timeOut(job)) summary.timedOut.push(job.jobId);
      continue;
    }
    if (isQueueReason(job.deferredReason)) {
      if (!marked.has(ownerOf(job))) await admission.markWaiting(job);
      marked.add(ownerOf(job));
      continue;
    }
    if (room === 0) continue;
    if (job.deferredReason === 'budget') {
      // Room in both budgets, as admission will ask: a job its client's own budget holds back
      // stays deferred, not started only to be deferred again.
      const own = job.share?.dailyBudgetUsd;
      const ownLeft = own === undefined ? undefined : await leftOf(ownerOf(job), own);
      const cost = toMicroUsd(job.estimatedCostUsd);
      if (cost > budgetLeft || (ownLeft !== undefined && cost > ownLeft)) {
        summary.overBudget += 1;
        continue;
      }
      budgetLeft -= cost;
      if (ownLeft !== undefined) clientLeft.set(ownerOf(job), ownLeft - cost);
    }
    // Its client is marked waiting once, not once per job: a 1,000-line batch is one client.
    if (await admission.makeAdmissible(job, { markWaiting: false })) {
      if (!marked.has(ownerOf(job))) await admission.markWaiting(job);
      marked.add(ownerOf(job));
      summary.admissible.push(job.jobId);
      room -= 1;
    }
  }
}

/** The executions, noting in `started` each start made through them. */
function notingStarts(
  executions: WorkflowExecutions,
  started: SchedulerSummary['started'],
): WorkflowExecutions {
  return {
    state: (executionName) => executions.state(executionName),
    async start(jobId, executionName) {
      const outcome = await executions.start(jobId, executionName);
      started.push({ jobId, executionName });
      return outcome;
    },
  };
}

/** Up to `limit` jobs of a status, oldest first, a page of at most 100 at a time. */
async function oldest(store: JobStore, status: JobStatus, limit: number): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({
      status,
      order: 'asc',
      limit: Math.min(100, limit - jobs.length),
      ...(cursor === undefined ? {} : { cursor }),
    });
    jobs.push(...page.jobs);
    cursor = page.nextCursor;
  } while (cursor !== undefined && jobs.length < limit);
  return jobs;
}
