import { describe, expect, it } from 'vitest';
import {
  catchUpClock,
  fairOrder,
  othersNeeded,
  positionInShare,
} from '../../../functions/shared/admission/fair-share.ts';
import type { ClientSlots, SlotPoolState } from '../../../functions/shared/limits/limits.ts';

const waiting = (slots: Partial<ClientSlots> = {}): ClientSlots => ({
  running: 0,
  holders: [],
  waiting: true,
  weight: 1,
  virtualClock: 0,
  ...slots,
});

const poolOf = (clients: Record<string, ClientSlots>, limit = 10): SlotPoolState => ({
  limit,
  inUse: Object.values(clients).reduce((sum, client) => sum + client.running, 0),
  clients,
  deployments: {},
});

const clientsOf = (entries: Record<string, Partial<ClientSlots>>): Record<string, ClientSlots> =>
  Object.fromEntries(Object.entries(entries).map(([name, slots]) => [name, waiting(slots)]));

/** What a slot taken does to its client, as the semaphore's acquire: one more running, clock on. */
function takeSlot(client: ClientSlots): void {
  client.running += 1;
  client.virtualClock += 1 / client.weight;
}

/**
 * Hands out `slots` free slots one at a time as a hand-off does (the first of `fairOrder`), every
 * client keeping work waiting and no slot freed meanwhile; answers who got each slot.
 */
function serve(pool: SlotPoolState, slots: number): string[] {
  const served: string[] = [];
  for (let slot = 1; slot <= slots; slot += 1) {
    const next = fairOrder(pool)[0];
    if (next === undefined) break;
    takeSlot(pool.clients[next] as ClientSlots);
    served.push(next);
  }
  return served;
}

const handOut = (clients: Record<string, ClientSlots>, slots: number) =>
  serve(poolOf(structuredClone(clients)), slots);

const count = (served: string[], client: string) => served.filter((each) => each === client).length;

describe('fairOrder', () => {
  it('gives a client alone every slot', () => {
    expect(handOut({ alice: waiting() }, 4)).toEqual(['alice', 'alice', 'alice', 'alice']);
  });

  it('alternates between clients of equal weight, a tie going to the name that sorts first', () => {
    // Listed zed first: the tie at tick 1 goes by name, not by the order clients are read in.
    expect(handOut({ zed: waiting(), amy: waiting() }, 6)).toEqual([
      'amy',
      'zed',
      'amy',
      'zed',
      'amy',
      'zed',
    ]);
  });

  it('puts a client that just got a slot behind, its next tick later', () => {
    // Amy's clock moved on to 1 with the slot she took: her tick 2 comes after zed's 1.
    const pool = poolOf(clientsOf({ amy: { running: 1, virtualClock: 1 }, zed: {} }));

    expect(fairOrder(pool)).toEqual(['zed', 'amy']);
  });

  it('gives a client behind on its clock the freed slots until it is level', () => {
    // Alice's ticks 1..4 come before bob's 5; at 5 they tie and alice's name wins; then bob.
    expect(handOut({ alice: waiting(), bob: waiting({ virtualClock: 4 }) }, 6)).toEqual([
      'alice',
      'alice',
      'alice',
      'alice',
      'alice',
      'bob',
    ]);
  });

  it('admits clients of weights 2 and 1 at 2:1', () => {
    // Alice's ticks 0.5, 1, 1.5, 2, ... against bob's 1, 2, 3: alice wins the ties at 1, 2, 3.
    expect(handOut({ alice: waiting({ weight: 2 }), bob: waiting() }, 9)).toEqual([
      'alice',
      'alice',
      'bob',
      'alice',
      'alice',
      'bob',
      'alice',
      'alice',
      'bob',
    ]);
  });

  it('keeps to 2:1 over a long run of hand-offs, never more than one slot off the line', () => {
    // Named so the weight-2 client loses the ties: 2:1 holds whichever way ties fall.
    const served = handOut({ zed: waiting({ weight: 2 }), amy: waiting() }, 60);

    expect([count(served, 'zed'), count(served, 'amy')]).toEqual([40, 20]);
    for (let n = 1; n <= served.length; n += 1) {
      const zed = count(served.slice(0, n), 'zed');
      expect(Math.abs(zed - (2 * n) / 3)).toBeLessThanOrEqual(1);
    }
  });

  it('orders by next tick (clock + 1 / weight), not by clock', () => {
    // Amy's clock 0.8 is later than zed's 0.5, but her tick 0.8 + 1/2 = 1.3 beats zed's 1.5.
    const pool = poolOf(
      clientsOf({ zed: { virtualClock: 0.5 }, amy: { weight: 2, virtualClock: 0.8 } }),
    );

    expect(fairOrder(pool)).toEqual(['amy', 'zed']);
  });

  it('takes ticks a float rounding apart as one instant, the tie going by name', () => {
    // Zed's clock is ten 0.1 steps (0.9999999999999999), amy's exactly 1: the same tick.
    let clock = 0;
    for (let step = 0; step < 10; step += 1) clock += 0.1;
    const pool = poolOf(
      clientsOf({ zed: { weight: 10, virtualClock: clock }, amy: { weight: 10, virtualClock: 1 } }),
    );

    expect(fairOrder(pool)).toEqual(['amy', 'zed']);
  });

  it('leaves out a client at its cap, and one with nothing waiting', () => {
    const pool = poolOf(
      clientsOf({
        alice: { running: 1, maxConcurrent: 1 },
        bob: { running: 3, virtualClock: 3 },
        carol: { waiting: false },
      }),
    );

    expect(fairOrder(pool)).toEqual(['bob']);
  });

  it('keeps a client under its cap in the order, by its tick', () => {
    const pool = poolOf(
      clientsOf({ alice: { running: 1, maxConcurrent: 2, virtualClock: 1 }, bob: {} }),
    );

    expect(fairOrder(pool)).toEqual(['bob', 'alice']);
  });

  it('gives a capped client no more than its cap however many slots free', () => {
    const served = handOut({ alice: waiting({ maxConcurrent: 2 }), bob: waiting() }, 8);

    expect(count(served, 'alice')).toBe(2);
    expect(count(served, 'bob')).toBe(6);
  });
});

