import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  type CfnStateMachine,
  Choice,
  Condition,
  DefinitionBody,
  Errors,
  Fail,
  JitterType,
  JsonPath,
  LogLevel,
  Pass,
  Result,
  type RetryProps,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  MAX_POLLS_PER_EXECUTION,
  MAX_RATE_WAITS,
} from '../../functions/shared/workflow/workflow-bounds.ts';
import { acknowledgeWildcards, wildcardResourceFinding } from './nag-acknowledgments.ts';

/** Template metadata key marking the generation state machine (the local stack looks for it). */
export const STATE_MACHINE_METADATA_KEY = 'sora-pipeline:state-machine';

/** Errors raised by the Lambda service itself, not by our code: always worth a retry. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

// Error names thrown by functions/shared/provider/provider-errors.ts (the contract).
export const PROVIDER_RATE_LIMITED_ERROR = 'ProviderRateLimitedError';
export const PROVIDER_TRANSIENT_ERROR = 'ProviderTransientError';
export const PROVIDER_AMBIGUOUS_CREATE_ERROR = 'ProviderAmbiguousCreateError';

// Error names thrown by functions/shared/limits/limit-errors.ts (the contract).
export const REQUEST_RATE_LIMITED_ERROR = 'RequestRateLimitedError';
export const LIMIT_CONTENTION_ERROR = 'LimitContentionError';

// What the create step answers instead of a provider status when a limit says "not now"
// (functions/tasks/create-provider-job.ts, CreateStatus).
export const WAITING_FOR_RATE_LIMIT_STATUS = 'waiting_for_rate_limit';
export const DEFERRED_STATUS = 'deferred';

// Error names of the failures the state machine itself detects (no exception behind them);
// functions/tasks/failure-reason.ts maps them to the job's failure reason.
export const PROVIDER_JOB_FAILED_ERROR = 'ProviderJobFailed';
export const POLL_LIMIT_REACHED_ERROR = 'PollLimitReached';
export const RATE_WAIT_LIMIT_REACHED_ERROR = 'RateWaitLimitReached';

/** How long one execution may run: create, polls and download (a longer job resumes). */
export const DEFAULT_EXECUTION_TIMEOUT = Duration.hours(2);

export interface GenerationStateMachineProps {
  admitJob: IFunction;
  createProviderJob: IFunction;
  pollProviderJob: IFunction;
  downloadVideo: IFunction;
  recordFailure: IFunction;
  /** An execution whose job is unfinished after this many polls ends with PollLimitReached. */
  maxPolls?: number;
  /** Whole-execution timeout; default DEFAULT_EXECUTION_TIMEOUT. */
  timeout?: Duration;
  logRetention?: RetentionDays;
}

// Retry counts are small on purpose: every retry is history, and a task whose retries are spent
// does not lose the job's work (RecordFailure resumes it in a new execution). The worst-case
// history of the whole definition, every retrier exhausted, is held under 2,500 events by
// test/infra/state-machine-history.test.ts.
const lambdaServiceRetry: RetryProps = {
  errors: LAMBDA_SERVICE_ERRORS,
  interval: Duration.seconds(2),
  maxAttempts: 3,
  backoffRate: 2,
  maxDelay: Duration.seconds(30),
  jitterStrategy: JitterType.FULL,
};

// 429s: the provider's Retry-After is typically tens of seconds; Step Functions cannot read it,
// so the retrier starts long and backs off.
const rateLimitedRetry: RetryProps = {
  errors: [PROVIDER_RATE_LIMITED_ERROR],
  interval: Duration.seconds(10),
  maxAttempts: 3,
  backoffRate: 2,
  maxDelay: Duration.minutes(2),
  jitterStrategy: JitterType.FULL,
};

const transientRetry: RetryProps = {
  errors: [PROVIDER_TRANSIENT_ERROR],
  interval: Duration.seconds(5),
  maxAttempts: 3,
  backoffRate: 2,
  maxDelay: Duration.minutes(1),
  jitterStrategy: JitterType.FULL,
};

// Our own limits saying "not this instant": a request allowance spent (the download step; create
// and poll wait instead) or a budget item contended by many writers. Never a provider call made.
const limitsRetry: RetryProps = {
  errors: [REQUEST_RATE_LIMITED_ERROR, LIMIT_CONTENTION_ERROR],
  interval: Duration.seconds(5),
  maxAttempts: 3,
  backoffRate: 1.5,
  maxDelay: Duration.minutes(1),
  jitterStrategy: JitterType.FULL,
};

