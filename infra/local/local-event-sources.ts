import { now } from '../../functions/shared/clock.ts';
import type { LambdaFunctionError, LambdaInvokeResult } from './in-process-lambdas.ts';
import {
  type LocalBucketNotification,
  type LocalSchedule,
  notificationMatches,
  rateIntervalMs,
  type S3rverRecord,
  s3LambdaEvent,
  scheduledEvent,
} from './local-triggers.ts';

/** Lambda retries a failed asynchronous invocation twice, about 1 and 2 minutes later. */
const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];

/** A `cron(...)` schedule cannot be timed locally; it runs at this interval instead. */
export const CRON_FALLBACK_INTERVAL_MS = 5 * 60_000;

export interface LocalEventSourcesOptions {
  invoke: (functionLogicalId: string, payload: unknown) => Promise<LambdaInvokeResult>;
  notifications: readonly LocalBucketNotification[];
  schedules: readonly LocalSchedule[];
  /** Divides the schedule interval and the retry delays (the stack's --speed). */
  speed: number;
  /** Run the schedule on a timer (`npm start`); tests turn it off and call `runSchedule()`. */
  timer: boolean;
  /** Told about failed invocations (Lambda would log them and retry). */
  onError?: (source: string, error: LambdaFunctionError) => void;
}

/**
 * What invokes functions besides the HTTP API and the state machine, as AWS would: S3 object
 * events (asynchronous invocations, one record each, retried twice on error) and EventBridge
 * schedules (a timer at the rule's rate, scaled by --speed). Schedule runs never overlap.
 */
export class LocalEventSources {
  readonly #options: LocalEventSourcesOptions;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  #scheduleRun: Promise<unknown> | undefined;
  #closed = false;

  constructor(options: LocalEventSourcesOptions) {
    this.#options = options;
    if (options.timer) {
      for (const schedule of options.schedules) {
        const timer = setInterval(() => {
          if (this.#scheduleRun !== undefined) return;
          this.runSchedule(schedule).catch(() => {});
        }, this.intervalMs(schedule));
        timer.unref();
        this.#timers.add(timer);
      }
    }
  }

  /** The schedule's interval locally, in ms: scaled by speed, never below 50 ms. */
  intervalMs(schedule: LocalSchedule): number {
    const interval = rateIntervalMs(schedule.expression) ?? CRON_FALLBACK_INTERVAL_MS;
    return Math.max(50, interval / this.#options.speed);
  }

  /** Delivers an s3rver event to every matching notification's function, in the background. */
  s3Event(event: { Records: S3rverRecord[] }): void {
    if (this.#closed) return;
    for (const record of event.Records) {
      const { bucket, object } = record.s3;
      for (const [index, notification] of this.#options.notifications.entries()) {
        if (!notificationMatches(notification, bucket.name, object.key, record.eventName)) continue;
        const payload = s3LambdaEvent(record, `local-notification-${index}`);
        this.#track(this.#invokeAsync('S3 event', notification.functionLogicalId, payload));
      }
    }
  }

  /**
   * Runs a schedule's targets once, now (after a run in progress, if any), and returns what the
   * (first) target returned; throws if it failed.
   */
  async runSchedule(schedule = this.#options.schedules[0]): Promise<unknown> {
    if (schedule === undefined) throw new Error('The template has no schedule rule');
    const previous = this.#scheduleRun ?? Promise.resolve();
    const run = previous
      .catch(() => {})
      .then(async () => {
        let first: unknown;
        for (const [index, functionLogicalId] of schedule.functionLogicalIds.entries()) {
          const result = await this.#options.invoke(
            functionLogicalId,
            scheduledEvent(schedule.ruleLogicalId, now()),
          );
          if ('functionError' in result) {
            this.#options.onError?.('schedule', result.functionError);
            throw new Error(
              `${functionLogicalId}: ${result.functionError.errorType}: ${result.functionError.errorMessage}`,
            );
          }
          if (index === 0) first = result.payload;
        }
        return first;
      });
    this.#scheduleRun = run;
    const settled = run.then(
      () => {},
      () => {},
    );
    this.#track(settled);
    void settled.then(() => {
      if (this.#scheduleRun === run) this.#scheduleRun = undefined;
    });
    return run;
  }

  /** Resolves when no event delivery (retries included) and no schedule run is in flight. */
  async whenIdle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Stops the timers and pending retries, then waits for invocations in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.clear();
    for (const sleeper of this.#sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.wake();
    }
    this.#sleepers.clear();
    await this.whenIdle();
  }

  async #invokeAsync(source: string, functionLogicalId: string, payload: unknown): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      const result = await this.#options.invoke(functionLogicalId, payload);
      if (!('functionError' in result)) return;
      this.#options.onError?.(source, result.functionError);
      const delay = ASYNC_RETRY_DELAYS_MS[attempt];
      if (delay === undefined || this.#closed) return;
      if (!(await this.#sleep(delay / this.#options.speed))) return;
    }
  }

  /** Waits `ms` unless the sources close first (then resolves false at once). */
  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.#sleepers.delete(sleeper);
          resolve(true);
        }, ms),
        wake: () => resolve(false),
      };
      this.#sleepers.add(sleeper);
    });
  }

  #track(promise: Promise<void>): void {
    this.#inFlight.add(promise);
    void promise.finally(() => this.#inFlight.delete(promise));
  }
}
