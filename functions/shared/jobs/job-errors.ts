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

/** The job already has a provider job, so it can no longer be put back to wait (deferred). */
export class JobAlreadyStartedError extends Error {
  override name = 'JobAlreadyStartedError';
}

/**
 * The provider job is held by another of our jobs (the ledger says so): a job never adopts a
 * provider job that another job claimed.
 */
export class ProviderJobClaimedError extends Error {
  override name = 'ProviderJobClaimedError';
  readonly providerJobId: string;
  readonly claimedBy: string;

  constructor(providerJobId: string, claimedBy: string, options?: ErrorOptions) {
    super(`Provider job ${providerJobId} is already held by job ${claimedBy}`, options);
    this.providerJobId = providerJobId;
    this.claimedBy = claimedBy;
  }
}

/** A job with this id exists already (an id collision; never a replay, which goes by key). */
export class JobAlreadyExistsError extends Error {
  override name = 'JobAlreadyExistsError';
}

/** The job's video is asked for before the job COMPLETED (or after it FAILED). */
export class JobNotCompletedError extends Error {
  override name = 'JobNotCompletedError';
}

/**
 * The job was recorded but its workflow could not be started. `jobRecordedAsFailed` tells
 * whether the job was closed as FAILED (no idempotency key: a retry would be a new job) or left
 * QUEUED so that a retry with the same idempotency key starts it.
 */
export class JobStartFailedError extends Error {
  override name = 'JobStartFailedError';
  readonly jobId: string;
  readonly jobRecordedAsFailed: boolean;

  constructor(jobId: string, jobRecordedAsFailed: boolean, options?: ErrorOptions) {
    super(`The workflow of job ${jobId} could not be started`, options);
    this.jobId = jobId;
    this.jobRecordedAsFailed = jobRecordedAsFailed;
  }
}

/** A job asked to be cancelled has already COMPLETED or FAILED: there is nothing to stop. */
export class JobNotCancellableError extends Error {
  override name = 'JobNotCancellableError';
}
