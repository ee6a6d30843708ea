import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ClockSource, scaledClock, useClock } from '../../functions/shared/clock.ts';
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
  /** Saves the position and gives the pipeline back the wall clock. */
  stop(): Promise<void>;
}

/**
 * The local stack's one clock: `--speed` times the wall clock, installed as the pipeline's clock
 * (`functions/shared/clock.ts`) and given to the simulator and the emulated AWS services, so
 * every timestamp and every duration on the stack runs on it.
 *
 * Data in `.local/` survives restarts, and an accelerated run leaves timestamps ahead of the wall
 * clock; so the clock never goes back: it continues from the time saved by the previous run
 * (saved every few seconds a little ahead of itself, so even a crash leaves no later timestamp
 * behind), or from the wall clock if that is later.
 */
export async function startLocalClock(options: LocalClockOptions): Promise<LocalClock> {
  const { speed, file } = options;
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
  const nowMs = scaledClock(speed, { epochMs, startMs, realNow });
  const restore = useClock(nowMs);

  let timer: NodeJS.Timeout | undefined;
  let saving: Promise<void> = Promise.resolve();
  const save = (position: number) => {
    if (!file) return saving;
    saving = saving.then(() => writePosition(file, position)).catch(() => {});
    return saving;
  };
  // The position the clock cannot pass before the next save.
  const bound = () => nowMs() + Math.ceil(SAVE_EVERY_MS * speed);
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
