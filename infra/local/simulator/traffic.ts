import { ApiError, rateLimited } from './api-error.ts';
import type { SimulatorKnobs } from './knobs.ts';
import { createPrng, type Prng } from './prng.ts';

/** Injected server errors and the per-minute request limit. */
export class TrafficControl {
  private faults: Prng;
  // Instants (ms) of the requests accepted inside the current rate window.
  private accepted: number[] = [];

  constructor(seed: number) {
    this.faults = createPrng(seed, 'faults');
  }

  reseed(seed: number): void {
    this.faults = createPrng(seed, 'faults');
  }

  /**
   * A 5xx to answer instead of serving the request, if one is due: an `unavailable` outage, then
   * the `failNextRequests` budget (consumed here), then the random `serverErrorRate`.
   */
  injectedFailure(knobs: SimulatorKnobs): ApiError | null {
    if (knobs.unavailable) return unavailable();
    if (knobs.failNextRequests > 0) {
      knobs.failNextRequests -= 1;
      return unavailable();
    }
    if (knobs.serverErrorRate > 0 && this.faults.next() < knobs.serverErrorRate) {
      return this.faults.next() < 0.5 ? unavailable() : internalError();
    }
    return null;
  }

  /** Counts a request against `requestsPerMinute`; a 429 when the window is full. */
  admit(knobs: SimulatorKnobs, nowMs: number): ApiError | null {
    const limit = knobs.requestsPerMinute;
    if (limit === null) return null;
    const windowMs = 60_000 / knobs.speed;
    this.accepted = this.accepted.filter((at) => at > nowMs - windowMs);
    const [oldest] = this.accepted;
    if (this.accepted.length >= limit && oldest !== undefined) {
      return rateLimited(
        `Rate limit reached: ${limit} requests per minute. Please try again later.`,
        oldest + windowMs - nowMs,
      );
    }
    this.accepted.push(nowMs);
    return null;
  }
}

const unavailable = (): ApiError =>
  new ApiError(503, {
    message: 'The server is overloaded or not ready yet. Please retry your request.',
    type: 'server_error',
    code: 'service_unavailable',
    retryAfterMs: 1000,
  });

const internalError = (): ApiError =>
  new ApiError(500, {
    message: 'The server had an error while processing your request. Sorry about that!',
    type: 'server_error',
    code: 'server_error',
  });
