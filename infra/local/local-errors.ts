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
  | 'provider-settings'
  | 'provider-unreachable'
  | 'invalid-option';

export class LocalStackError extends Error {
  override name = 'LocalStackError';
  readonly code: LocalStackErrorCode;
  /** One line per problem when there are several (the CLIs print each); else the message. */
  readonly lines: readonly string[];

  constructor(
    code: LocalStackErrorCode,
    message: string,
    options?: ErrorOptions & { lines?: readonly string[] },
  ) {
    super(message, options);
    this.code = code;
    this.lines = options?.lines ?? [message.split('\n')[0] ?? message];
  }
}
