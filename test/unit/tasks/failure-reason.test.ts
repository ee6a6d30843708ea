import { describe, expect, it } from 'vitest';
import {
  describeFailure,
  MAX_FAILURE_MESSAGE_LENGTH,
} from '../../../functions/tasks/failure-reason.ts';

/** The Cause Step Functions builds from a Lambda function's error. */
function lambdaCause(errorType: string, errorMessage: string): string {
  return JSON.stringify({
    errorType,
    errorMessage,
    trace: [`${errorType}: ${errorMessage}`, '    at create (/var/task/index.mjs:1:1)'],
  });
}

describe('describeFailure', () => {
  it('takes the provider code from a rejected create and marks it not retryable', () => {
    const reason = describeFailure({
      Error: 'ProviderRejectedError',
      Cause: lambdaCause(
        'ProviderRejectedError',
        'create: rejected by the provider (400 moderation_blocked): Your request was blocked by our moderation system.',
      ),
    });

    expect(reason).toEqual({
      code: 'moderation_blocked',
      message:
        'create: rejected by the provider (400 moderation_blocked): Your request was blocked by our moderation system.',
      retryable: false,
    });
  });

  it('reads the code before a param in the provider message', () => {
    const reason = describeFailure({
      Error: 'ProviderRejectedError',
      Cause: lambdaCause(
        'ProviderRejectedError',
        'create: rejected by the provider (400 invalid_value, param size): bad size',
      ),
    });

    expect(reason.code).toBe('invalid_value');
  });

  it('marks exhausted transient retries as retryable, falling back to the error name', () => {
    const reason = describeFailure({
      Error: 'ProviderTransientError',
      Cause: lambdaCause(
        'ProviderTransientError',
        'download: received 10 bytes, Content-Length said 20',
      ),
    });

    expect(reason).toMatchObject({ code: 'ProviderTransientError', retryable: true });
  });

  it('treats rate limiting and ambiguous creates as retryable', () => {
    const limited = describeFailure({
      Error: 'ProviderRateLimitedError',
      Cause: lambdaCause(
        'ProviderRateLimitedError',
        'create: rate limited (429 rate_limit_exceeded): slow down',
      ),
    });
    const ambiguous = describeFailure({
      Error: 'ProviderAmbiguousCreateError',
      Cause: lambdaCause(
        'ProviderAmbiguousCreateError',
        'create: timed out after the request was sent',
      ),
    });

    expect(limited).toMatchObject({ code: 'rate_limit_exceeded', retryable: true });
    expect(ambiguous).toMatchObject({ code: 'ProviderAmbiguousCreateError', retryable: true });
  });

  it('uses the provider failure handed over by the ProviderJobFailed Pass state as an object', () => {
    const reason = describeFailure({
      Error: 'ProviderJobFailed',
      Cause: {
        code: 'video_generation_failed',
        message: 'The renderer could not complete this prompt.',
      },
    });

    expect(reason).toEqual({
      code: 'video_generation_failed',
      message: 'The renderer could not complete this prompt.',
      retryable: true,
    });
  });

  it('reads a provider failure serialized to a JSON string, and keeps policy failures final', () => {
    const reason = describeFailure({
      Error: 'ProviderJobFailed',
      Cause: JSON.stringify({ code: 'moderation_blocked', message: 'Output blocked.' }),
    });

    expect(reason).toEqual({
      code: 'moderation_blocked',
      message: 'Output blocked.',
      retryable: false,
    });
  });

  it('keeps a plain-text cause from a Pass state and treats the poll limit as retryable', () => {
    const reason = describeFailure({
      Error: 'PollLimitReached',
      Cause: 'The provider job did not finish within 120 polls',
    });

    expect(reason).toEqual({
      code: 'PollLimitReached',
      message: 'The provider job did not finish within 120 polls',
      retryable: true,
    });
  });

  it('treats a state machine timeout and Lambda service failures as retryable', () => {
    expect(describeFailure({ Error: 'States.Timeout', Cause: '' }).retryable).toBe(true);
    expect(
      describeFailure({ Error: 'Lambda.Unknown', Cause: 'The function timed out' }).retryable,
    ).toBe(true);
  });

  it('treats content that is not an MP4 as final', () => {
    const reason = describeFailure({
      Error: 'InvalidContentError',
      Cause: lambdaCause('InvalidContentError', 'content is not an MP4: it starts 0x3c68746d'),
    });

    expect(reason).toMatchObject({ code: 'InvalidContentError', retryable: false });
  });

  it('takes the name from the Cause when the Error is generic', () => {
    const reason = describeFailure({
      Error: 'States.TaskFailed',
      Cause: lambdaCause('StorageError', 'S3 failed uploading: InternalError'),
    });

    expect(reason).toMatchObject({ code: 'StorageError', retryable: true });
  });

  it('never records a stack trace, a secret or an unbounded message', () => {
    const reason = describeFailure({
      Error: 'Error',
      Cause: `Authorization: Bearer sk-live-abcdefghijklmnop failed ${'x'.repeat(2000)}\n    at fn (/var/task/index.mjs:1:1)`,
    });

    expect(reason.message).not.toContain('sk-live-abcdefghijklmnop');
    expect(reason.message).not.toContain('/var/task');
    expect(reason.message.length).toBeLessThanOrEqual(MAX_FAILURE_MESSAGE_LENGTH);
  });

  it('still yields a reason when the error is missing', () => {
    const reason = describeFailure(undefined);

    expect(reason).toEqual({ code: 'UnknownError', message: 'UnknownError', retryable: false });
  });

  it('names content that expired before the download video_expired, whoever noticed', () => {
    const reason = describeFailure({
      Error: 'ProviderContentExpiredError',
      Cause: JSON.stringify({
        errorType: 'ProviderContentExpiredError',
        errorMessage: 'download: content of video_1 expired at 2026-03-01T11:00:00.000Z',
      }),
    });

    expect(reason).toMatchObject({ code: 'video_expired', retryable: true });
  });
});
