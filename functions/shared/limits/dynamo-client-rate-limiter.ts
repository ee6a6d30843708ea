import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClientRateConfig } from './client-rate-config.ts';
import { clientRequestsKey } from './limits-table.ts';
import { countInWindow } from './window-counter.ts';

/** Whether a client's request may run now; when not, how long until its window frees. */
export type ClientRateAnswer = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Each API client's own request allowance, shared by every instance of the API function. */
export interface ClientRateLimiter {
  /** Counts one request of `client` at `now`; refused when its window's allowance is spent. */
  take(client: string, now: Date): Promise<ClientRateAnswer>;
}

export interface DynamoClientRateLimiterOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** At least 1 request per window (use `clientRateLimiter` for 0, no limit). */
  rate: ClientRateConfig;
}

/**
 * A fixed-window counter per client, as the provider's request allowance
 * (dynamo-request-rate-limiter.ts): each request ADDs one to its client's item for the current
 * window under the condition that the count is still below the limit. One write per request,
 * a refused one included (DynamoDB charges a failed condition as a write). A fixed window lets
 * up to twice the limit through across a window boundary, never more; the wait it answers is
 * known without a read: the rest of the window.
 */
export class DynamoClientRateLimiter implements ClientRateLimiter {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #limit: number;
  readonly #windowMs: number;

  constructor(options: DynamoClientRateLimiterOptions) {
    const { requestsPerWindow, windowSeconds } = options.rate;
    if (!Number.isInteger(requestsPerWindow) || requestsPerWindow < 1) {
      throw new RangeError('requestsPerWindow must be a positive integer');
    }
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1) {
      throw new RangeError('windowSeconds must be a positive integer');
    }
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#limit = requestsPerWindow;
    this.#windowMs = windowSeconds * 1000;
  }

  async take(client: string, now: Date): Promise<ClientRateAnswer> {
    const windowStartMs = Math.floor(now.getTime() / this.#windowMs) * this.#windowMs;
    const windowEndMs = windowStartMs + this.#windowMs;
    const windowStart = new Date(windowStartMs).toISOString().slice(0, 19);
    const counted = await countInWindow(
      this.#client,
      this.#tableName,
      clientRequestsKey(client, windowStart),
      this.#limit,
      windowEndMs / 1000,
    );
    if (counted) return { allowed: true };
    // Whole seconds (Retry-After has no fractions), rounded up so a retry lands in a new window.
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((windowEndMs - now.getTime()) / 1000)),
    };
  }
}

/** Every request may run: the limiter of a rate of 0. */
export const unlimitedClientRate: ClientRateLimiter = {
  take: async () => ({ allowed: true }),
};

/** The limiter for `rate` on the jobs table (a rate of 0 requests: no limit, no writes). */
export function clientRateLimiter(
  client: DynamoDBDocumentClient,
  tableName: string,
  rate: ClientRateConfig,
): ClientRateLimiter {
  return rate.requestsPerWindow === 0
    ? unlimitedClientRate
    : new DynamoClientRateLimiter({ client, tableName, rate });
}
