/**
 * The pipeline's clock: every time the code reads for a domain decision (timestamps on jobs,
 * how long a job has run, the UTC day of the budget, the minute of the request allowance, the
 * sweep's grace period) comes from `now()`.
 *
 * In Lambda it is always the wall clock. It exists for the local stack, which runs everything
 * time-based `--speed` times faster (Wait states, retries, the provider simulator): it installs
 * one scaled clock here (`useClock(scaledClock(...))`) and gives the same clock to the
 * simulator and its emulated AWS services, so a run at x100 behaves like a run at x1, only
 * faster. Time that is measured against someone else's clock (HTTP dates, request signatures)
 * stays real and does not come from here.
 */

/** Milliseconds since the epoch, as `Date.now()`. */
export type ClockSource = () => number;

let current: ClockSource = Date.now;

/** The pipeline's current time. */
export function now(): Date {
  return new Date(current());
}

/** The pipeline's current time in milliseconds since the epoch. */
export function nowMs(): number {
  return current();
}

/**
 * Makes `source` the pipeline's clock (the local stack's scaled clock); returns a function that
 * puts the previous clock back.
 */
export function useClock(source: ClockSource): () => void {
  const previous = current;
  current = source;
  return () => {
    current = previous;
  };
}

export interface ScaledClockOptions {
  /** The wall-clock instant the scaling starts from (default: now). */
  epochMs?: number;
  /** The clock's reading at `epochMs` (default `epochMs`); later, never earlier, continues a run. */
  startMs?: number;
  /** The wall clock (default `Date.now`). */
  realNow?: ClockSource;
}

/**
 * A clock running `speed` times faster than the wall clock from `epochMs`:
 * `start + (real - epoch) * speed`, whole milliseconds, never going back.
 */
export function scaledClock(speed: number, options: ScaledClockOptions = {}): ClockSource {
  if (!Number.isFinite(speed) || speed <= 0) {
    throw new RangeError(`Clock speed must be a positive number, got ${speed}`);
  }
  const realNow = options.realNow ?? Date.now;
  const epochMs = options.epochMs ?? realNow();
  const startMs = options.startMs ?? epochMs;
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    last = Math.max(last, Math.floor(startMs + (realNow() - epochMs) * speed));
    return last;
  };
}
