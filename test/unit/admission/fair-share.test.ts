import { describe, expect, it } from 'vitest';
import {
  fairOrder,
  othersNeeded,
  positionInShare,
} from '../../../functions/shared/admission/fair-share.ts';
import type { ClientSlots, SlotPoolState } from '../../../functions/shared/limits/limits.ts';

const waiting = (slots: Partial<ClientSlots> = {}): ClientSlots => ({
  running: 0,
  waiting: true,
  weight: 1,
  ...slots,
});

const poolOf = (clients: Record<string, ClientSlots>, limit = 10): SlotPoolState => ({
  limit,
  inUse: Object.values(clients).reduce((sum, client) => sum + client.running, 0),
  clients,
});

/**
 * Hands out `slots` free slots one at a time as a hand-off does (the first of `fairOrder`, served
 * at a later time each), every client keeping work waiting; answers who got each slot.
 */
function handOut(clients: Record<string, ClientSlots>, slots: number): string[] {
  const pool = poolOf(structuredClone(clients));
  const served: string[] = [];
  for (let slot = 1; slot <= slots; slot += 1) {
    const next = fairOrder(pool)[0];
    if (next === undefined) break;
    const client = pool.clients[next] as ClientSlots;
    client.running += 1;
    client.lastServedAt = `2026-06-01T12:00:${String(slot).padStart(2, '0')}.000Z`;
    served.push(next);
  }
  return served;
}

const count = (served: string[], client: string) => served.filter((each) => each === client).length;

describe('fairOrder', () => {
  it('gives a client alone every slot', () => {
    expect(handOut({ alice: waiting() }, 4)).toEqual(['alice', 'alice', 'alice', 'alice']);
  });

  it('alternates between clients of equal weight', () => {
    expect(handOut({ alice: waiting(), bob: waiting() }, 6)).toEqual([
      'alice',
      'bob',
      'alice',
      'bob',
      'alice',
      'bob',
    ]);
  });

  it('brings a client holding every slot back to an equal share as slots free', () => {
    // Bob held 4 slots and keeps 4; the next 4 freed all go to alice.
    expect(handOut({ alice: waiting(), bob: waiting({ running: 4 }) }, 4)).toEqual([
      'alice',
      'alice',
      'alice',
      'alice',
    ]);
  });

  it('settles clients of weights 2 and 1 at 2:1 of the slots', () => {
    const served = handOut({ alice: waiting({ weight: 2 }), bob: waiting() }, 9);

    expect([count(served, 'alice'), count(served, 'bob')]).toEqual([6, 3]);
    // And at every point on the way, never more than one slot off the 2:1 line.
    for (let n = 1; n <= served.length; n += 1) {
      const alice = count(served.slice(0, n), 'alice');
      expect(Math.abs(alice - (2 * n) / 3)).toBeLessThanOrEqual(1);
    }
  });

  it('leaves out a client at its cap, and one with nothing waiting', () => {
    const pool = poolOf({
      alice: waiting({ running: 1, maxConcurrent: 1 }),
      bob: waiting({ running: 3 }),
      carol: waiting({ waiting: false }),
    });

    expect(fairOrder(pool)).toEqual(['bob']);
  });

  it('keeps a client under its cap in the order', () => {
    const pool = poolOf({ alice: waiting({ running: 1, maxConcurrent: 2 }), bob: waiting() });

    expect(fairOrder(pool)).toEqual(['bob', 'alice']);
  });

  it('gives a capped client no more than its cap however many slots free', () => {
    const served = handOut({ alice: waiting({ maxConcurrent: 2 }), bob: waiting() }, 8);

    expect(count(served, 'alice')).toBe(2);
    expect(count(served, 'bob')).toBe(6);
  });

  it('breaks a tie of shares in favour of the client served longest ago, never served first', () => {
    const pool = poolOf({
      alice: waiting({ running: 1, lastServedAt: '2026-06-01T12:00:02.000Z' }),
      bob: waiting({ running: 1, lastServedAt: '2026-06-01T12:00:01.000Z' }),
      carol: waiting({ running: 1 }),
    });

    expect(fairOrder(pool)).toEqual(['carol', 'bob', 'alice']);
  });

  it('puts the client furthest below its weighted share first, whatever the names', () => {
    // (running + 1) / weight: zed 1/1, amy 3/2.
    const pool = poolOf({ amy: waiting({ running: 2, weight: 2 }), zed: waiting() });

    expect(fairOrder(pool)).toEqual(['zed', 'amy']);
  });
});

