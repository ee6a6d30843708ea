/**
 * How long the state machine waits before the next status poll. Fixed 5-10 s polling spends
 * most of a one-minute generation asking "not yet"; this policy predicts the completion from the
 * progress the provider reports and its rate:
 * - no progress yet (queued): a share of the expected generation time;
 * - first progress seen: the rate since creation is a rough guess (it counts the queue), so wait
 *   a share of the time it predicts is left;
 * - progress moved between two polls: the rate over that interval predicts the completion, and
 *   the next poll lands just after it (a small margin), so a steady job ends in one more poll
 *   with a delay of a few per cent of its duration. A job that slows down is seen again before
 *   it ends (no delay), one that stalls waits longer each time.
 * `bench/poll-policy.ts` prints calls and delays against fixed polling.
 */

export interface WaitPolicyOptions {
  /** Never poll sooner than this (seconds). */
  minSeconds: number;
  /** Never wait longer than this (seconds), whatever the estimate says. */
  maxSeconds: number;
  /** Share of the estimated remaining time to wait after the first progress is reported. */
  fraction: number;
  /**
   * Once the rate is measured between two polls: wait the predicted remaining time plus this
   * share of it (progress is reported in whole per cent, so the prediction is a little early
   * as often as late).
   */
  predictionMargin: number;
  /** Share of the expected remaining time to wait while the provider reports no progress yet. */
  initialFraction: number;
  /** Past this many polls a job is slower than anything planned for: waits grow to `lateMinSeconds`. */
  softPollBudget: number;
  lateMinSeconds: number;
}

export const DEFAULT_WAIT_POLICY: WaitPolicyOptions = {
  minSeconds: 2,
  maxSeconds: 60,
  fraction: 0.7,
  predictionMargin: 0.05,
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
    wait = waitWithProgress(progress, elapsed, input.previous, options);
  }
  // Rounded up: a wait that ends a fraction of a second before the predicted completion costs a
  // whole extra poll; one that ends after it, at most a second of delay.
  return Math.ceil(clamp(wait, minSeconds, options.maxSeconds));
}

function waitWithProgress(
  progress: number,
  elapsed: number,
  previous: WaitInput['previous'],
  options: WaitPolicyOptions,
): number {
  const interval = previous ? elapsed - previous.elapsedSeconds : 0;
  if (!previous || interval <= 0 || previous.progress <= 0) {
    // Average rate since creation: the queue counts as elapsed, so this overestimates the time
    // left; wait only a share of it and measure the rate on the next poll.
    return options.fraction * ((elapsed * (100 - progress)) / progress);
  }
  const gained = progress - previous.progress;
  // Stalled (e.g. parked at 99 % while encoding): the wait grows by a quarter per stalled poll,
  // so a long stall costs a few calls and a short one adds little delay.
  if (gained <= 0) return 1.25 * interval;
  // The rate since the last poll follows providers whose progress is not linear in time.
  const remaining = (interval * (100 - progress)) / gained;
  return remaining * (1 + options.predictionMargin);
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
