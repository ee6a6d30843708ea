import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ERROR_POLICIES,
  type ErrorName,
  errorCountedBy,
  errorPolicy,
  LAMBDA_SERVICE_ERRORS,
  RETRY_SHAPES,
  retriedErrors,
} from '../../../functions/shared/errors/error-policy.ts';
import { describeFailure } from '../../../functions/tasks/failure-reason.ts';
import { isResumable } from '../../../functions/tasks/record-failure.ts';
import { aJob } from '../../support/job-fixtures.ts';

const NAMES = Object.keys(ERROR_POLICIES) as ErrorName[];

// The facts below are written out on purpose: a wrong edit to the catalogue fails here, not
// only in the readers that follow it.
describe('the error catalogue pins', () => {
  it('which failures let a new execution continue the provider work', () => {
    const resuming = NAMES.filter((name) => errorPolicy(name)?.resumes === true);

    expect(resuming.sort()).toEqual(
      [
        'ProviderTransientError',
        'ProviderRateLimitedError',
        'ProviderAmbiguousCreateError',
        'RequestRateLimitedError',
        'LimitContentionError',
        'StorageError',
        'PollLimitReached',
        'States.Timeout',
        'States.TaskFailed',
        ...LAMBDA_SERVICE_ERRORS,
        'Sandbox.Timedout',
      ].sort(),
    );
    expect(errorPolicy('Lambda.Unknown')?.resumes).toBe(true);
    expect(errorPolicy('Sandbox.Anything')?.resumes).toBe(true);
    expect(errorPolicy('ProviderRejectedError')?.resumes).toBeUndefined();
  });

  it('which failures a resubmission could get past', () => {
    const retryable = NAMES.filter((name) => errorPolicy(name)?.retryable === true);

    expect(retryable.sort()).toEqual(
      [
        'ProviderRateLimitedError',
        'ProviderTransientError',
        'ProviderAmbiguousCreateError',
        'ProviderContentExpiredError',
        'ProviderNotFoundError',
        'StorageError',
        'BudgetExceededError',
        'RequestRateLimitedError',
        'LimitContentionError',
        'PollLimitReached',
        'States.Timeout',
        'States.HeartbeatTimeout',
        ...LAMBDA_SERVICE_ERRORS,
      ].sort(),
    );
    expect(errorPolicy('ProviderJobFailed')?.retryable).toBe('unless-policy-code');
    expect(errorPolicy('Lambda.Unknown')?.retryable).toBe(true);
  });

  it('the failure codes that replace an error name', () => {
    const codes = Object.fromEntries(
      NAMES.flatMap((name) => {
        const code = errorPolicy(name)?.failureCode;
        return code === undefined ? [] : [[name, code]];
      }),
    );

    expect(codes).toEqual({
      BudgetExceededError: 'budget_exceeded',
      ProviderContentExpiredError: 'video_expired',
    });
  });

  it('the HTTP answer of each API error', () => {
    const statuses = Object.fromEntries(
      NAMES.flatMap((name) => {
        const http = errorPolicy(name)?.http;
        return http === undefined ? [] : [[name, `${http.status} ${http.code}`]];
      }),
    );

    expect(statuses).toEqual({
      ValidationError: '400 invalid_request',
      JobNotFoundError: '404 video_not_found',
      ContentNotFoundError: '404 content_not_found',
      RouteNotFoundError: '404 route_not_found',
      IdempotencyConflictError: '409 idempotency_conflict',
      JobNotCancellableError: '409 video_not_cancellable',
      JobNotCompletedError: '409 video_not_completed',
      PayloadTooLargeError: '413 payload_too_large',
      UnsupportedMediaTypeError: '415 unsupported_media_type',
      ClientRateLimitedError: '429 too_many_requests',
      JobStartFailedError: '503 start_failed',
    });
  });

  it('the provider errors the alarms count', () => {
    expect(errorCountedBy('ProviderRateLimited')).toBe('ProviderRateLimitedError');
    expect(errorCountedBy('ProviderServerErrors')).toBe('ProviderTransientError');
  });

  it('each task retrier: its errors and timing, in the order Step Functions tries them', () => {
    const retriers = (task: Parameters<typeof retriedErrors>[0]) =>
      (Object.keys(RETRY_SHAPES) as (keyof typeof RETRY_SHAPES)[]).flatMap((shape) => {
        const errors = retriedErrors(task, shape);
        return errors.length === 0 ? [] : [`${shape}: ${errors.join(' ')}`];
      });
    const lambda = `lambdaService: ${LAMBDA_SERVICE_ERRORS.join(' ')}`;

    expect(retriers('AdmitJob')).toEqual([
      lambda,
      'idempotentTimeout: Sandbox.Timedout',
      'limits: RequestRateLimitedError LimitContentionError',
    ]);
    expect(retriers('CreateProviderJob')).toEqual([
      lambda,
      'rateLimited: ProviderRateLimitedError',
      'transient: ProviderTransientError',
      'ambiguousCreate: ProviderAmbiguousCreateError',
      'limits: RequestRateLimitedError LimitContentionError',
    ]);
    expect(retriers('PollProviderJob')).toEqual([
      lambda,
      'idempotentTimeout: Sandbox.Timedout',
      'rateLimited: ProviderRateLimitedError',
      'transient: ProviderTransientError',
      'limits: RequestRateLimitedError LimitContentionError',
    ]);
    expect(retriers('DownloadVideo')).toEqual([
      lambda,
      'idempotentTimeout: Sandbox.Timedout',
      'rateLimited: ProviderRateLimitedError',
      'transient: ProviderTransientError',
      'downloadAllowance: RequestRateLimitedError',
      'limits: LimitContentionError',
    ]);
    expect(retriers('RecordFailure')).toEqual([lambda, 'recordFailure: States.ALL']);
    expect(RETRY_SHAPES.rateLimited).toEqual({
      intervalSeconds: 10,
      maxAttempts: 3,
      backoffRate: 2,
      maxDelaySeconds: 120,
    });
  });

  it('no policy for a name it does not list', () => {
    expect(errorPolicy('InventedError')).toBeUndefined();
    expect(errorPolicy('toString')).toBeUndefined();
  });
});