describe('catchUpClock', () => {
  it('brings a client that starts waiting level with the earliest waiting other', () => {
    // Next ticks: bob 20 + 1 = 21, carol 5 + 1/2 = 5.5; dave waits for nothing and counts not.
    const pool = poolOf(
      clientsOf({
        alice: { waiting: false },
        bob: { virtualClock: 20 },
        carol: { weight: 2, virtualClock: 5 },
        dave: { waiting: false, virtualClock: 1 },
      }),
    );

    // Alice's next tick lands on carol's 5.5: 5.5 - 1/1, or 5.5 - 1/4 at weight 4.
    expect(catchUpClock(pool, 'alice', 1)).toBe(4.5);
    expect(catchUpClock(pool, 'alice', 4)).toBe(5.25);
  });

  it('answers nothing when no other client waits', () => {
    const pool = poolOf(
      clientsOf({ alice: { virtualClock: 3 }, bob: { waiting: false, virtualClock: 9 } }),
    );

    expect(catchUpClock(pool, 'alice', 1)).toBeUndefined();
  });

  it('banks no idle credit: a client idle while another took 20 slots does not then take 20', () => {
    // Bob alone takes 20 slots (clock 20) while alice waits for nothing (clock 0).
    const pool = poolOf(clientsOf({ alice: { waiting: false }, bob: {} }));
    expect(serve(pool, 20)).toEqual(Array(20).fill('bob'));

    // Alice starts waiting: caught up to bob's tick 21 less her 1, as the semaphore applies it.
    const alice = pool.clients.alice as ClientSlots;
    alice.virtualClock = Math.max(alice.virtualClock, catchUpClock(pool, 'alice', 1) ?? 0);
    alice.waiting = true;

    expect(alice.virtualClock).toBe(20);
    expect(serve(pool, 6)).toEqual(['alice', 'bob', 'alice', 'bob', 'alice', 'bob']);
  });
});

