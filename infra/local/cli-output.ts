import { LocalStackError } from './local-errors.ts';
import { printable } from './terminal-text.ts';

/**
 * How the CLIs end on an error: one line (one per problem when there are several), no stack trace for problems the user can fix (and
 * for anything else unless DEBUG is set), and a non-zero exit code. A message can quote the API, a
 * provider or a prompt: its control characters are escaped.
 */
export function exitWithError(command: string, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  const lines = error instanceof LocalStackError ? error.lines : [message.split('\n')[0]];
  for (const line of lines) process.stderr.write(`${command}: ${printable(line ?? '')}\n`);
  if (!(error instanceof LocalStackError) && process.env.DEBUG && error instanceof Error) {
    process.stderr.write(`${error.stack ?? ''}\n`);
  }
  process.exit(1);
}

/** Parses a positive number flag, or exits naming the flag. */
export function positiveNumber(
  command: string,
  flag: string,
  value: string | undefined,
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    exitWithError(
      command,
      new LocalStackError('invalid-option', `${flag} must be a positive number, got "${value}"`),
    );
  }
  return number;
}
