/**
 * The waiting queue: jobs that could not get a concurrency slot wait PARKED (QUEUED, deferred
 * with reason `capacity`) with no execution running, so waiting costs nothing. Whoever frees a
 * slot hands it off at once to the oldest waiting job(s) (first come, first served across the
 * API, the drop folder and batches); the scheduler's run is the backstop for a hand-off that was
 * lost (a crash between release and start).
 *
 * A slot is taken for the waiting job BEFORE its execution starts, so a freed slot goes to the
 * oldest job rather than to whichever execution asks first.
 */
import { isTerminal, type Job } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import type { ConcurrencySemaphore } from '../limits/limits.ts';
import { nextExecutionName, type WorkflowExecutions } from '../scheduler/workflow-executions.ts';

export interface JobQueueDeps {
  store: JobStore;
  semaphore: ConcurrencySemaphore;
  executions: WorkflowExecutions;
  clock: () => Date;
}

export interface DispatchOptions {
  /** Which parked jobs may take a slot: `capacity` ones (a hand-off), or every waiting reason the scheduler starts. */
  accepts?: (job: Job) => boolean;
  /** Stop after this many starts. */
  maxStarts?: number;
  /** QUEUED jobs looked at per call, oldest first. */
  maxRead?: number;
}

const PAGE_SIZE = 100;

/** Parked for a slot (not for the schedule or the budget). */
export const waitsForCapacity = (job: Job): boolean =>
  job.deferred && job.deferredReason === 'capacity';

/**
 * Starts the oldest parked jobs `accepts` admits, one slot each, until no slot is free. Returns
 * the ids of the jobs started. Safe to run concurrently: the slot is keyed by the job and the
 * start is claimed with a conditional write (claimDeferred), so a job starts once.
 */
export async function dispatchWaiting(
  deps: JobQueueDeps,
  options: DispatchOptions = {},
): Promise<string[]> {
  const accepts = options.accepts ?? waitsForCapacity;
  const maxStarts = options.maxStarts ?? deps.semaphore.limit;
  const maxRead = options.maxRead ?? 1000;
  const started: string[] = [];
  let read = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.store.list({
      status: 'QUEUED',
      order: 'asc',
      limit: PAGE_SIZE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const listed of page.jobs) {
      read += 1;
      if (!accepts(listed)) continue;
      const outcome = await startParked(deps, listed.jobId, accepts);
      if (outcome === 'no-slot') return started;
      if (outcome === 'started') started.push(listed.jobId);
      if (started.length >= maxStarts) return started;
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined && read < maxRead);
  return started;
}

/**
 * Takes a slot for one parked job and starts its next execution. `skipped` when the job is no
 * longer waiting (another dispatcher started it, or it ended).
 */
export async function startParked(
  deps: JobQueueDeps,
  jobId: string,
  accepts: (job: Job) => boolean = waitsForCapacity,
): Promise<'started' | 'skipped' | 'no-slot'> {
  if (!(await deps.semaphore.acquire(jobId))) return 'no-slot';
  // The index is eventually consistent: decide on the job as it is now.
  const job = await deps.store.get(jobId);
  if (job === undefined || isTerminal(job.status)) {
    await deps.semaphore.release(jobId);
    return 'skipped';
  }
  // Started by someone else meanwhile: the slot is keyed by the job, so it is that start's slot.
  if (job.status !== 'QUEUED' || !accepts(job)) return 'skipped';
  const executionName = nextExecutionName(job);
  if (!(await deps.store.claimDeferred(jobId, executionName, deps.clock().toISOString()))) {
    return 'skipped';
  }
  try {
    await deps.executions.start(jobId, executionName);
  } catch (error) {
    // Back in the queue, slot given back; the next hand-off or the scheduler starts it.
    await deps.store.deferJob(jobId, job.deferredReason ?? 'capacity', deps.clock().toISOString());
    await deps.semaphore.release(jobId);
    throw error;
  }
  return 'started';
}
