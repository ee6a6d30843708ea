/**
 * Amazon Bedrock's errors mapped to the provider errors the workflow acts on, with the same codes
 * the /v1/videos client uses, so a job fails (or waits) the same way whichever provider ran it.
 */
import {
  classifyProviderError,
  type ProviderError,
  ProviderNotFoundError,
  type ProviderOperation,
  ProviderRateLimitedError,
  ProviderRejectedError,
  ProviderTransientError,
} from '../provider-errors.ts';

/** What an AWS SDK v3 service exception carries. */
interface ServiceException {
  name: string;
  message: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

function isServiceException(error: unknown): error is ServiceException {
  return (
    error instanceof Error &&
    '$metadata' in error &&
    typeof (error as ServiceException).$metadata?.httpStatusCode === 'number'
  );
}

/**
 * Maps a Bedrock (or S3, for the output object) SDK error to a ProviderError. Errors without an
 * HTTP answer (refused connections, timeouts) take the /v1/videos rules: a create that may have
 * been sent is ambiguous and reconciled through ListAsyncInvokes by its clientRequestToken.
 */
export function classifyBedrockError(error: unknown, operation: ProviderOperation): ProviderError {
  if (!isServiceException(error)) return classifyProviderError(error, { operation });
  const status = error.$metadata?.httpStatusCode;
  const fields = {
    providerMessage: error.message.slice(0, 500),
    status,
    operation,
    requestId: error.$metadata?.requestId,
  };
  // "(status code, ...)" as the /v1/videos client writes it: failure-reason.ts reads the code there.
  const summary = (what: string, code: string) =>
    `${operation}: ${what} (${status} ${code}, ${error.name}): ${fields.providerMessage}`;
  switch (error.name) {
    case 'ThrottlingException':
      return new ProviderRateLimitedError(summary('throttled by Bedrock', 'rate_limited'), {
        ...fields,
        code: 'rate_limited',
      });
    case 'ServiceQuotaExceededException':
      // Too many invocations in flight for the account: one ends, and there is room again.
      return new ProviderRateLimitedError(
        summary('Bedrock service quota reached', 'service_quota_exceeded'),
        { ...fields, code: 'service_quota_exceeded' },
      );
    case 'AccessDeniedException':
      return new ProviderRejectedError(summary('access denied', 'forbidden'), {
        ...fields,
        code: 'forbidden',
      });
    case 'ValidationException': {
      const code = failureCode(error.message, 'invalid_request');
      return new ProviderRejectedError(summary('rejected by Bedrock', code), { ...fields, code });
    }
    case 'ResourceNotFoundException':
    case 'NoSuchKey':
    case 'NotFound':
      if (operation === 'create') {
        return new ProviderRejectedError(summary('model not found', 'model_not_found'), {
          ...fields,
          code: 'model_not_found',
        });
      }
      return new ProviderNotFoundError(summary('not found', 'not_found'), {
        ...fields,
        code: 'not_found',
      });
    case 'ConflictException':
      return new ProviderTransientError(summary('conflicting request', 'conflict'), {
        ...fields,
        code: 'conflict',
      });
  }
  if (error.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new ProviderTransientError(summary('Bedrock error', 'server_error'), {
      ...fields,
      code: 'server_error',
    });
  }
  return new ProviderRejectedError(summary('rejected by Bedrock', 'invalid_request'), {
    ...fields,
    code: 'invalid_request',
  });
}

/**
 * The code of an invocation Bedrock reports as Failed, from its failure message: policy
 * refusals fail the same way again, capacity and throttling may not.
 */
export function failureCode(message: string, fallback = 'video_generation_failed'): string {
  if (/content|policy|moderat|filter|safety|blocked/i.test(message)) return 'moderation_blocked';
  if (/throttl|too many requests/i.test(message)) return 'rate_limited';
  if (/quota/i.test(message)) return 'service_quota_exceeded';
  if (/access ?denied|not authori[sz]ed|permission/i.test(message)) return 'forbidden';
  if (/validation|invalid/i.test(message)) return 'invalid_request';
  return fallback;
}
