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

/** Parked for a slot (not for the schedule or the budget). */
export const waitsForCapacity = (job: Job): boolean =>
  job.deferred && job.deferredReason === 'capacity';

const PAGE_SIZE = 100;

/** QUEUED jobs a hand-off looks at, oldest first, before it gives up until the next one. */
const MAX_READ = 1000;

/**
 * Starts the oldest jobs parked for a slot, one slot each, until no slot is free. Returns the ids
 * of the jobs started. Safe to run concurrently: the slot is keyed by the job and the start is
 * claimed with a conditional write (claimDeferred), so a job starts once.
 */
export async function dispatchWaiting(deps: JobQueueDeps): Promise<string[]> {
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
      if (!waitsForCapacity(listed)) continue;
      const outcome = await startParked(deps, listed.jobId);
      if (outcome === 'no-slot') return started;
      if (outcome !== 'skipped') started.push(listed.jobId);
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined && read < MAX_READ);
  return started;
}

/**
 * Takes a slot for one parked job and starts its next execution, answering its name. `skipped`
 * when the job is no longer waiting (another dispatcher started it, or it ended).
 */
export async function startParked(
  deps: JobQueueDeps,
  jobId: string,
  accepts: (job: Job) => boolean = waitsForCapacity,
): Promise<{ executionName: string } | 'skipped' | 'no-slot'> {
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
  return { executionName };
}

/**
 * Admits a job about to run: takes its slot, or parks it (QUEUED, deferred `capacity`) for a
 * hand-off. A slot freed between the failed acquire and the parking would find nobody waiting,
 * so the slot is asked for once more after parking; true when the job got it and may run, under
 * `executionName`, now.
 */
export async function admitOrPark(
  deps: Pick<JobQueueDeps, 'store' | 'clock'> & {
    semaphore: Pick<ConcurrencySemaphore, 'acquire'>;
  },
  jobId: string,
  executionName: string,
): Promise<boolean> {
  if (await deps.semaphore.acquire(jobId)) return true;
  const at = deps.clock().toISOString();
  await deps.store.deferJob(jobId, 'capacity', at);
  return (
    (await deps.semaphore.acquire(jobId)) &&
    (await deps.store.claimDeferred(jobId, executionName, at))
  );
}
