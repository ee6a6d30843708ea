/**
 * What of an error may reach the logs. A provider's message can quote the prompt (a moderation
 * answer often does), and a wrapper's message or a cause can repeat it, so an error whose chain
 * holds a provider error is logged by its name, code and status only, causes included. Other
 * errors are ours or the AWS SDK's, whose messages carry no prompt and no secret: their message
 * stays, for debugging.
 */
import type { ProviderError } from '../provider/provider-errors.ts';

export interface LoggableError {
  name: string;
  /** Absent when the chain holds a provider error. */
  message?: string;
  code?: string;
  status?: number;
  operation?: string;
  requestId?: string;
  retryable?: boolean;
  cause?: LoggableError;
}

const MAX_DEPTH = 5;

/** The loggable form of `error` (any thrown value). */
export function loggableError(error: unknown): LoggableError {
  return describe(error, chainHoldsProviderError(error), 0);
}

function describe(error: unknown, redact: boolean, depth: number): LoggableError {
  if (!(error instanceof Error)) return { name: typeof error };
  const out: LoggableError = { name: error.name };
  if (!redact) out.message = error.message;
  if (isProviderError(error)) {
    out.code = error.code;
    if (error.status !== undefined) out.status = error.status;
    if (error.operation !== undefined) out.operation = error.operation;
    if (error.requestId !== undefined) out.requestId = error.requestId;
    out.retryable = error.retryable;
  } else if ('code' in error && typeof error.code === 'string') {
    out.code = error.code;
  }
  if (error.cause !== undefined && depth < MAX_DEPTH) {
    out.cause = describe(error.cause, redact, depth + 1);
  }
  return out;
}

function chainHoldsProviderError(error: unknown): boolean {
  let link: unknown = error;
  for (let depth = 0; depth <= MAX_DEPTH && link instanceof Error; depth += 1) {
    if (isProviderError(link)) return true;
    link = link.cause;
  }
  return false;
}

// By shape, not instanceof: importing the provider module would pull the openai SDK into every
// function's bundle (the authorizer's included).
function isProviderError(error: Error): error is ProviderError {
  return 'providerMessage' in error && 'code' in error && 'retryable' in error;
}
