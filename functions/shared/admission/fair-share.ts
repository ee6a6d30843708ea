/**
 * The weighted fair share of slots: when a slot frees, it goes to the client with waiting jobs
 * that is furthest below its share, measured as the slots it would hold after this one divided
 * by its weight. A client alone gets every slot; two clients of weights 2 and 1 that both keep
 * work waiting settle at holding 2:1 of the slots. Ties go to the client served longest ago.
 * Within a client, jobs go by priority, then first come (the byQueue index's order).
 *
 * This is deficit round robin over per-client queues with every job costing one slot: a
 * client's deficit is how far its slots held fall below its weighted share.
 */
import type { ClientSlots, SlotPoolState } from '../limits/limits.ts';

/** The clients a freed slot may go to, best first: waiting, and under their cap. */
export function fairOrder(pool: SlotPoolState): string[] {
  return Object.entries(pool.clients)
    .filter(([, client]) => client.waiting && !atCap(client))
    .sort(([nameA, a], [nameB, b]) => compareShares(a, b) || compareNames(nameA, nameB))
    .map(([name]) => name);
}

const atCap = (client: ClientSlots) =>
  client.maxConcurrent !== undefined && client.running >= client.maxConcurrent;

/** Slots held after one more, per unit of weight: the lower, the further below its share. */
const shareAfterNext = (client: Pick<ClientSlots, 'running' | 'weight'>) =>
  (client.running + 1) / client.weight;

function compareShares(a: ClientSlots, b: ClientSlots): number {
  const byShare = shareAfterNext(a) - shareAfterNext(b);
  if (byShare !== 0) return byShare;
  // Never served sorts first; ISO times sort as strings.
  const servedA = a.lastServedAt ?? '';
  const servedB = b.lastServedAt ?? '';
  return servedA < servedB ? -1 : servedA > servedB ? 1 : 0;
}

const compareNames = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Where the `rank`-th waiting job of client `target` (1 = its next) stands among every
 * admission to come: the admissions are played forward by the same rule as `fairOrder`, from
 * the slots each client holds now, each client admitting at most the jobs it has waiting. Ties
 * go to the other client (the position is never better than what happens). Caps are left out:
 * a capped client admits its jobs later, never earlier.
 */
export function positionInShare(
  pool: Pick<SlotPoolState, 'clients'>,
  target: string,
  rank: number,
  waiting: ReadonlyMap<string, number>,
): number {
  const running = new Map<string, number>();
  const left = new Map<string, number>();
  const weight = (client: string) => pool.clients[client]?.weight ?? 1;
  for (const [client, count] of waiting) {
    if (client === target || count <= 0) continue;
    left.set(client, count);
    running.set(client, pool.clients[client]?.running ?? 0);
  }
  left.set(target, rank);
  running.set(target, pool.clients[target]?.running ?? 0);
  let position = 0;
  for (;;) {
    let next: string | undefined;
    let best = Number.POSITIVE_INFINITY;
    for (const [client, count] of left) {
      if (count === 0) continue;
      const share = shareAfterNext({ running: running.get(client) ?? 0, weight: weight(client) });
      if (share < best || (share === best && next === target)) {
        best = share;
        next = client;
      }
    }
    if (next === undefined) return position;
    position += 1;
    running.set(next, (running.get(next) ?? 0) + 1);
    left.set(next, (left.get(next) ?? 0) - 1);
    if (next === target && left.get(target) === 0) return position;
  }
}

/**
 * How many of another client's waiting jobs can come before the target's `rank`-th: enough to
 * play `positionInShare` forward, so the counts read stay bounded by the target's own rank.
 */
export function othersNeeded(
  pool: Pick<SlotPoolState, 'clients'>,
  target: string,
  other: string,
  rank: number,
): number {
  const targetSlots = pool.clients[target] ?? { running: 0, weight: 1 };
  const otherSlots = pool.clients[other] ?? { running: 0, weight: 1 };
  const targetShare = (targetSlots.running + rank) / targetSlots.weight;
  return Math.max(0, Math.ceil(targetShare * otherSlots.weight - otherSlots.running) + 1);
}