describe('the catalogue names errors that exist', () => {
  const classNames = [
    'functions/shared/provider/provider-errors.ts',
    'functions/shared/limits/limit-errors.ts',
    'functions/shared/storage/storage-errors.ts',
    'functions/tasks/task-errors.ts',
    'functions/api/api-errors.ts',
    'functions/shared/jobs/job-errors.ts',
  ].flatMap((path) => {
    const source = readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
    return [...source.matchAll(/name = '(\w+)'/g)].map((match) => match[1]);
  });

  it.each(NAMES.filter((name) => !name.includes('.') && !/LimitReached$|JobFailed$/.test(name)))(
    '%s is the name of an error class',
    (name) => {
      expect(classNames).toContain(name);
    },
  );

  it.each(
    classNames.filter((name) =>
      /^(Provider|RequestRate|LimitContention|Budget|Storage|InvalidContent)/.test(name ?? ''),
    ),
  )('%s (a workflow error) has a policy', (name) => {
    expect(errorPolicy(name ?? '')).toBeDefined();
  });
});

describe('the readers follow the catalogue', () => {
  it.each(NAMES)('RecordFailure resumes after %s exactly when the catalogue says', (name) => {
    const job = aJob({ providerJobId: 'video_1' });

    expect(isResumable(job, { Error: name })).toBe(errorPolicy(name)?.resumes === true);
  });

  it.each(NAMES)('the failure of %s is retryable exactly when the catalogue says', (name) => {
    const retryable = errorPolicy(name)?.retryable;

    expect(describeFailure({ Error: name, Cause: 'x' }).retryable).toBe(
      retryable === true || retryable === 'unless-policy-code',
    );
  });
});
