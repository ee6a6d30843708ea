/** Errors of the task handlers; their policy is keyed by name in shared/errors/error-policy.ts. */

/** The job has no provider job id where one is needed: the create step never recorded one. */
export class ProviderJobMissingError extends Error {
  override name = 'ProviderJobMissingError';
}

/** A job's reference image is no longer in the bucket as it was submitted: not retried. */
export class ReferenceImageMissingError extends Error {
  override name = 'ReferenceImageMissingError';
}
