/**
 * What each error name means, in one place: whether the workflow retries it (and how), whether a
 * job it ends can go on in a new execution, what the job's FAILED record says, the HTTP answer
 * when the API meets it, and the alarm that counts it. The state machine's retriers
 * (infra/constructs/generation-state-machine.ts), RecordFailure (functions/tasks/record-failure.ts,
 * failure-reason.ts), the API's error responses (functions/api/error-response.ts) and the alarms
 * (infra/constructs/pipeline-monitoring.ts) all read it.
 *
 * Names are matched as strings (Step Functions' Retry/Catch see only `error.name`), so renaming an
 * error class is a breaking change here too. This module is plain data: the CDK app, the Lambda
 * bundles and the tests import it without pulling in an SDK.
 */

/** The state machine's Lambda tasks (state names in docs/architecture.md). */
export type WorkflowTask =
  | 'AdmitJob'
  | 'CreateProviderJob'
  | 'PollProviderJob'
  | 'DownloadVideo'
  | 'RecordFailure';

/** One Step Functions retrier's timing (always full jitter). */
export interface RetryShape {
  intervalSeconds: number;
  maxAttempts: number;
  backoffRate: number;
  maxDelaySeconds: number;
}

// Retry counts are small on purpose: every retry is history, and a task whose retries are spent
// does not lose the job's work (RecordFailure resumes it in a new execution). The worst-case
// history of the whole definition, every retrier exhausted, is held under 2,500 events by
// test/infra/state-machine-history.test.ts.
/**
 * The retry shapes, in the order a task's retriers are listed (Step Functions tries them in
 * order; the catch-all `recordFailure` must come last).
 */
export const RETRY_SHAPES = {
  // Errors raised by the Lambda service itself, not by our code: always worth a retry.
  lambdaService: { intervalSeconds: 2, maxAttempts: 3, backoffRate: 2, maxDelaySeconds: 30 },
  // A Lambda that ran out of time. Worth retrying only for idempotent steps (admit, poll,
  // download): the create step's timeout is set above the provider client's worst case instead.
  idempotentTimeout: { intervalSeconds: 5, maxAttempts: 2, backoffRate: 2, maxDelaySeconds: 30 },
  // 429s: the provider's Retry-After is typically tens of seconds; Step Functions cannot read
  // it, so the retrier starts long and backs off.
  rateLimited: { intervalSeconds: 10, maxAttempts: 3, backoffRate: 2, maxDelaySeconds: 120 },
  transient: { intervalSeconds: 5, maxAttempts: 3, backoffRate: 2, maxDelaySeconds: 60 },
  // Safe to retry only because the create handler reconciles (finds the job the lost response
  // created) before it creates again.
  ambiguousCreate: { intervalSeconds: 5, maxAttempts: 3, backoffRate: 2, maxDelaySeconds: 60 },
  // The download step finds the minute's request allowance spent: the next minute's comes within
  // 60 s, so its retries span about a minute (create and poll wait in a Wait state instead).
  downloadAllowance: { intervalSeconds: 20, maxAttempts: 3, backoffRate: 1.5, maxDelaySeconds: 60 },
  // Our own limits saying "not this instant": a request allowance spent or a budget item
  // contended by many writers. Never a provider call made.
  limits: { intervalSeconds: 5, maxAttempts: 3, backoffRate: 1.5, maxDelaySeconds: 60 },
  // The last line of defence: a job whose failure cannot be recorded would stay non-terminal.
  recordFailure: { intervalSeconds: 2, maxAttempts: 4, backoffRate: 2, maxDelaySeconds: 30 },
} as const satisfies Record<string, RetryShape>;

export type RetryShapeName = keyof typeof RETRY_SHAPES;