describe('positionInShare', () => {
  it('counts a client alone through its own queue', () => {
    const pool = { clients: clientsOf({ alice: {} }) };

    expect(positionInShare(pool, 'alice', 1, new Map())).toBe(1);
    expect(positionInShare(pool, 'alice', 3, new Map())).toBe(3);
  });

  it('interleaves two clients of equal weight, a tie going to the name that sorts first', () => {
    const pool = { clients: clientsOf({ alice: {}, bob: {} }) };

    // Ticks alice 1, 2; bob 1, 2, 3, 4; alice wins the ties: alice, bob, alice, bob, bob, bob.
    expect(positionInShare(pool, 'alice', 1, new Map([['bob', 4]]))).toBe(1);
    expect(positionInShare(pool, 'alice', 2, new Map([['bob', 4]]))).toBe(3);
    expect(positionInShare(pool, 'bob', 1, new Map([['alice', 2]]))).toBe(2);
    expect(positionInShare(pool, 'bob', 3, new Map([['alice', 2]]))).toBe(5);
    expect(positionInShare(pool, 'bob', 4, new Map([['alice', 2]]))).toBe(6);
  });

  it('gives the client of weight 2 two admissions for each of the other’s', () => {
    const pool = { clients: clientsOf({ alice: { weight: 2 }, bob: {} }) };

    // Ticks alice 0.5, 1, 1.5, 2; bob 1, 2: alice, alice (tie at 1), bob, alice, alice (tie at
    // 2), bob.
    expect(positionInShare(pool, 'alice', 2, new Map([['bob', 2]]))).toBe(2);
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 2]]))).toBe(4);
    expect(positionInShare(pool, 'bob', 1, new Map([['alice', 4]]))).toBe(3);
    expect(positionInShare(pool, 'bob', 2, new Map([['alice', 4]]))).toBe(6);
  });

  it('starts from the clocks as they are now', () => {
    // Bob took 2 slots: alice's ticks 1, 2, 3 against bob's 3, 4; alice wins the tie at 3.
    const pool = { clients: clientsOf({ alice: {}, bob: { virtualClock: 2 } }) };

    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 2]]))).toBe(3);
    expect(positionInShare(pool, 'bob', 1, new Map([['alice', 3]]))).toBe(4);
  });

  it('counts weights that do not divide each other', () => {
    // Alice (weight 3, clock 1/3): ticks 2/3, 1, 4/3, 5/3, 2; bob (weight 2, clock 1/2): 1,
    // 1.5, 2, 2.5. Order: a, a (tie at 1), b, a, b, a, a (tie at 2), b.
    const pool = {
      clients: clientsOf({
        alice: { weight: 3, virtualClock: 1 / 3 },
        bob: { weight: 2, virtualClock: 0.5 },
      }),
    };

    expect(positionInShare(pool, 'alice', 4, new Map([['bob', 4]]))).toBe(6);
    expect(positionInShare(pool, 'bob', 3, new Map([['alice', 5]]))).toBe(8);
  });

  it("counts another client's admissions only while it has jobs waiting", () => {
    const pool = { clients: clientsOf({ alice: {}, bob: {} }) };

    // Bob's ticks 1, 2 come before alice's 3: both when he has 2 waiting, one when he has 1.
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 2]]))).toBe(5);
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 1]]))).toBe(4);
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 0]]))).toBe(3);
  });
});

describe('othersNeeded', () => {
  it('bounds what must be counted of another client by the target’s own rank', () => {
    // Alice's 3rd has tick 3; bob's ticks (clock 0.5, weight 2) 1, 1.5, 2, 2.5 come before it,
    // his 3 ties and goes to alice: alice, bob, bob, alice, bob, bob, alice.
    const pool = { clients: clientsOf({ alice: {}, bob: { weight: 2, virtualClock: 0.5 } }) };

    expect(othersNeeded(pool, 'alice', 'bob', 3)).toBe(4);
    expect(positionInShare(pool, 'alice', 3, new Map([['bob', 1000]]))).toBe(7);
  });

  it('needs none of a client further on, or of one that only ties and sorts later', () => {
    const pool = { clients: clientsOf({ alice: {}, bob: { virtualClock: 10 }, carol: {} }) };

    expect(othersNeeded(pool, 'alice', 'bob', 1)).toBe(0);
    expect(othersNeeded(pool, 'alice', 'carol', 1)).toBe(0);
    // From carol's side, alice's tie at 1 comes first.
    expect(othersNeeded(pool, 'carol', 'alice', 1)).toBe(1);
  });
});

/** A small seeded PRNG (mulberry32): the random cases are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  pool: SlotPoolState;
  /** Jobs each client has waiting. */
  queued: Record<string, number>;
}

const NAMES = ['amy', 'bob', 'cy', 'dee'];
const WEIGHTS = [0.5, 1, 1.5, 2, 3, 4];

/**
 * 2 to 4 clients, weights that do and do not divide each other, clocks on twelfths (so that
 * ticks often tie, as they do among clients caught up to each other), 0 to 5 jobs waiting each.
 */
