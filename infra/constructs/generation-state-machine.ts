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
  type ErrorName,
  RETRY_SHAPES,
  type RetryShapeName,
  retriedErrors,
  type WorkflowTask,
} from '../../functions/shared/errors/error-policy.ts';
import {
  MAX_POLLS_PER_EXECUTION,
  MAX_RATE_WAITS,
} from '../../functions/shared/workflow/workflow-bounds.ts';
import type { CreateStatus } from '../../functions/tasks/create-provider-job.ts';
import { acknowledgeWildcards, wildcardResourceFinding } from './nag-acknowledgments.ts';

/** Template metadata key marking the generation state machine (the local stack looks for it). */
export const STATE_MACHINE_METADATA_KEY = 'sora-pipeline:state-machine';

// What the create step answers instead of a provider status when a limit says "not now"
// (functions/tasks/create-provider-job.ts, CreateStatus).
const WAITING_FOR_RATE_LIMIT_STATUS = 'waiting_for_rate_limit' satisfies CreateStatus;
const DEFERRED_STATUS = 'deferred' satisfies CreateStatus;

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

/** A retrier of `errors` with one of the error catalogue's shapes (RETRY_SHAPES). */
export function retryOf(errors: readonly string[], shape: RetryShapeName): RetryProps {
  const { intervalSeconds, maxAttempts, backoffRate, maxDelaySeconds } = RETRY_SHAPES[shape];
  return {
    errors: [...errors],
    interval: Duration.seconds(intervalSeconds),
    maxAttempts,
    backoffRate,
    maxDelay: Duration.seconds(maxDelaySeconds),
    jitterStrategy: JitterType.FULL,
  };
}

/** Adds the retriers the error catalogue gives `name`, one per shape, in the shapes' order. */
function addCatalogueRetries(task: LambdaInvoke, name: WorkflowTask): void {
  for (const shape of Object.keys(RETRY_SHAPES) as RetryShapeName[]) {
    const errors = retriedErrors(name, shape);
    if (errors.length > 0) task.addRetry(retryOf(errors, shape));
  }
}

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
    addCatalogueRetries(recordFailure, 'RecordFailure');
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
    addCatalogueRetries(admitJob, 'AdmitJob');
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
    addCatalogueRetries(createProviderJob, 'CreateProviderJob');
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
    addCatalogueRetries(pollProviderJob, 'PollProviderJob');
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
    addCatalogueRetries(downloadVideo, 'DownloadVideo');
    downloadVideo.addCatch(recordFailure, catchToRecordFailure);

    // Same { Error, Cause } shape as a Catch; Cause is a string, as the Fail state requires.
    const providerJobFailed = new Pass(this, 'ProviderJobFailed', {
      parameters: {
        Error: 'ProviderJobFailed' satisfies ErrorName,
        Cause: JsonPath.jsonToString(JsonPath.objectAt('$.poll.error')),
      },
      resultPath: '$.error',
    });
    providerJobFailed.next(recordFailure);

    const pollLimitReached = new Pass(this, 'PollLimitReached', {
      result: Result.fromObject({
        Error: 'PollLimitReached' satisfies ErrorName,
        Cause: `The provider job did not finish within ${maxPolls} polls of one execution`,
      }),
      resultPath: '$.error',
    });
    pollLimitReached.next(recordFailure);

    const rateWaitLimitReached = new Pass(this, 'RateWaitLimitReached', {
      result: Result.fromObject({
        Error: 'RateWaitLimitReached' satisfies ErrorName,
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