describe('positionInShare', () => {
  const clients = (entries: Record<string, Partial<ClientSlots>>) =>
    Object.fromEntries(Object.entries(entries).map(([name, slots]) => [name, waiting(slots)]));

  it('counts a client alone through its own queue', () => {
    const pool = { clients: clients({ alice: {} }) };

    expect(positionInShare(pool, 'alice', 1, new Map())).toBe(1);
    expect(positionInShare(pool, 'alice', 3, new Map())).toBe(3);
  });

  it('interleaves two clients of equal weight, a tie going to the other client', () => {
    const pool = { clients: clients({ alice: {}, bob: {} }) };

    // Admissions to come: bob, alice, bob, alice, bob, bob (ties to the other client).
    expect(positionInShare(pool, 'alice', 1, new Map([['bob', 4]]))).toBe(2);
    expect(positionInShare(pool, 'alice', 2, new Map([['bob', 4]]))).toBe(4);
    // From bob's side: alice, bob, alice, bob, bob.
    expect(positionInShare(pool, 'bob', 1, new Map([['alice', 2]]))).toBe(2);
    expect(positionInShare(pool, 'bob', 3, new Map([['alice', 2]]))).toBe(5);
  });

  it('gives the client of weight 2 two admissions for each of the other’s', () => {
    const pool = { clients: clients({ alice: { weight: 2 }, bob: {} }) };

    // alice (1/2), then a tie at 1 to bob, then alice (2/2 against bob's 2/1).
    expect(positionInShare(pool, 'alice', 1, new Map([['bob', 4]]))).toBe(1);
    expect(positionInShare(pool, 'alice', 2, new Map([['bob', 4]]))).toBe(3);
    // alice, alice (a tie at 1 to the other client), then bob.
    expect(positionInShare(pool, 'bob', 1, new Map([['alice', 2]]))).toBe(3);
  });

  it('starts from the slots each client holds now', () => {
    // Bob holds 2: alice's (1/1, 2/1) come before bob's (3/1).
    const pool = { clients: clients({ alice: {}, bob: { running: 2 } }) };

    expect(positionInShare(pool, 'alice', 2, new Map([['bob', 3]]))).toBe(2);
    expect(positionInShare(pool, 'bob', 1, new Map([['alice', 2]]))).toBe(3);
  });

  it("counts another client's admissions only while it has jobs waiting", () => {
    const pool = { clients: clients({ alice: {}, bob: {} }) };

    // Bob's one job comes first (the tie); alice's then follow each other.
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 1]]))).toBe(4);
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 0]]))).toBe(3);
  });
});

describe('othersNeeded', () => {
  it('bounds what must be counted of another client by the target’s own rank', () => {
    const pool = { clients: { alice: waiting(), bob: waiting({ running: 1, weight: 2 }) } };

    // Alice's 3rd: share (0 + 3) / 1 = 3; bob reaches it at 3 * 2 - 1 = 5 more, plus one.
    expect(othersNeeded(pool, 'alice', 'bob', 3)).toBe(6);
  });

  it('needs none of a client already further above its share', () => {
    const pool = { clients: { alice: waiting(), bob: waiting({ running: 10 }) } };

    expect(othersNeeded(pool, 'alice', 'bob', 1)).toBe(0);
  });

  it('gives the same position as counting every waiting job of the other client', () => {
    const pool = { clients: { alice: waiting(), bob: waiting({ running: 1, weight: 2 }) } };
    const needed = othersNeeded(pool, 'alice', 'bob', 3);

    // By hand: bob, alice, bob, bob, alice, bob, bob, alice.
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 1000]]))).toBe(8);
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', needed]]))).toBe(8);
    // Counting fewer than needed would move alice's job forward.
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 3]]))).toBeLessThan(8);
  });
});
