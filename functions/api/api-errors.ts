/** Errors of the HTTP layer itself (domain errors live in `shared/jobs/job-errors.ts`). */

/** No route matches the request path. */
export class RouteNotFoundError extends Error {
  override name = 'RouteNotFoundError';
}

/**
 * The request body (or one of its form fields) is over the size the API accepts. Its message is
 * public: it names the limit, in KiB and bytes, so the client knows how far to shorten.
 */
export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
  readonly limitBytes: number;

  constructor(limitBytes: number, what = 'The request body') {
    const kib = limitBytes / 1024;
    const shown = Number.isInteger(kib)
      ? `${kib} KiB (${limitBytes} bytes)`
      : `${limitBytes} bytes`;
    super(`${what} is over the limit of ${shown}`);
    this.limitBytes = limitBytes;
  }
}

/** The request body is not in a media type the route accepts (POST /videos: application/json). */
export class UnsupportedMediaTypeError extends Error {
  override name = 'UnsupportedMediaTypeError';
}

/** The job completed but has no content of the asked-for variant. */
export class ContentNotFoundError extends Error {
  override name = 'ContentNotFoundError';
}

/** The client sent more requests than its rate allows (client-rate.ts). */
export class ClientRateLimitedError extends Error {
  override name = 'ClientRateLimitedError';
  /** Seconds until the client's window frees: the answer's Retry-After. */
  readonly retryAfterSeconds: number;

  constructor(client: string, retryAfterSeconds: number) {
    super(`Client ${client} is over its request rate`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
