import { afterEach, describe, expect, it } from 'vitest';
import { now, nowMs, scaledClock, useClock } from '../../functions/shared/clock.ts';

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

/** A wall clock moved by hand. */
function wallClock(startMs: number) {
  let at = startMs;
  return {
    read: () => at,
    advance(ms: number) {
      at += ms;
    },
    set(ms: number) {
      at = ms;
    },
  };
}

describe('the pipeline clock', () => {
  it('is the wall clock by default', () => {
    const before = Date.now();
    const read = now().getTime();
    const readMs = nowMs();

    expect(read).toBeGreaterThanOrEqual(before);
    expect(read).toBeLessThanOrEqual(Date.now());
    expect(readMs).toBeGreaterThanOrEqual(read);
  });

  it('reads the installed clock until it is restored', () => {
    restore = useClock(() => Date.UTC(2031, 0, 2, 3, 4, 5));

    expect(now().toISOString()).toBe('2031-01-02T03:04:05.000Z');
    expect(nowMs()).toBe(Date.UTC(2031, 0, 2, 3, 4, 5));

    restore();
    restore = undefined;
    expect(Math.abs(nowMs() - Date.now())).toBeLessThan(1000);
  });

  it('restores the clock that was installed before', () => {
    const outer = useClock(() => 1_000);
    const inner = useClock(() => 2_000);
    restore = outer;

    expect(nowMs()).toBe(2_000);
    inner();
    expect(nowMs()).toBe(1_000);
  });
});

describe('scaledClock', () => {
  it('runs speed times faster than the wall clock from the epoch', () => {
    const wall = wallClock(Date.UTC(2030, 5, 1));
    const clock = scaledClock(50, { realNow: wall.read });

    expect(clock()).toBe(Date.UTC(2030, 5, 1));
    wall.advance(1_200);
    expect(clock()).toBe(Date.UTC(2030, 5, 1) + 60_000);
    wall.advance(60_000);
    expect(clock()).toBe(Date.UTC(2030, 5, 1) + 60_000 + 3_000_000);
  });

  it('continues from a start later than the epoch (a previous run)', () => {
    const wall = wallClock(1_000_000);
    const clock = scaledClock(10, { realNow: wall.read, startMs: 5_000_000 });

    expect(clock()).toBe(5_000_000);
    wall.advance(100);
    expect(clock()).toBe(5_001_000);
  });

  it('reads whole milliseconds (job ids need them), whatever the speed', () => {
    const wall = wallClock(0);
    const clock = scaledClock(1.5, { realNow: wall.read, epochMs: 0 });

    wall.advance(1);

    expect(clock()).toBe(1);
    expect(Number.isInteger(clock())).toBe(true);
  });

  it('never goes back when the wall clock does', () => {
    const wall = wallClock(10_000);
    const clock = scaledClock(2, { realNow: wall.read });
    wall.advance(500);
    const before = clock();

    wall.set(9_000);

    expect(clock()).toBe(before);
  });

  it('refuses a speed that is not a positive number', () => {
    expect(() => scaledClock(0)).toThrow(RangeError);
    expect(() => scaledClock(-2)).toThrow('positive');
    expect(() => scaledClock(Number.NaN)).toThrow(RangeError);
  });

  it('is what the pipeline reads once installed', () => {
    const wall = wallClock(Date.UTC(2030, 0, 1));
    restore = useClock(scaledClock(100, { realNow: wall.read }));

    wall.advance(36_000);

    expect(now().toISOString()).toBe('2030-01-01T01:00:00.000Z');
  });
});
