/**
 * How long the state machine waits before the next status poll. Fixed 5-10 s polling spends
 * most of a one-minute generation asking "not yet"; this policy estimates the time left from
 * the progress the provider reports and waits a fraction of it, so the waits shrink
 * geometrically towards the expected completion and the last one is short.
 */

export interface WaitPolicyOptions {
  /** Never poll sooner than this (seconds). */
  minSeconds: number;
  /** Never wait longer than this (seconds), whatever the estimate says. */
  maxSeconds: number;
  /** Share of the estimated remaining time to wait once progress is reported. */
  fraction: number;
  /** Share of the expected remaining time to wait while the provider reports no progress yet. */
  initialFraction: number;
  /** Past this many polls a job is slower than anything planned for: waits grow to `lateMinSeconds`. */
  softPollBudget: number;
  lateMinSeconds: number;
}

export const DEFAULT_WAIT_POLICY: WaitPolicyOptions = {
  minSeconds: 2,
  maxSeconds: 60,
  fraction: 0.5,
  initialFraction: 0.25,
  softPollBudget: 40,
  lateMinSeconds: 15,
};

export interface WaitInput {
  /** Progress now, 0..100. */
  progress: number;
  /** Seconds since the provider job was created (or the create was attempted). */
  elapsedSeconds: number;
  /** Polls made so far (0 right after create). */
  pollCount: number;
  /** What a generation of this model and length usually takes; see `expectedGenerationSeconds`. */
  expectedSeconds: number;
  /** The observation before this one, when known: gives the current rate of progress. */
  previous?: { progress: number; elapsedSeconds: number } | undefined;
}

/** Seconds to wait before the next poll: a whole number (Step Functions' Wait needs one). */
export function nextWaitSeconds(
  input: WaitInput,
  options: WaitPolicyOptions = DEFAULT_WAIT_POLICY,
): number {
  const minSeconds =
    input.pollCount >= options.softPollBudget
      ? Math.max(options.minSeconds, options.lateMinSeconds)
      : options.minSeconds;
  const progress = clamp(input.progress, 0, 100);
  const elapsed = Math.max(0, input.elapsedSeconds);
  let wait: number;
  if (progress <= 0) {
    // No signal yet: plan on the expected duration; once past it (a long queue), back off in
    // proportion to the time already spent rather than hammering the provider.
    const remaining = Math.max(input.expectedSeconds - elapsed, 0.25 * elapsed);
    wait = options.initialFraction * remaining;
  } else if (progress >= 100) {
    wait = minSeconds;
  } else {
    wait = options.fraction * remainingSeconds(progress, elapsed, input.previous);
  }
  return Math.round(clamp(wait, minSeconds, options.maxSeconds));
}

function remainingSeconds(
  progress: number,
  elapsed: number,
  previous: WaitInput['previous'],
): number {
  const interval = previous ? elapsed - previous.elapsedSeconds : 0;
  if (!previous || interval <= 0 || previous.progress <= 0) {
    // Average rate since creation: queueing counts as elapsed, so this overestimates the time
    // left a little, which the fraction absorbs.
    return (elapsed * (100 - progress)) / progress;
  }
  const gained = progress - previous.progress;
  // Stalled (e.g. parked at 99 % while encoding): the wait grows by a quarter per stalled poll,
  // so a long stall costs a few calls and a short one adds little delay.
  if (gained <= 0) return 2.5 * interval;
  // The rate since the last poll follows providers whose progress is not linear in time.
  return (interval * (100 - progress)) / gained;
}

/**
 * A rough expectation of generation time (queue + render) in seconds, used before the provider
 * reports any progress. Reported figures: ~1 min for a 4 s sora-2 clip, ~2 min for 12 s; pro
 * models and larger frames take longer.
 */
export function expectedGenerationSeconds(params: {
  model: string;
  size: string;
  seconds: string;
}): number {
  const clipSeconds = Number(params.seconds);
  const [width, height] = params.size.split('x').map(Number);
  const pixels = (width ?? 720) * (height ?? 1280);
  const sizeFactor = Number.isFinite(pixels) && pixels > 0 ? Math.sqrt(pixels / (720 * 1280)) : 1;
  const modelFactor = /pro/i.test(params.model) ? 2.5 : 1;
  const base = 20 + 8.5 * (Number.isFinite(clipSeconds) ? clipSeconds : 8);
  return 3 + base * modelFactor * sizeFactor;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
