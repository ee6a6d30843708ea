import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RequestRateLimiter } from './limits.ts';
import { requestRateKey, utcMinute } from './limits-table.ts';
import { countInWindow } from './window-counter.ts';

export interface DynamoRequestRateLimiterOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Requests allowed per UTC minute (at least 1; use `unlimitedRequestRate` for none). */
  requestsPerMinute: number;
  /** A provider deployment's own allowance (its items apart from the deployment-wide one). */
  deployment?: string;
}

/**
 * A fixed-window counter per UTC minute: each request ADDs one to the minute's item under the
 * condition that the count is still below the limit, so every function instance draws on one
 * allowance. A fixed window may let up to twice the limit through across a minute boundary;
 * configure it below the provider's own limit (the default 20 against sora-2's 25).
 */
export class DynamoRequestRateLimiter implements RequestRateLimiter {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #limit: number;
  readonly #deployment: string | undefined;

  constructor(options: DynamoRequestRateLimiterOptions) {
    if (!Number.isInteger(options.requestsPerMinute) || options.requestsPerMinute < 1) {
      throw new RangeError('requestsPerMinute must be a positive integer');
    }
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#limit = options.requestsPerMinute;
    this.#deployment = options.deployment;
  }

  async tryTake(now: Date): Promise<boolean> {
    const minuteEnd = Math.floor(now.getTime() / 60_000 + 1) * 60;
    return countInWindow(
      this.#client,
      this.#tableName,
      requestRateKey(utcMinute(now), this.#deployment),
      this.#limit,
      minuteEnd,
    );
  }
}

/** The limiter when PROVIDER_REQUESTS_PER_MINUTE is 0: every request may go. */
export const unlimitedRequestRate: RequestRateLimiter = {
  tryTake: async () => true,
};
