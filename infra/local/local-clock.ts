import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ClockSource, useClock } from '../../functions/shared/clock.ts';
import { LocalStackError } from './local-errors.ts';

/** How often the clock's position is saved while the stack runs (wall-clock ms). */
const SAVE_EVERY_MS = 5_000;

export interface LocalClockOptions {
  /** `--speed`: the clock runs this many times faster than the wall clock. */
  speed: number;
  /**
   * Where the clock's position is kept across restarts (`.local/clock.json`); null keeps
   * nothing (tests): the clock then starts at the wall clock's time.
   */
  file: string | null;
  /** The wall clock (default Date.now; tests). */
  realNow?: ClockSource;
  /**
   * Where the clock starts, ms since the epoch, instead of the wall clock's time (tests that
   * count "today" start at noon UTC, so a run near midnight does not cross into the next day).
   * Only without a file: saved positions never go back.
   */
  startAtMs?: number;
}

export interface LocalClock {
  /** The stack's time, ms since the epoch: what the handlers, AWS emulation and simulator read. */
  nowMs: ClockSource;
  speed: number;
  /** Where the clock started, ms since the epoch (later than the wall clock after a fast run). */
  startMs: number;
  /** Stack ms per wall ms now: `speed`, or CATCH_UP_RATE while a clock at x1 catches up. */
  rate(): number;
  /**
   * Set while a clock at x1 that a faster run left ahead of the wall clock catches up with it:
   * how far ahead it started (ms) and when (wall clock, ms since the epoch) it meets it.
   */
  catchUp: { aheadMs: number; meetsWallClockAtMs: number } | undefined;
  /** Saves the position and gives the pipeline back the wall clock. */
  stop(): Promise<void>;
}

/**
 * How fast a clock at --speed 1 runs while it is ahead of the wall clock: a faster run (`npm run
 * generate` starts one at x20 on the same data) leaves it ahead, and it never goes back (the
 * data's timestamps are up to there). At half speed it meets the wall clock after twice the
 * lead, and from then on it is the wall clock.
 */
export const CATCH_UP_RATE = 0.5;

/**
 * The local stack's one clock: `--speed` times the wall clock, installed as the pipeline's clock
 * (`functions/shared/clock.ts`) and given to the simulator and the emulated AWS services, so
 * every timestamp and every duration on the stack runs on it.
 *
 * Data in `.local/` survives restarts, and an accelerated run leaves timestamps ahead of the wall
 * clock; so the clock never goes back: it continues from the time saved by the previous run
 * (saved every few seconds a little ahead of itself while it is ahead of the wall clock, so even
 * a crash leaves no later timestamp behind), or from the wall clock if that is later. At x1 a
 * clock that starts ahead runs at CATCH_UP_RATE until it meets the wall clock; a clock that is
 * the wall clock saves no margin (a restart's wall clock is later than anything it wrote), so
 * runs at x1 never drift ahead, crashes included.
 */
export async function startLocalClock(options: LocalClockOptions): Promise<LocalClock> {
  const { speed, file } = options;
  if (!Number.isFinite(speed) || speed <= 0) {
    throw new RangeError(`Clock speed must be a positive number, got ${speed}`);
  }
  const realNow = options.realNow ?? Date.now;
  const epochMs = realNow();
  if (options.startAtMs !== undefined && file) {
    throw new LocalStackError(
      'invalid-option',
      'startAtMs needs a clock without a file: a saved clock never goes back',
    );
  }
  const saved = file ? await savedClockPosition(file) : undefined;
  const startMs = options.startAtMs ?? Math.max(epochMs, saved ?? 0);
  // Only a position resumed from the file catches up; a start tests ask for is kept as asked.
  const catchUp =
    speed === 1 && options.startAtMs === undefined && startMs > epochMs
      ? {
          aheadMs: startMs - epochMs,
          meetsWallClockAtMs: epochMs + (startMs - epochMs) / (1 - CATCH_UP_RATE),
        }
      : undefined;
  /** The clock's reading at wall-clock instant `wallMs`. */
  const positionAt = (wallMs: number): number => {
    if (catchUp === undefined) return Math.floor(startMs + (wallMs - epochMs) * speed);
    return wallMs >= catchUp.meetsWallClockAtMs
      ? wallMs
      : Math.floor(startMs + (wallMs - epochMs) * CATCH_UP_RATE);
  };
  let last = Number.NEGATIVE_INFINITY;
  const nowMs: ClockSource = () => {
    last = Math.max(last, positionAt(realNow()));
    return last;
  };
  const rate = () =>
    catchUp !== undefined && realNow() < catchUp.meetsWallClockAtMs ? CATCH_UP_RATE : speed;
  const restore = useClock(nowMs);

  let timer: NodeJS.Timeout | undefined;
  let saving: Promise<void> = Promise.resolve();
  const save = (position: number) => {
    if (!file) return saving;
    saving = saving.then(() => writePosition(file, position)).catch(() => {});
    return saving;
  };
  // The position the clock cannot pass before the next save, when that is ahead of the wall
  // clock; a clock no later than the wall clock needs no margin.
  const bound = () => {
    const nextSaveAt = realNow() + SAVE_EVERY_MS;
    const next = positionAt(nextSaveAt);
    return next > nextSaveAt ? next : nowMs();
  };
  if (file) {
    await save(bound());
    timer = setInterval(() => void save(bound()), SAVE_EVERY_MS);
    timer.unref();
  }
  let stopped: Promise<void> | undefined;
  return {
    nowMs,
    speed,
    startMs,
    rate,
    catchUp,
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await save(nowMs());
        restore();
      })();
      return stopped;
    },
  };
}

/** The position a previous run saved in `file` (ms since the epoch), if any. */
export async function savedClockPosition(file: string): Promise<number | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    const at = (parsed as { nowMs?: unknown } | null)?.nowMs;
    return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
  } catch {
    // first start, or an unreadable file: start from the wall clock
    return undefined;
  }
}

/**
 * A real provider renders in real time and compares its timestamps with ours (an ambiguous
 * create is reconciled by listing the jobs created after our attempt): with one, the stack's
 * clock must be the wall clock.
 */
export function assertSpeedForProvider(speed: number, realProvider: boolean): void {
  if (realProvider && speed !== 1) {
    throw new LocalStackError(
      'invalid-option',
      `--speed must be 1 with a real provider (it renders in real time), got ${speed}`,
    );
  }
}

async function writePosition(file: string, nowMs: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ nowMs, now: new Date(nowMs).toISOString() })}\n`);
  await rename(temporary, file);
}
