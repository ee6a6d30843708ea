/** Errors of the task handlers. Names are part of the state machine's contract (Retry/Catch). */

/** The job has no provider job id where one is needed: the create step never recorded one. */
export class ProviderJobMissingError extends Error {
  override name = 'ProviderJobMissingError';
}

/** A required environment variable is missing or empty. */
export class TaskConfigError extends Error {
  override name = 'TaskConfigError';
}

/** A job's reference image is no longer in the bucket as it was submitted: not retried. */
export class ReferenceImageMissingError extends Error {
  override name = 'ReferenceImageMissingError';
}
