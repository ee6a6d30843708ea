/** Errors of the job domain. Names are stable: the API maps them to status codes. */

/** A request field is missing or invalid; `field` names it (dotted path for nested fields). */
export class ValidationError extends Error {
  override name = 'ValidationError';
  readonly field: string;

  constructor(field: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}

/** The idempotency key was used before with a different request. */
export class IdempotencyConflictError extends Error {
  override name = 'IdempotencyConflictError';
}

export class JobNotFoundError extends Error {
  override name = 'JobNotFoundError';
}

/** A write lost the race against a step that already finished the job. */
export class JobAlreadyTerminalError extends Error {
  override name = 'JobAlreadyTerminalError';
}
