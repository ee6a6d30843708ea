import { describe, expect, it } from 'vitest';
import { loggableError } from '../../../functions/shared/observability/loggable-error.ts';
import {
  ProviderRejectedError,
  ProviderTransientError,
} from '../../../functions/shared/provider/provider-errors.ts';

const PROMPT = 'A violet heron over a frozen canal';

describe('a loggable error', () => {
  it("keeps a provider error's name, code and status, never its message or its cause's", () => {
    const sdkError = new Error(`400 Blocked: "${PROMPT}"`);
    const error = new ProviderRejectedError(
      `create: rejected (400 moderation_blocked): Blocked: "${PROMPT}"`,
      {
        code: 'moderation_blocked',
        providerMessage: `Blocked: "${PROMPT}"`,
        status: 400,
        operation: 'create',
        requestId: 'req_1',
      },
      { cause: sdkError },
    );

    const logged = loggableError(error);

    expect(logged).toEqual({
      name: 'ProviderRejectedError',
      code: 'moderation_blocked',
      status: 400,
      operation: 'create',
      requestId: 'req_1',
      retryable: false,
      cause: { name: 'Error' },
    });
    expect(JSON.stringify(logged)).not.toContain('heron');
  });

  it('redacts a wrapper whose cause is a provider error', () => {
    const cause = new ProviderTransientError(`poll: 503: "${PROMPT}"`, {
      code: 'server_error',
      providerMessage: PROMPT,
    });
    const error = new Error(`Task failed: ${cause.message}`, { cause });

    expect(JSON.stringify(loggableError(error))).not.toContain('heron');
  });

  it("keeps the message of an error that is not the provider's", () => {
    const error = new Error('S3 failed writing s3://bucket/videos/job_1/video.mp4: AccessDenied');

    expect(loggableError(error)).toEqual({ name: 'Error', message: error.message });
  });
});
