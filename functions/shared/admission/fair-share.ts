/**
 * The weighted fair share of slots, as a virtual clock per client (start-time fair queueing,
 * deficit round robin's continuous form): every slot a client's jobs take moves its clock on by
 * 1 / weight, and a freed slot goes to the waiting client whose next tick (`clock + 1 / weight`)
 * comes first; ties go to the client whose name sorts first. A client alone gets every slot; two
 * clients of weights 2 and 1 that both keep work waiting are admitted 2:1. A client that starts
 * waiting after a rest has its clock moved up to the others' (admission.ts), so it banks no
 * credit from its idle time. Within a client, jobs go by priority, then first come (the byQueue
 * index's order).
 *
 * Because the order is decided by the clocks alone, where a waiting job stands can be counted
 * exactly (positionInShare): with no new arrivals, every admission ahead of it moves it up one.
 */
import type { ClientSlots, SlotPoolState } from '../limits/limits.ts';

/** Slack for float clocks: ticks this close are one instant. */
const EPSILON = 1e-9;

const nextTick = (client: Pick<ClientSlots, 'virtualClock' | 'weight'>) =>
  client.virtualClock + 1 / client.weight;

const atCap = (client: ClientSlots) =>
  client.maxConcurrent !== undefined && client.running >= client.maxConcurrent;

/** The clients a freed slot may go to, best first: waiting, and under their cap. */
export function fairOrder(pool: SlotPoolState): string[] {
  return Object.entries(pool.clients)
    .filter(([, client]) => client.waiting && !atCap(client))
    .sort(([nameA, a], [nameB, b]) => {
      const byTick = nextTick(a) - nextTick(b);
      if (Math.abs(byTick) > EPSILON) return byTick;
      return nameA < nameB ? -1 : nameA > nameB ? 1 : 0;
    })
    .map(([name]) => name);
}

/**
 * The virtual time a client that starts waiting catches up to: the earliest next tick among the
 * others waiting, less its own tick, so it comes in level with them (undefined: nobody waits).
 */
export function catchUpClock(
  pool: SlotPoolState,
  client: string,
  weight: number,
): number | undefined {
  const ticks = Object.entries(pool.clients)
    .filter(([name, other]) => name !== client && other.waiting)
    .map(([, other]) => nextTick(other));
  if (ticks.length === 0) return undefined;
  return Math.min(...ticks) - 1 / weight;
}

const slotsOf = (pool: Pick<SlotPoolState, 'clients'>, client: string) =>
  pool.clients[client] ?? { virtualClock: 0, weight: 1 };

/**
 * How many of `other`'s admissions come before the `rank`-th of `target` (1 = its next), by the
 * clocks: other's j-th tick `clock + j / weight` comes first when it is earlier, or equal with
 * `other` sorting first. At most `waiting` (the jobs other has waiting).
 */
function admissionsBefore(
  pool: Pick<SlotPoolState, 'clients'>,
  target: string,
  rank: number,
  other: string,
  waiting: number,
): number {
  const mine = slotsOf(pool, target);
  const theirs = slotsOf(pool, other);
  const tick = mine.virtualClock + rank / mine.weight;
  // j < (tick - clock) * weight, or <= on a tie that `other` wins.
  const bound = (tick - theirs.virtualClock) * theirs.weight;
  const rounded = Math.round(bound);
  const tie = Math.abs(bound - rounded) <= EPSILON;
  const count = tie ? (other < target ? rounded : rounded - 1) : Math.ceil(bound) - 1;
  return Math.max(0, Math.min(waiting, count));
}

/**
 * Where the `rank`-th waiting job of client `target` (1 = its next) stands among the admissions
 * to come: its own `rank`, plus every other waiting client's admissions whose ticks come first.
 * Caps are left out: a capped client is admitted later, never earlier.
 */
export function positionInShare(
  pool: Pick<SlotPoolState, 'clients'>,
  target: string,
  rank: number,
  waiting: ReadonlyMap<string, number>,
): number {
  let position = rank;
  for (const [other, count] of waiting) {
    if (other !== target) position += admissionsBefore(pool, target, rank, other, count);
  }
  return position;
}

/**
 * The most of `other`'s waiting jobs that can come before the target's `rank`-th: how far the
 * counts of its queue need to read (bounded by the target's own rank, never the whole backlog).
 */
export function othersNeeded(
  pool: Pick<SlotPoolState, 'clients'>,
  target: string,
  other: string,
  rank: number,
): number {
  return admissionsBefore(pool, target, rank, other, Number.MAX_SAFE_INTEGER);
}