// Safe to retry only because the create handler reconciles (finds the job the lost response
// created) before it creates again.
const ambiguousCreateRetry: RetryProps = {
  errors: [PROVIDER_AMBIGUOUS_CREATE_ERROR],
  interval: Duration.seconds(5),
  maxAttempts: 3,
  backoffRate: 2,
  maxDelay: Duration.minutes(1),
  jitterStrategy: JitterType.FULL,
};

// The download step finds the minute's request allowance spent: the next minute's comes within
// 60 s, so its retries span about a minute (create and poll wait in a Wait state instead).
const downloadAllowanceRetry: RetryProps = {
  errors: [REQUEST_RATE_LIMITED_ERROR],
  interval: Duration.seconds(20),
  maxAttempts: 3,
  backoffRate: 1.5,
  maxDelay: Duration.minutes(1),
  jitterStrategy: JitterType.FULL,
};
const limitContentionRetry: RetryProps = { ...limitsRetry, errors: [LIMIT_CONTENTION_ERROR] };

/**
 * A Lambda that ran out of time. Worth retrying only for idempotent steps (poll, download): the
 * create step's timeout is set above the provider client's worst case instead, and its retry
 * would reconcile anyway.
 */
export const LAMBDA_TIMEOUT_ERROR = 'Sandbox.Timedout';
const idempotentTimeoutRetry: RetryProps = {
  errors: [LAMBDA_TIMEOUT_ERROR],
  interval: Duration.seconds(5),
  maxAttempts: 2,
  backoffRate: 2,
  maxDelay: Duration.seconds(30),
  jitterStrategy: JitterType.FULL,
};

// The last line of defence: a job whose failure cannot be recorded would stay non-terminal.
const recordFailureRetry: RetryProps = {
  errors: [Errors.ALL],
  interval: Duration.seconds(2),
  maxAttempts: 4,
  backoffRate: 2,
  maxDelay: Duration.seconds(30),
  jitterStrategy: JitterType.FULL,
};

/**
 * The generation workflow of one job (Standard, JSONPath), state names and data flow exactly
 * as in docs/architecture.md. Runs unchanged in aws-local-stepfunctions, so it uses no JSONata,
 * no variables and no callback tasks.
 *
 * State data: `{ jobId, admit: { admission }, poll: { status, progress, waitSeconds, pollCount,
 * error, rateWaits }, download, error }`.
 *
 * Admission comes first (AdmitJob, functions/shared/admission): the one owner of slots and
 * money. Waiting costs nothing: a job without a slot for its client is parked there, AdmitJob
 * answers `parked`, and the execution ends (JobDeferred); a hand-off starts a new execution. Every
 * loop is bounded by a count: WaitForRequests by `rateWaits` (MAX_RATE_WAITS), the poll loop by
 * `pollCount` (MAX_POLLS_PER_EXECUTION). A job that needs more than one execution's polls, or
 * whose execution ends early with its provider work alive, is resumed by RecordFailure in a new
 * execution (a bounded number of times).
 */
export class GenerationStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: GenerationStateMachineProps) {
    super(scope, id);
    const maxPolls = props.maxPolls ?? MAX_POLLS_PER_EXECUTION;
    // Tasks that free a slot hand it to the next waiting job on this very state machine.
    const stateMachineArn = JsonPath.stringAt('$$.StateMachine.Id');
    const jobIdPayload = TaskInput.fromObject({
      jobId: JsonPath.stringAt('$.jobId'),
      stateMachineArn,
    });
    const pollResult = {
      status: JsonPath.stringAt('$.Payload.status'),
      progress: JsonPath.numberAt('$.Payload.progress'),
      waitSeconds: JsonPath.numberAt('$.Payload.waitSeconds'),
      pollCount: JsonPath.numberAt('$.Payload.pollCount'),
      // The provider's { code, message } when status is failed, else null.
      error: JsonPath.objectAt('$.Payload.error'),
    };

