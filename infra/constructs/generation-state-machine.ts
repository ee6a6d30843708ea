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
export const WAITING_FOR_SLOT_STATUS = 'waiting_for_slot';
export const WAITING_FOR_RATE_LIMIT_STATUS = 'waiting_for_rate_limit';
export const DEFERRED_STATUS = 'deferred';

// Error names of the failures the state machine itself detects (no exception behind them);
// functions/tasks/failure-reason.ts maps them to the job's failure reason.
export const PROVIDER_JOB_FAILED_ERROR = 'ProviderJobFailed';
export const POLL_LIMIT_REACHED_ERROR = 'PollLimitReached';

export const DEFAULT_MAX_POLLS = 200;
/** How long a job may take once it has its slot: create, polls and download. */
export const DEFAULT_GENERATION_TIMEOUT = Duration.hours(2);

export interface GenerationStateMachineProps {
  createProviderJob: IFunction;
  pollProviderJob: IFunction;
  downloadVideo: IFunction;
  recordFailure: IFunction;
  /** A job still unfinished after this many polls fails with PollLimitReached. */
  maxPolls?: number;
  /**
   * The slot wait after which the create step defers the job (it must be the create function's
   * MAX_SLOT_WAIT_MINUTES); the machine timeout leaves room for it.
   */
  maxSlotWait: Duration;
  /** Whole-execution timeout; default `maxSlotWait` + DEFAULT_GENERATION_TIMEOUT. */
  timeout?: Duration;
  logRetention?: RetentionDays;
}

const lambdaServiceRetry: RetryProps = {
  errors: LAMBDA_SERVICE_ERRORS,
  interval: Duration.seconds(2),
  maxAttempts: 6,
  backoffRate: 2,
  maxDelay: Duration.seconds(30),
  jitterStrategy: JitterType.FULL,
};

// 429s: the provider's Retry-After is typically tens of seconds; Step Functions cannot read it,
// so the retrier starts long and backs off.
const rateLimitedRetry: RetryProps = {
  errors: [PROVIDER_RATE_LIMITED_ERROR],
  interval: Duration.seconds(10),
  maxAttempts: 6,
  backoffRate: 2,
  maxDelay: Duration.minutes(2),
  jitterStrategy: JitterType.FULL,
};

const transientRetry: RetryProps = {
  errors: [PROVIDER_TRANSIENT_ERROR],
  interval: Duration.seconds(5),
  maxAttempts: 4,
  backoffRate: 2,
  maxDelay: Duration.minutes(1),
  jitterStrategy: JitterType.FULL,
};

