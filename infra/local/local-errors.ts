/**
 * The one error type the local stack raises for problems a user can fix (no Java, a taken port,
 * an emulator that would not start). `npm start` prints its message as one line, without a stack.
 */
export type LocalStackErrorCode =
  | 'java-missing'
  | 'java-too-old'
  | 'port-in-use'
  | 'emulator-failed'
  | 'template-unsupported'
  | 'stack-running'
  | 'job-failed'
  | 'invalid-option';

export class LocalStackError extends Error {
  override name = 'LocalStackError';
  readonly code: LocalStackErrorCode;

  constructor(code: LocalStackErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
