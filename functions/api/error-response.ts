import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  JobNotCompletedError,
  JobStartFailedError,
  ValidationError,
} from '../shared/jobs/job-errors.ts';
import { ClientRateLimitedError, PayloadTooLargeError } from './api-errors.ts';
import { jsonResponse } from './json-response.ts';

/**
 * The one place where errors become HTTP responses: `{ error: { code, message, field? } }`.
 * Only errors listed here reach the client, each with a fixed public message (a ValidationError,
 * a PayloadTooLargeError and a JobNotCompletedError carry their own, which we wrote); anything
 * else is a 500 with a generic message, never a stack, an SDK message or a cause.
 */

interface Mapping {
  status: number;
  code: string;
  message: string;
}

const MAPPINGS: Readonly<Record<string, Mapping>> = {
  ValidationError: { status: 400, code: 'invalid_request', message: 'The request is invalid' },
  JobNotFoundError: { status: 404, code: 'video_not_found', message: 'No video with this id' },
  ContentNotFoundError: {
    status: 404,
    code: 'content_not_found',
    message: 'This video has no content of the requested variant',
  },
  RouteNotFoundError: { status: 404, code: 'route_not_found', message: 'No such route' },
  IdempotencyConflictError: {
    status: 409,
    code: 'idempotency_conflict',
    message: 'This Idempotency-Key was already used with a different request',
  },
  JobNotCancellableError: {
    status: 409,
    code: 'video_not_cancellable',
    message: 'The video already COMPLETED or FAILED: there is nothing to cancel',
  },
  JobNotCompletedError: {
    status: 409,
    code: 'video_not_completed',
    message:
      'The video is not COMPLETED (the message names its status): it has no content and cannot be remixed',
  },
  PayloadTooLargeError: {
    status: 413,
    code: 'payload_too_large',
    message: 'The request body is over its size limit (the message names it)',
  },
  UnsupportedMediaTypeError: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'Send the body as JSON with Content-Type: application/json',
  },
  ClientRateLimitedError: {
    status: 429,
    code: 'too_many_requests',
    message: 'Too many requests from this client; retry after the Retry-After seconds',
  },
  JobStartFailedError: {
    status: 503,
    code: 'start_failed',
    message: 'The video was recorded but could not be started; retry with the same Idempotency-Key',
  },
};

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
  return Object.hasOwn(MAPPINGS, error.name) ? (MAPPINGS[error.name] ?? INTERNAL) : INTERNAL;
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
