import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type ErrorPolicy, errorPolicy } from '../shared/errors/error-policy.ts';
import {
  JobNotCompletedError,
  JobStartFailedError,
  ValidationError,
} from '../shared/jobs/job-errors.ts';
import { ClientRateLimitedError, PayloadTooLargeError } from './api-errors.ts';
import { jsonResponse } from './json-response.ts';

/**
 * The one place where errors become HTTP responses: `{ error: { code, message, field? } }`.
 * Only errors the error catalogue (functions/shared/errors/error-policy.ts) gives an `http`
 * answer reach the client, each with a fixed public message (a ValidationError,
 * a PayloadTooLargeError and a JobNotCompletedError carry their own, which we wrote); anything
 * else is a 500 with a generic message, never a stack, an SDK message or a cause.
 */

type Mapping = NonNullable<ErrorPolicy['http']>;

const INTERNAL: Mapping = {
  status: 500,
  code: 'internal_error',
  message: 'Internal server error',
};

// How long a client should wait before retrying after a failed start.
const RETRY_AFTER_SECONDS = 5;

/** The public mapping of an error: status and code (for logs and metrics too). */
export function describeError(error: unknown): Mapping {
  if (!(error instanceof Error)) return INTERNAL;
  return errorPolicy(error.name)?.http ?? INTERNAL;
}

export function errorResponse(error: unknown): APIGatewayProxyStructuredResultV2 {
  const mapping = describeError(error);
  const body: { code: string; message: string; field?: string } = {
    code: mapping.code,
    message: mapping.message,
  };
  const headers: Record<string, string> = {};
  if (error instanceof ValidationError) {
    body.message = error.message;
    body.field = error.field;
  } else if (error instanceof PayloadTooLargeError) {
    // Built from the limit alone (api-errors.ts): the client learns how far to shorten.
    body.message = error.message;
  } else if (error instanceof JobNotCompletedError) {
    // Names the caller's own job and its status (api-handler.ts): a FAILED job is not "not yet".
    body.message = error.message;
  } else if (error instanceof JobStartFailedError) {
    if (error.jobRecordedAsFailed) {
      body.message = 'The video could not be started and was marked FAILED; submit it again';
    }
    headers['Retry-After'] = String(RETRY_AFTER_SECONDS);
  } else if (error instanceof ClientRateLimitedError) {
    headers['Retry-After'] = String(error.retryAfterSeconds);
  }
  return jsonResponse(mapping.status, { error: body }, headers);
}
