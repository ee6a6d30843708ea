/** Errors of the HTTP layer itself (domain errors live in `shared/jobs/job-errors.ts`). */

/** No route matches the request path. */
export class RouteNotFoundError extends Error {
  override name = 'RouteNotFoundError';
}

/** The request body is over the size the API accepts. */
export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
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