/** What one error name means. Every field is optional: absent means "no". */
export interface ErrorPolicy {
  /** The tasks whose Step Functions retrier retries it, with which shape; absent: never retried. */
  retry?: Partial<Record<WorkflowTask, RetryShapeName>>;
  /**
   * Says nothing about the video: when it ends an execution (retries spent), RecordFailure lets a
   * new execution continue the job's provider work, if the job holds (or may hold) a provider job.
   */
  resumes?: true;
  /**
   * Whether the job's FAILED record calls it retryable (a resubmission could succeed);
   * `unless-policy-code`: yes, unless the provider's code names a policy decision.
   */
  retryable?: true | 'unless-policy-code';
  /**
   * The failure code recorded for the job. Absent: the provider's code when the error carries
   * one, else the error name.
   */
  failureCode?: string;
  /**
   * The API's answer (functions/api/error-response.ts); absent: a 500 with a generic message.
   * Any 5xx counts toward the Api5xxRate alarm.
   */
  http?: { status: number; code: string; message: string };
  /**
   * The alarm (infra/constructs/pipeline-monitoring.ts) on the ProviderErrors metric with this
   * error name; every provider error escaping a task is counted there (task-runtime.ts).
   */
  alarm?: 'ProviderRateLimited' | 'ProviderServerErrors';
}

const ALL_PROVIDER_TASKS = {
  CreateProviderJob: 'rateLimited',
  PollProviderJob: 'rateLimited',
  DownloadVideo: 'rateLimited',
} as const;

/** Errors raised by the Lambda service itself, not by our code: every Lambda task retries them. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

const lambdaServiceError: ErrorPolicy = {
  retry: {
    AdmitJob: 'lambdaService',
    CreateProviderJob: 'lambdaService',
    PollProviderJob: 'lambdaService',
    DownloadVideo: 'lambdaService',
    RecordFailure: 'lambdaService',
  },
  resumes: true,
  retryable: true,
};

export const ERROR_POLICIES = {
  // --- Provider (functions/shared/provider/provider-errors.ts) --------------------------------
  ProviderRateLimitedError: {
    retry: ALL_PROVIDER_TASKS,
    resumes: true,
    retryable: true,
    alarm: 'ProviderRateLimited',
  },
  ProviderTransientError: {
    retry: {
      CreateProviderJob: 'transient',
      PollProviderJob: 'transient',
      DownloadVideo: 'transient',
    },
    resumes: true,
    retryable: true,
    alarm: 'ProviderServerErrors',
  },
  ProviderAmbiguousCreateError: {
    retry: { CreateProviderJob: 'ambiguousCreate' },
    // Resumed even without a provider job id: the unanswered create may have started one.
    resumes: true,
    retryable: true,
  },
  // 400/422, moderation, bad key or quota: the same request fails again.
  ProviderRejectedError: {},
  ProviderNotFoundError: { retryable: true },
  // Our own expiry check (download-video) as well as the provider's 404 say the same thing.
  ProviderContentExpiredError: { retryable: true, failureCode: 'video_expired' },

  // --- Limits (functions/shared/limits/limit-errors.ts) ---------------------------------------
  RequestRateLimitedError: {
    // Create and poll mostly wait for the allowance in a Wait state (WaitForRequests).
    retry: {
      AdmitJob: 'limits',
      CreateProviderJob: 'limits',
      PollProviderJob: 'limits',
      DownloadVideo: 'downloadAllowance',
    },
    resumes: true,
    retryable: true,
  },
  LimitContentionError: {
    retry: {
      AdmitJob: 'limits',
      CreateProviderJob: 'limits',
      PollProviderJob: 'limits',
      DownloadVideo: 'limits',
    },
    resumes: true,
    retryable: true,
  },
  // Never retried (caught and recorded); another day's budget may cover it.
  BudgetExceededError: { retryable: true, failureCode: 'budget_exceeded' },

  // --- Storage (functions/shared/storage/storage-errors.ts) -----------------------------------
  StorageError: { resumes: true, retryable: true },
  InvalidContentError: {},

  // --- Tasks (functions/tasks/task-errors.ts) ---------------------------------------------------
  ProviderJobMissingError: {},
  ReferenceImageMissingError: {},
  // Another of our jobs holds the provider job (shared/jobs/job-errors.ts): never adopted.
  ProviderJobClaimedError: {},

  // --- Detected by the state machine itself (Pass states, no exception behind them) ----------
  ProviderJobFailed: { retryable: 'unless-policy-code' },
  // The job is unfinished after one execution's polls: a new execution polls on.
  PollLimitReached: { resumes: true, retryable: true },
  RateWaitLimitReached: {},

  // --- Step Functions and Lambda ---------------------------------------------------------------
  // The catch-all: every task's Catch, and RecordFailure's last retrier.
  'States.ALL': { retry: { RecordFailure: 'recordFailure' } },
  'States.Timeout': { resumes: true, retryable: true },
  'States.HeartbeatTimeout': { retryable: true },
  // An unnamed task error: RecordFailure reads the error type from its Cause.
  'States.TaskFailed': { resumes: true },
  ...(Object.fromEntries(LAMBDA_SERVICE_ERRORS.map((name) => [name, lambdaServiceError])) as Record<
    (typeof LAMBDA_SERVICE_ERRORS)[number],
    ErrorPolicy
  >),
  'Sandbox.Timedout': {
    retry: {
      AdmitJob: 'idempotentTimeout',
      PollProviderJob: 'idempotentTimeout',
      DownloadVideo: 'idempotentTimeout',
    },
    resumes: true,
  },

  // --- API (functions/api/api-errors.ts, functions/shared/jobs/job-errors.ts) -----------------
  ValidationError: {
    http: { status: 400, code: 'invalid_request', message: 'The request is invalid' },
  },
  JobNotFoundError: {
    http: { status: 404, code: 'video_not_found', message: 'No video with this id' },
  },
  ContentNotFoundError: {
    http: {
      status: 404,
      code: 'content_not_found',
      message: 'This video has no content of the requested variant',
    },
  },
  RouteNotFoundError: {
    http: { status: 404, code: 'route_not_found', message: 'No such route' },
  },
  IdempotencyConflictError: {
    http: {
      status: 409,
      code: 'idempotency_conflict',
      message: 'This Idempotency-Key was already used with a different request',
    },
  },
  JobNotCancellableError: {
    http: {
      status: 409,
      code: 'video_not_cancellable',
      message: 'The video already COMPLETED or FAILED: there is nothing to cancel',
    },
  },
  JobNotCompletedError: {
    http: {
      status: 409,
      code: 'video_not_completed',
      message:
        'The video is not COMPLETED (the message names its status): it has no content and cannot be remixed',
    },
  },
  PayloadTooLargeError: {
    http: {
      status: 413,
      code: 'payload_too_large',
      message: 'The request body is over its size limit (the message names it)',
    },
  },
  UnsupportedMediaTypeError: {
    http: {
      status: 415,
      code: 'unsupported_media_type',
      message: 'Send the body as JSON with Content-Type: application/json',
    },
  },
  ClientRateLimitedError: {
    http: {
      status: 429,
      code: 'too_many_requests',
      message: 'Too many requests from this client; retry after the Retry-After seconds',
    },
  },
  JobStartFailedError: {
    http: {
      status: 503,
      code: 'start_failed',
      message:
        'The video was recorded but could not be started; retry with the same Idempotency-Key',
    },
  },
} as const satisfies Record<string, ErrorPolicy>;

export type ErrorName = keyof typeof ERROR_POLICIES;

/**
 * Families known by prefix: any Lambda service error (beyond the four retried by name) and any
 * sandbox failure say nothing about the job.
 */
