/**
 * Turns what a Step Functions Catch (or a Pass state) hands over into the job's failure reason.
 *
 * Shapes of `{ Error, Cause }`:
 * - Lambda task error: Error is the error name; Cause is a JSON string
 *   `{"errorType","errorMessage","trace"}` (the trace is dropped here).
 * - ProviderJobFailed Pass state: Cause is the provider's `{code, message}`, as an object or as a
 *   JSON string (States.JsonToString).
 * - Other Pass states and service errors (States.Timeout, PollLimitReached): Cause is plain text.
 */
import { errorPolicy } from '../shared/errors/error-policy.ts';
import type { JobError } from '../shared/jobs/job.ts';
import { redactSecrets } from '../shared/provider/provider-errors.ts';

export interface CaughtError {
  Error?: string | undefined;
  Cause?: unknown;
}

export const MAX_FAILURE_MESSAGE_LENGTH = 500;

// A provider failure whose code names a policy decision will fail the same way again.
const POLICY_CODE = /moderation|policy|safety|content_filter|blocked/i;

/** The failure reason to record: provider code when known, else the error name. */
export function describeFailure(caught: CaughtError | undefined): JobError {
  const name = nonEmpty(caught?.Error) ?? 'UnknownError';
  const cause = parseCause(caught?.Cause);
  const errorName = isGeneric(name) && cause.errorType ? cause.errorType : name;
  const code =
    cause.code ??
    providerCodeIn(errorName, cause.message) ??
    errorPolicy(errorName)?.failureCode ??
    errorName;
  return {
    code,
    message: cleanMessage(cause.message ?? errorName),
    retryable: isRetryable(errorName, code),
  };
}

interface ParsedCause {
  message?: string | undefined;
  code?: string | undefined;
  errorType?: string | undefined;
}

function parseCause(cause: unknown): ParsedCause {
  if (typeof cause === 'string') {
    const trimmed = cause.trim();
    if (trimmed.startsWith('{')) {
      try {
        return fromObject(JSON.parse(trimmed));
      } catch {
        // Not JSON after all: plain text.
      }
    }
    return { message: nonEmpty(trimmed) };
  }
  return fromObject(cause);
}

function fromObject(value: unknown): ParsedCause {
  if (typeof value !== 'object' || value === null) return {};
  const record = value as Record<string, unknown>;
  const text = (key: string) => nonEmpty(record[key]);
  if (text('errorMessage') !== undefined || text('errorType') !== undefined) {
    return { message: text('errorMessage'), errorType: text('errorType') };
  }
  return {
    code: text('code'),
    message: text('message') ?? JSON.stringify(value),
  };
}

/** Provider error messages carry `(<status> <code>` (see provider-errors.ts). */
function providerCodeIn(name: string, message: string | undefined): string | undefined {
  if (!name.startsWith('Provider') || message === undefined) return undefined;
  return /\(\d{3} ([A-Za-z0-9_.:-]+)[,)]/.exec(message)?.[1];
}

function isGeneric(name: string): boolean {
  return name === 'UnknownError' || name === 'Error' || name === 'States.TaskFailed';
}

/** Whether resubmitting could succeed: the error catalogue's `retryable`. */
function isRetryable(name: string, code: string): boolean {
  const retryable = errorPolicy(name)?.retryable;
  if (retryable === 'unless-policy-code') return !POLICY_CODE.test(code);
  return retryable === true;
}

/** One line, no stack, no secret, bounded length. */
function cleanMessage(message: string): string {
  const withoutStack = message.split(/\n\s+at\s/)[0] ?? message;
  const oneLine = redactSecrets(withoutStack).replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_FAILURE_MESSAGE_LENGTH
    ? `${oneLine.slice(0, MAX_FAILURE_MESSAGE_LENGTH - 3)}...`
    : oneLine;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}