// Our own limits saying "not this instant": a request allowance spent (the download step; create
// and poll wait instead) or a budget item contended by many writers. Never a provider call made.
const limitsRetry: RetryProps = {
  errors: [REQUEST_RATE_LIMITED_ERROR, LIMIT_CONTENTION_ERROR],
  interval: Duration.seconds(5),
  maxAttempts: 10,
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
 * State data: `{ jobId, poll: { status, progress, waitSeconds, pollCount, error }, download,
 * error }`.
 *
 * The create step may answer that a limit holds the job back: `waiting_for_slot` or
 * `waiting_for_rate_limit` loop through WaitForSlot back to CreateProviderJob (the loop is
 * bounded by the create step itself, which defers a job that waited `maxSlotWait` since the
 * execution started), `deferred` ends the execution in JobDeferred (Succeed: the job is QUEUED
 * again, for the scheduler). The machine timeout is the slot wait plus the generation time.
 */
export class GenerationStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: GenerationStateMachineProps) {
    super(scope, id);
    const maxPolls = props.maxPolls ?? DEFAULT_MAX_POLLS;
    const { maxSlotWait } = props;
    const jobIdPayload = TaskInput.fromObject({ jobId: JsonPath.stringAt('$.jobId') });
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
      }),
      retryOnServiceExceptions: false,
      // Keep $.error for JobFailed; what the handler returns is of no further use.
      resultPath: JsonPath.DISCARD,
    });
    recordFailure.addRetry(lambdaServiceRetry);
    recordFailure.addRetry(recordFailureRetry);
    recordFailure.addCatch(jobFailed, {
      errors: [Errors.ALL],
      resultPath: '$.recordFailureError',
    });
    recordFailure.next(jobFailed);

    const catchToRecordFailure = { errors: [Errors.ALL], resultPath: '$.error' };

    const createProviderJob = new LambdaInvoke(this, 'CreateProviderJob', {
      lambdaFunction: props.createProviderJob,
      // The execution's start measures how long the job has waited for a slot.
      payload: TaskInput.fromObject({
        jobId: JsonPath.stringAt('$.jobId'),
        executionStartedAt: JsonPath.stringAt('$$.Execution.StartTime'),
      }),
      retryOnServiceExceptions: false,
      resultSelector: pollResult,
      resultPath: '$.poll',
    });
    createProviderJob.addRetry(lambdaServiceRetry);
    createProviderJob.addRetry(rateLimitedRetry);
    createProviderJob.addRetry(transientRetry);
    createProviderJob.addRetry(ambiguousCreateRetry);
    createProviderJob.addRetry(limitsRetry);
    createProviderJob.addCatch(recordFailure, catchToRecordFailure);

    const waitForSlot = new Wait(this, 'WaitForSlot', {
      time: WaitTime.secondsPath('$.poll.waitSeconds'),
    });
    const jobDeferred = new Succeed(this, 'JobDeferred', {
      comment: 'A limit put the job back to QUEUED (deferred); a scheduled run starts it again',
    });

    const waitForProvider = new Wait(this, 'WaitForProvider', {
      time: WaitTime.secondsPath('$.poll.waitSeconds'),
    });

    const pollProviderJob = new LambdaInvoke(this, 'PollProviderJob', {
      lambdaFunction: props.pollProviderJob,
      payload: jobIdPayload,
      retryOnServiceExceptions: false,
      resultSelector: pollResult,
      resultPath: '$.poll',
    });
    pollProviderJob.addRetry(lambdaServiceRetry);
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
    downloadVideo.addRetry(rateLimitedRetry);
    downloadVideo.addRetry(transientRetry);
    downloadVideo.addRetry(limitsRetry);
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
        Cause: `The provider job did not finish within ${maxPolls} polls`,
      }),
      resultPath: '$.error',
    });
    pollLimitReached.next(recordFailure);

    const isVideoReady = new Choice(this, 'IsVideoReady')
      .when(Condition.stringEquals('$.poll.status', 'completed'), downloadVideo)
      .when(Condition.stringEquals('$.poll.status', 'failed'), providerJobFailed)
      .when(Condition.numberGreaterThan('$.poll.pollCount', maxPolls), pollLimitReached)
      .otherwise(waitForProvider);

    const isProviderJobStarted = new Choice(this, 'IsProviderJobStarted')
      .when(
        Condition.or(
          Condition.stringEquals('$.poll.status', WAITING_FOR_SLOT_STATUS),
          Condition.stringEquals('$.poll.status', WAITING_FOR_RATE_LIMIT_STATUS),
        ),
        waitForSlot.next(createProviderJob),
      )
      .when(Condition.stringEquals('$.poll.status', DEFERRED_STATUS), jobDeferred)
      .otherwise(waitForProvider);

    downloadVideo.next(new Succeed(this, 'JobSucceeded'));
    waitForProvider.next(pollProviderJob).next(isVideoReady);
    const definition = createProviderJob.next(isProviderJobStarted);

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(definition),
      comment: 'Generates one video: create the provider job, poll it, stream the MP4 into S3',
      timeout: props.timeout ?? maxSlotWait.plus(DEFAULT_GENERATION_TIMEOUT),
      tracingEnabled: true,
      // No execution data in the logs: provider error causes can quote the prompt.
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    (this.stateMachine.node.defaultChild as CfnStateMachine).addMetadata(
      STATE_MACHINE_METADATA_KEY,
      'generation',
    );

    acknowledgeWildcards(
      this,
      ['Resource::*'],
      'X-Ray tracing (xray:PutTraceSegments, ...) and CloudWatch Logs log delivery (logs:CreateLogDelivery, ...) support no resource-level permissions.',
    );
    const taskFunctions = [
      props.createProviderJob,
      props.pollProviderJob,
      props.downloadVideo,
      props.recordFailure,
    ];
    acknowledgeWildcards(
      this,
      taskFunctions.map((fn) => wildcardResourceFinding(this, fn.functionArn, ':*')),
      'LambdaInvoke grants lambda:InvokeFunction on each task function and its versions and aliases (<function ARN>:*); no other function.',
    );
  }
}
