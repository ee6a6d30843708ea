/** Errors of the storage step. Names are part of the state machine's contract (Retry/Catch). */

/** The provider served something that is not what was asked for (e.g. not an MP4): not retried. */
export class InvalidContentError extends Error {
  override name = 'InvalidContentError';
}

/** S3 refused or failed a write, or a stored object did not match what was sent. */
export class StorageError extends Error {
  override name = 'StorageError';
}