    const jobFailed = new Fail(this, 'JobFailed', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });

    const recordFailure = new LambdaInvoke(this, 'RecordFailure', {
      lambdaFunction: props.recordFailure,
      payload: TaskInput.fromObject({
        jobId: JsonPath.stringAt('$.jobId'),
        error: JsonPath.objectAt('$.error'),
        stateMachineArn,
        // A resumed job's next execution takes over from this one.
        executionName: JsonPath.stringAt('$$.Execution.Name'),
      }),
      retryOnServiceExceptions: false,
      resultSelector: { resumed: JsonPath.stringAt('$.Payload.resumed') },
      resultPath: '$.recorded',
    });
    recordFailure.addRetry(lambdaServiceRetry);
    recordFailure.addRetry(recordFailureRetry);
    recordFailure.addCatch(jobFailed, {
      errors: [Errors.ALL],
      resultPath: '$.recordFailureError',
    });
    const jobResumed = new Succeed(this, 'JobResumed', {
      comment: 'A new execution continues the job from its record (its provider work goes on)',
    });
    recordFailure.next(
      new Choice(this, 'IsJobResumed')
        .when(Condition.booleanEquals('$.recorded.resumed', true), jobResumed)
        .otherwise(jobFailed),
    );

    const catchToRecordFailure = { errors: [Errors.ALL], resultPath: '$.error' };

    const start = new Pass(this, 'StartJob', {
      comment: 'Nothing asked of the provider yet: no rate waits, no polls',
      result: Result.fromObject({
        status: 'not_started',
        progress: 0,
        waitSeconds: 0,
        pollCount: 0,
        error: null,
        rateWaits: 0,
      }),
      resultPath: '$.poll',
    });

    const admitJob = new LambdaInvoke(this, 'AdmitJob', {
      lambdaFunction: props.admitJob,
      payload: jobIdPayload,
      retryOnServiceExceptions: false,
      resultSelector: { admission: JsonPath.stringAt('$.Payload.admission') },
      resultPath: '$.admit',
    });
    admitJob.addRetry(lambdaServiceRetry);
    admitJob.addRetry(idempotentTimeoutRetry);
    admitJob.addRetry(limitsRetry);
    admitJob.addCatch(recordFailure, catchToRecordFailure);

    const createProviderJob = new LambdaInvoke(this, 'CreateProviderJob', {
      lambdaFunction: props.createProviderJob,
      payload: TaskInput.fromObject({
        jobId: JsonPath.stringAt('$.jobId'),
        stateMachineArn,
        rateWaits: JsonPath.numberAt('$.poll.rateWaits'),
      }),
      retryOnServiceExceptions: false,
      resultSelector: { ...pollResult, rateWaits: JsonPath.numberAt('$.Payload.rateWaits') },
      resultPath: '$.poll',
    });
    createProviderJob.addRetry(lambdaServiceRetry);
    createProviderJob.addRetry(rateLimitedRetry);
    createProviderJob.addRetry(transientRetry);
    createProviderJob.addRetry(ambiguousCreateRetry);
    createProviderJob.addRetry(limitsRetry);
    createProviderJob.addCatch(recordFailure, catchToRecordFailure);

    const waitForRequests = new Wait(this, 'WaitForRequests', {
      time: WaitTime.secondsPath('$.poll.waitSeconds'),
    });
    const jobDeferred = new Succeed(this, 'JobDeferred', {
      comment:
        'The job waits parked (QUEUED, deferred) with no execution; a freed slot or a scheduled run starts it again',
    });

    const waitForProvider = new Wait(this, 'WaitForProvider', {
      time: WaitTime.secondsPath('$.poll.waitSeconds'),
    });

    const pollProviderJob = new LambdaInvoke(this, 'PollProviderJob', {
      lambdaFunction: props.pollProviderJob,
      payload: TaskInput.fromObject({
        jobId: JsonPath.stringAt('$.jobId'),
        pollCount: JsonPath.numberAt('$.poll.pollCount'),
        stateMachineArn,
      }),
      retryOnServiceExceptions: false,
      resultSelector: pollResult,
      resultPath: '$.poll',
    });
    pollProviderJob.addRetry(lambdaServiceRetry);
    pollProviderJob.addRetry(idempotentTimeoutRetry);
    pollProviderJob.addRetry(rateLimitedRetry);
    pollProviderJob.addRetry(transientRetry);
    pollProviderJob.addRetry(limitsRetry);
    pollProviderJob.addCatch(recordFailure, catchToRecordFailure);

    const downloadVideo = new LambdaInvoke(this, 'DownloadVideo', {
      lambdaFunction: props.downloadVideo,
      payload: jobIdPayload,
      retryOnServiceExceptions: false,
      resultSelector: {
        bucket: JsonPath.stringAt('$.Payload.bucket'),
        key: JsonPath.stringAt('$.Payload.key'),
        bytes: JsonPath.numberAt('$.Payload.bytes'),
        sha256: JsonPath.stringAt('$.Payload.sha256'),
      },
      resultPath: '$.download',
    });
    downloadVideo.addRetry(lambdaServiceRetry);
    downloadVideo.addRetry(idempotentTimeoutRetry);
    downloadVideo.addRetry(rateLimitedRetry);
    downloadVideo.addRetry(transientRetry);
    downloadVideo.addRetry(downloadAllowanceRetry);
    downloadVideo.addRetry(limitContentionRetry);
    downloadVideo.addCatch(recordFailure, catchToRecordFailure);

    // Same { Error, Cause } shape as a Catch; Cause is a string, as the Fail state requires.
    const providerJobFailed = new Pass(this, 'ProviderJobFailed', {
      parameters: {
        Error: PROVIDER_JOB_FAILED_ERROR,
        Cause: JsonPath.jsonToString(JsonPath.objectAt('$.poll.error')),
      },
      resultPath: '$.error',
    });
    providerJobFailed.next(recordFailure);

    const pollLimitReached = new Pass(this, 'PollLimitReached', {
      result: Result.fromObject({
        Error: POLL_LIMIT_REACHED_ERROR,
        Cause: `The provider job did not finish within ${maxPolls} polls of one execution`,
      }),
      resultPath: '$.error',
    });
    pollLimitReached.next(recordFailure);

    const rateWaitLimitReached = new Pass(this, 'RateWaitLimitReached', {
      result: Result.fromObject({
        Error: RATE_WAIT_LIMIT_REACHED_ERROR,
        Cause: `The provider request allowance stayed spent through ${MAX_RATE_WAITS} waits`,
      }),
      resultPath: '$.error',
    });
    rateWaitLimitReached.next(recordFailure);

    const isVideoReady = new Choice(this, 'IsVideoReady')
      .when(Condition.stringEquals('$.poll.status', 'completed'), downloadVideo)
      .when(Condition.stringEquals('$.poll.status', 'failed'), providerJobFailed)
      .when(Condition.numberGreaterThanEquals('$.poll.pollCount', maxPolls), pollLimitReached)
      .otherwise(waitForProvider);

    const isProviderJobStarted = new Choice(this, 'IsProviderJobStarted')
      .when(
        Condition.and(
          Condition.stringEquals('$.poll.status', WAITING_FOR_RATE_LIMIT_STATUS),
          Condition.numberLessThanEquals('$.poll.rateWaits', MAX_RATE_WAITS),
        ),
        waitForRequests.next(createProviderJob),
      )
      .when(
        Condition.stringEquals('$.poll.status', WAITING_FOR_RATE_LIMIT_STATUS),
        rateWaitLimitReached,
      )
      .when(Condition.stringEquals('$.poll.status', DEFERRED_STATUS), jobDeferred)
      // A resumed job whose video is rendered goes straight to the download.
      .when(Condition.stringEquals('$.poll.status', 'completed'), downloadVideo)
      .when(Condition.stringEquals('$.poll.status', 'failed'), providerJobFailed)
      .otherwise(waitForProvider);

    downloadVideo.next(new Succeed(this, 'JobSucceeded'));
    waitForProvider.next(pollProviderJob).next(isVideoReady);
    createProviderJob.next(isProviderJobStarted);
    const isJobAdmitted = new Choice(this, 'IsJobAdmitted')
      .when(Condition.stringEquals('$.admit.admission', 'admitted'), createProviderJob)
      // Completed meanwhile (a resumed job): the download step answers from the record.
      .when(Condition.stringEquals('$.admit.admission', 'completed'), downloadVideo)
      .when(
        Condition.stringEquals('$.admit.admission', 'timed_out'),
        new Succeed(this, 'JobStartTimedOut', {
          comment: 'Cancelled: no slot came within its start timeout; nothing was sent',
        }),
      )
      .otherwise(jobDeferred);
    const definition = start.next(admitJob).next(isJobAdmitted);

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(definition),
      comment: 'Generates one video: create the provider job, poll it, stream the MP4 into S3',
      timeout: props.timeout ?? DEFAULT_EXECUTION_TIMEOUT,
      tracingEnabled: true,
      // No execution data in the logs: provider error causes can quote the prompt.
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    (this.stateMachine.node.defaultChild as CfnStateMachine).addMetadata(
      STATE_MACHINE_METADATA_KEY,
      'generation',
    );

    // On the role's default policy, which holds the statements (not the whole construct).
    const policy = this.stateMachine.role.node.findChild('DefaultPolicy');
    acknowledgeWildcards(
      policy,
      ['Resource::*'],
      'X-Ray tracing (xray:PutTraceSegments, ...) and CloudWatch Logs log delivery (logs:CreateLogDelivery, ...) support no resource-level permissions.',
    );
    const taskFunctions = [
      props.admitJob,
      props.createProviderJob,
      props.pollProviderJob,
      props.downloadVideo,
      props.recordFailure,
    ];
    acknowledgeWildcards(
      policy,
      taskFunctions.map((fn) => wildcardResourceFinding(this, fn.functionArn, ':*')),
      'LambdaInvoke grants lambda:InvokeFunction on each task function and its versions and aliases (<function ARN>:*); no other function.',
    );
  }
}
