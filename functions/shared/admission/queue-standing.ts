/**
 * Where a job stands (GET /videos/{id}): a job waiting for a slot gets its position among the
 * admissions to come under the current shares and an ETA; a running job an ETA. Estimates come
 * from recent durations of the job's model and seconds (duration-stats.ts), read in the caller's
 * clock (on the local stack, the stack's clock).
 *
 * The position counts, by the clients' virtual clocks (fair-share.ts), the admissions that come
 * before this job: its own client's jobs ahead of it and each other client's share before it.
 * It falls by one with every admission ahead, and grows only when a job is put ahead of it: a
 * higher-priority job of its own client, or another client starting to wait (whose share comes
 * before the far end of a long queue). The reads are counts bounded by the job's own place,
 * never a scan of every waiting job; what a hand-off is starting is left out of them
 * (waitingStanding).
 */
import { isTerminal, type Job, ownerOf, waitsForSlot } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import type { ConcurrencySemaphore, SlotPoolState } from '../limits/limits.ts';
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

/** Reads of the queues between two equal reads of the pool, before one is taken as it is. */
const READ_ATTEMPTS = 3;

export async function standingOf(job: Job, deps: StandingDeps): Promise<JobStanding | undefined> {
  if (isTerminal(job.status)) return undefined;
  if (waitsForSlot(job)) return waitingStanding(job, deps);
  if (job.startedAt === undefined || job.deferred) return undefined;
  const typical = await deps.durations.typical(job.model, job.seconds);
  if (typical === undefined) return { etaSeconds: null };
  const elapsed = (deps.clock().getTime() - Date.parse(job.startedAt)) / 1000;
  return { etaSeconds: Math.max(0, Math.round(typical - elapsed)) };
}

/**
 * A waiting job's place, from the pool and the queues read as of one moment. A hand-off writes
 * twice: it takes the slot (moving its client's clock, adding the job to the holders), then takes
 * the job out of its queue. Queue counts leave out the pool's holders, so a job caught between the
 * two writes counts once, as started; and the pool is read again after the counts, which are
 * read again when it changed meanwhile (a hand-off's slot taken after the first read but its job
 * gone from the queue before the count would otherwise put this job two places up for a moment,
 * and its position would then grow by one).
 */
async function waitingStanding(job: Job, deps: StandingDeps): Promise<JobStanding> {
  const typical = deps.durations.typical(job.model, job.seconds);
  // Awaited once the place is read: handled now, so that a failure meanwhile is not an unhandled
  // rejection (it is thrown where it is awaited).
  typical.catch(() => undefined);
  let pool = await deps.semaphore.state();
  for (let attempt = 1; ; attempt += 1) {
    const place = await placeIn(pool, job, deps);
    const after = await deps.semaphore.state();
    if (attempt < READ_ATTEMPTS && !sameSlots(pool, after)) {
      pool = after;
      continue;
    }
    if (place === 'starting') {
      await typical;
      return { queue: { position: 1, etaSeconds: null } };
    }
    return {
      queue: {
        position: place.position,
        etaSeconds: etaOfWaiting(job, place.position, place.rank, pool.limit, await typical),
      },
    };
  }
}

/** The job's rank in its own queue and its position among every client's, as of `pool`. */
async function placeIn(
  pool: SlotPoolState,
  job: Job,
  deps: StandingDeps,
): Promise<{ rank: number; position: number } | 'starting'> {
  const client = ownerOf(job);
  const starting = pool.clients[client]?.holders ?? [];
  // Its slot is taken: it is being started.
  if (starting.includes(job.jobId)) return 'starting';
  const ahead = await deps.store.countWaiting(client, {
    before: job,
    max: MAX_POSITION_COUNTED,
    excluding: starting,
  });
  const rank = ahead + 1;
  const waiting = new Map<string, number>();
  await Promise.all(
    Object.entries(pool.clients)
      .filter(([other, slots]) => other !== client && slots.waiting)
      .map(async ([other, slots]) => {
        const max = Math.min(othersNeeded(pool, client, other, rank), MAX_POSITION_COUNTED);
        // Still a count bounded by what can come before the job.
        const count =
          max === 0 ? 0 : await deps.store.countWaiting(other, { max, excluding: slots.holders });
        waiting.set(other, count);
      }),
  );
  return { rank, position: positionInShare(pool, client, rank, waiting) };
}

/** Whether two reads of the pool agree on every client's clock, holders and waiting mark. */
function sameSlots(a: SlotPoolState, b: SlotPoolState): boolean {
  const summary = (pool: SlotPoolState) =>
    JSON.stringify(
      Object.entries(pool.clients)
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
        .map(([name, slots]) => [
          name,
          slots.virtualClock,
          [...slots.holders].sort(),
          slots.waiting,
        ]),
    );
  return summary(a) === summary(b);
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
