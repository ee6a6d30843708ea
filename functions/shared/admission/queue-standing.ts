/**
 * Where a job stands (GET /videos/{id}): a job waiting for a slot gets its position among the
 * admissions to come under the current shares and an ETA; a running job an ETA. Estimates come
 * from recent durations of the job's model and seconds (duration-stats.ts), read in the caller's
 * clock (on the local stack, the stack's clock).
 *
 * The position plays the fair share forward (fair-share.ts) from the slots each client holds and
 * the jobs it has waiting; it falls as jobs ahead start, and grows only when a job is put ahead
 * of this one: a higher-priority job of its own client, or another client starting to wait,
 * whose share comes before the deeper end of a long queue. The reads are counts bounded by the
 * job's own place (never a scan of every waiting job).
 */
import { isTerminal, type Job, ownerOf } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import type { ConcurrencySemaphore } from '../limits/limits.ts';
import type { DurationStats } from './duration-stats.ts';
import { othersNeeded, positionInShare } from './fair-share.ts';
import type { JobStanding } from './standing.ts';

export interface StandingDeps {
  store: Pick<JobStore, 'countWaiting'>;
  semaphore: Pick<ConcurrencySemaphore, 'state'>;
  durations: Pick<DurationStats, 'typical'>;
  clock: () => Date;
}

/** Counting stops here: a job this deep is shown at this position at most. */
export const MAX_POSITION_COUNTED = 100_000;

/** A job waiting for a slot, parked in its client's queue. */
export const waitsForSlot = (job: Job): boolean =>
  job.status === 'QUEUED' && job.deferred && job.deferredReason === 'capacity';

export async function standingOf(job: Job, deps: StandingDeps): Promise<JobStanding | undefined> {
  if (isTerminal(job.status)) return undefined;
  if (waitsForSlot(job)) return waitingStanding(job, deps);
  if (job.startedAt === undefined || job.deferred) return undefined;
  const typical = await deps.durations.typical(job.model, job.seconds);
  if (typical === undefined) return { etaSeconds: null };
  const elapsed = (deps.clock().getTime() - Date.parse(job.startedAt)) / 1000;
  return { etaSeconds: Math.max(0, Math.round(typical - elapsed)) };
}

async function waitingStanding(job: Job, deps: StandingDeps): Promise<JobStanding> {
  const client = ownerOf(job);
  const [pool, ahead, typical] = await Promise.all([
    deps.semaphore.state(),
    deps.store.countWaiting(client, { before: job, max: MAX_POSITION_COUNTED }),
    deps.durations.typical(job.model, job.seconds),
  ]);
  const rank = ahead + 1;
  const waiting = new Map<string, number>();
  await Promise.all(
    Object.entries(pool.clients)
      .filter(([other, slots]) => other !== client && slots.waiting)
      .map(async ([other]) => {
        const max = Math.min(othersNeeded(pool, client, other, rank), MAX_POSITION_COUNTED);
        waiting.set(other, await deps.store.countWaiting(other, { max }));
      }),
  );
  const position = positionInShare(pool, client, rank, waiting);
  return {
    queue: { position, etaSeconds: etaOfWaiting(job, position, rank, pool.limit, typical) },
  };
}

/**
 * Slots free at about `limit` per typical duration: the job starts after `position` of them (or
 * after its client's cap lets `rank` of its own through), then runs for a typical duration.
 */
export function etaOfWaiting(
  job: Pick<Job, 'share'>,
  position: number,
  rank: number,
  limit: number,
  typical: number | undefined,
): number | null {
  if (typical === undefined) return null;
  const cap = job.share?.maxConcurrent;
  const rounds = Math.max(position / Math.max(1, limit), cap === undefined ? 0 : rank / cap);
  return Math.round((rounds + 1) * typical);
}