const FAMILY_POLICIES: readonly (readonly [prefix: string, policy: ErrorPolicy])[] = [
  ['Lambda.', { resumes: true, retryable: true }],
  ['Sandbox.', { resumes: true }],
];

/** The policy of `name`: its own entry, else its family's; undefined for a name not listed. */
export function errorPolicy(name: string): ErrorPolicy | undefined {
  if (Object.hasOwn(ERROR_POLICIES, name)) return ERROR_POLICIES[name as ErrorName];
  return FAMILY_POLICIES.find(([prefix]) => name.startsWith(prefix))?.[1];
}

/** The error names `task` retries with `shape`, in catalogue order (empty: no such retrier). */
export function retriedErrors(task: WorkflowTask, shape: RetryShapeName): ErrorName[] {
  return (Object.keys(ERROR_POLICIES) as ErrorName[]).filter(
    (name) => (ERROR_POLICIES[name] as ErrorPolicy).retry?.[task] === shape,
  );
}

/** The one error name the alarm counts (a catalogue with none or two is a programming error). */
export function errorCountedBy(alarm: NonNullable<ErrorPolicy['alarm']>): ErrorName {
  const names = (Object.keys(ERROR_POLICIES) as ErrorName[]).filter(
    (name) => (ERROR_POLICIES[name] as ErrorPolicy).alarm === alarm,
  );
  const [name] = names;
  if (name === undefined || names.length > 1) {
    throw new Error(`Alarm ${alarm} must count exactly one error name, not ${names.length}`);
  }
  return name;
}
