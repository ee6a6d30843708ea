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
 * never a scan of every waiting job.
 */
import { isTerminal, type Job, ownerOf, waitsForSlot } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { queueSortKey } from '../jobs/jobs-table.ts';
import type { ConcurrencySemaphore } from '../limits/limits.ts';
import type { DurationStats } from './duration-stats.ts';
import { othersNeeded, positionInShare } from './fair-share.ts';
import type { JobStanding } from './standing.ts';

export interface StandingDeps {
  store: Pick<JobStore, 'countWaiting' | 'listWaiting'>;
  semaphore: Pick<ConcurrencySemaphore, 'state'>;
  durations: Pick<DurationStats, 'typical'>;
  clock: () => Date;
}

/** Own-queue head read for jobs caught mid-start (a hand-off starts one at a time). */
const HEAD_CHECKED = 3;

/** Counting stops here: a job this deep is shown at this position at most. */
export const MAX_POSITION_COUNTED = 100_000;

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
  const [pool, ahead, head, typical] = await Promise.all([
    deps.semaphore.state(),
    deps.store.countWaiting(client, { before: job, max: MAX_POSITION_COUNTED }),
    deps.store.listWaiting(client, HEAD_CHECKED),
    deps.durations.typical(job.model, job.seconds),
  ]);
  // A hand-off takes a job's slot (moving its client's clock) a moment before it takes the job
  // out of the queue: a job of its own client caught in between counts as started, not ahead.
  const starting = new Set(pool.clients[client]?.holders ?? []);
  if (starting.has(job.jobId)) return { queue: { position: 1, etaSeconds: null } };
  const mine = queueSortKey(job);
  const inFlightAhead = head.filter(
    (waiting) => starting.has(waiting.jobId) && queueSortKey(waiting) < mine,
  ).length;
  const rank = Math.max(1, ahead + 1 - inFlightAhead);
  const waiting = new Map<string, number>();
  await Promise.all(
    Object.entries(pool.clients)
      .filter(([other, slots]) => other !== client && slots.waiting)
      .map(async ([other, slots]) => {
        const max = Math.min(othersNeeded(pool, client, other, rank), MAX_POSITION_COUNTED);
        waiting.set(other, max === 0 ? 0 : await othersWaiting(other, slots.holders, max, deps));
      }),
  );
  const position = positionInShare(pool, client, rank, waiting);
  return {
    queue: { position, etaSeconds: etaOfWaiting(job, position, rank, pool.limit, typical) },
  };
}

/**
 * How many of another client's jobs wait, at most `max`, not counting one caught mid-start: a
 * hand-off takes a slot (moving that client's clock) a moment before it takes the job out of the
 * queue, and counted in between the job would come once more after the clock it already moved,
 * putting the asking job a place further back for that moment.
 */
async function othersWaiting(
  other: string,
  holders: readonly string[] | undefined,
  max: number,
  deps: StandingDeps,
): Promise<number> {
  const holding = new Set(holders ?? []);
  const starting =
    holding.size === 0
      ? 0
      : (await deps.store.listWaiting(other, HEAD_CHECKED)).filter((waiting) =>
          holding.has(waiting.jobId),
        ).length;
  // Still a count bounded by what can come before the job, the starting ones added.
  const count = await deps.store.countWaiting(other, { max: max + starting });
  return Math.max(0, count - starting);
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
