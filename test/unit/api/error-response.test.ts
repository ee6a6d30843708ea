import { describe, expect, it } from 'vitest';
import {
  ClientRateLimitedError,
  ContentNotFoundError,
  PayloadTooLargeError,
  RouteNotFoundError,
} from '../../../functions/api/api-errors.ts';
import { errorResponse } from '../../../functions/api/error-response.ts';
import {
  IdempotencyConflictError,
  JobAlreadyTerminalError,
  JobNotCompletedError,
  JobNotFoundError,
  JobStartFailedError,
  ValidationError,
} from '../../../functions/shared/jobs/job-errors.ts';

const INTERNAL_DETAIL = 'arn:aws:dynamodb:us-east-1:123456789012:table/jobs at Object.send';

function bodyOf(error: unknown) {
  const response = errorResponse(error);
  return {
    statusCode: response.statusCode,
    headers: response.headers,
    body: response.body ?? '',
    json: JSON.parse(response.body ?? 'null'),
  };
}

describe('errorResponse', () => {
  it.each([
    [new ValidationError('size', 'size: must be WIDTHxHEIGHT'), 400, 'invalid_request'],
    [new JobNotFoundError(`Job x not found ${INTERNAL_DETAIL}`), 404, 'video_not_found'],
    [new ContentNotFoundError(INTERNAL_DETAIL), 404, 'content_not_found'],
    [new RouteNotFoundError(INTERNAL_DETAIL), 404, 'route_not_found'],
    [new IdempotencyConflictError(INTERNAL_DETAIL), 409, 'idempotency_conflict'],
    [new JobNotCompletedError('Job job_1 is QUEUED'), 409, 'video_not_completed'],
    [new PayloadTooLargeError(16 * 1024), 413, 'payload_too_large'],
    [
      new JobStartFailedError('job_1', false, { cause: new Error(INTERNAL_DETAIL) }),
      503,
      'start_failed',
    ],
  ])('maps %s to %i %s with a public message', (error, status, code) => {
    const response = bodyOf(error);

    expect(response.statusCode).toBe(status);
    expect(response.json.error.code).toBe(code);
    expect(response.body).not.toContain(INTERNAL_DETAIL);
    expect(response.headers?.['Content-Type']).toBe('application/json; charset=utf-8');
  });

  it('shows a validation error its message and field', () => {
    expect(bodyOf(new ValidationError('seconds', 'seconds: must be 4, 8 or 12')).json).toEqual({
      error: { code: 'invalid_request', message: 'seconds: must be 4, 8 or 12', field: 'seconds' },
    });
  });

  it('names the size limit in a 413, in KiB and bytes', () => {
    expect(bodyOf(new PayloadTooLargeError(4 * 1024 * 1024 + 64 * 1024)).json).toEqual({
      error: {
        code: 'payload_too_large',
        message: 'The request body is over the limit of 4160 KiB (4259840 bytes)',
      },
    });
  });

  it("says why a video has no content or cannot be remixed: its status, not 'not yet'", () => {
    const message = 'Job job_1 is FAILED and cannot be remixed: only a COMPLETED video can';

    expect(bodyOf(new JobNotCompletedError(message)).json).toEqual({
      error: { code: 'video_not_completed', message },
    });
  });

  it('sends Retry-After with a 503', () => {
    expect(bodyOf(new JobStartFailedError('job_1', true)).headers?.['Retry-After']).toBe('5');
  });

  it("answers a client over its rate 429 with Retry-After its window's wait, not naming the client", () => {
    const response = bodyOf(new ClientRateLimitedError('alice', 37));

    expect(response.statusCode).toBe(429);
    expect(response.headers?.['Retry-After']).toBe('37');
    expect(response.json.error.code).toBe('too_many_requests');
    expect(response.body).not.toContain('alice');
  });

  it.each([
    [
      'an SDK error',
      Object.assign(new Error(`AccessDeniedException: ${INTERNAL_DETAIL}`), {
        name: 'AccessDeniedException',
      }),
    ],
    [
      'an error of the domain the API does not expose',
      new JobAlreadyTerminalError(INTERNAL_DETAIL),
    ],
    ['a TypeError', new TypeError(`Cannot read properties of undefined ${INTERNAL_DETAIL}`)],
    ['a thrown string', INTERNAL_DETAIL],
    [
      'an object named like a mapped error without being an Error',
      { name: 'ValidationError', message: INTERNAL_DETAIL },
    ],
  ])('answers %s with a bare 500', (_what, error) => {
    const response = bodyOf(error);

    expect(response.statusCode).toBe(500);
    expect(response.json).toEqual({
      error: { code: 'internal_error', message: 'Internal server error' },
    });
  });
});