function randomCase(random: () => number): Case {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const names = NAMES.slice(0, 2 + Math.floor(random() * 3));
  const queued = Object.fromEntries(names.map((name) => [name, Math.floor(random() * 6)]));
  const clients = Object.fromEntries(
    names.map((name) => [
      name,
      waiting({
        weight: pick(WEIGHTS),
        virtualClock: Math.floor(random() * 25) / 12,
        waiting: (queued[name] ?? 0) > 0,
      }),
    ]),
  );
  return { pool: poolOf(clients), queued };
}

/** The other clients' waiting counts, as standingOf reads them for `target`. */
const othersOf = (queued: Record<string, number>, target: string) =>
  new Map(Object.entries(queued).filter(([name]) => name !== target));

/** Every waiting job's position by positionInShare: `client#rank` -> position. */
function positionsOf({ pool, queued }: Case): Map<string, number> {
  const positions = new Map<string, number>();
  for (const [client, jobs] of Object.entries(queued)) {
    for (let rank = 1; rank <= jobs; rank += 1) {
      positions.set(
        `${client}#${rank}`,
        positionInShare(pool, client, rank, othersOf(queued, client)),
      );
    }
  }
  return positions;
}

/**
 * One hand-off played forward: the first of `fairOrder` takes a slot (its clock on by 1/weight)
 * and its head job leaves its queue; a client with none left stops waiting. Answers the client.
 */
function admitNext({ pool, queued }: Case): string | undefined {
  const next = fairOrder(pool)[0];
  if (next === undefined) return undefined;
  const client = pool.clients[next] as ClientSlots;
  takeSlot(client);
  queued[next] = (queued[next] ?? 0) - 1;
  if (queued[next] === 0) client.waiting = false;
  return next;
}

describe('positions against fairOrder played forward (seeded random cases)', () => {
  const CASES = 400;

  it('gives every waiting job the place fairOrder admits it at', () => {
    const random = seeded(23);
    for (let n = 0; n < CASES; n += 1) {
      const start = randomCase(random);
      const played = structuredClone(start);
      const places = new Map<string, number>();
      const admitted = new Map<string, number>();
      for (let place = 1; ; place += 1) {
        const client = admitNext(played);
        if (client === undefined) break;
        const rank = (admitted.get(client) ?? 0) + 1;
        admitted.set(client, rank);
        places.set(`${client}#${rank}`, place);
      }
      expect(positionsOf(start), JSON.stringify(start)).toEqual(places);
    }
  });

  it('moves every waiting job up exactly one with each admission ahead when nothing arrives', () => {
    const random = seeded(2323);
    for (let n = 0; n < CASES; n += 1) {
      const played = randomCase(random);
      let before = positionsOf(played);
      for (;;) {
        const client = admitNext(played);
        if (client === undefined) break;
        // The job admitted stood first; its client's others each move up a rank too.
        expect(before.get(`${client}#1`)).toBe(1);
        const after = positionsOf(played);
        const expected = new Map<string, number>();
        for (const [job, position] of before) {
          const [name, rank] = job.split('#') as [string, string];
          const nowRank = name === client ? Number(rank) - 1 : Number(rank);
          if (nowRank >= 1) expected.set(`${name}#${nowRank}`, position - 1);
        }
        expect(after).toEqual(expected);
        before = after;
      }
    }
  });

  it("reads no fewer of another client's jobs than the position uses, and no more", () => {
    const random = seeded(42);
    const wrong: string[] = [];
    for (let n = 0; n < CASES; n += 1) {
      const { pool, queued } = randomCase(random);
      for (const target of Object.keys(queued)) {
        for (let rank = 1; rank <= 6; rank += 1) {
          for (const other of Object.keys(queued)) {
            if (other === target) continue;
            const needed = othersNeeded(pool, target, other, rank);
            const at = (jobs: number) =>
              positionInShare(pool, target, rank, new Map([[other, jobs]]));
            const where = `${JSON.stringify(pool.clients)}: ${target}#${rank} against ${other}`;
            // However many the other has waiting, counting at most `needed` of them is enough.
            for (let jobs = needed + 1; jobs <= needed + 3; jobs += 1) {
              if (at(jobs) !== at(needed)) wrong.push(`${where} with ${jobs} waiting`);
            }
            // One fewer would move the job up: every one of the `needed` comes first.
            if (needed > 0 && at(needed - 1) !== at(needed) - 1) wrong.push(`${where}: not tight`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
