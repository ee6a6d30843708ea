import { readFileSync } from 'node:fs';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LAMBDA_SERVICE_ERRORS,
  RETRY_SHAPES,
  type RetryShapeName,
  retriedErrors,
} from '../../functions/shared/errors/error-policy.ts';
import {
  MAX_POLLS_PER_EXECUTION,
  MAX_RATE_WAITS,
} from '../../functions/shared/workflow/workflow-bounds.ts';
import { DEFAULT_EXECUTION_TIMEOUT } from '../../infra/constructs/generation-state-machine.ts';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import {
  type Asl,
  type AslState,
  type Catcher,
  type ChoiceRule,
  choiceTarget,
  definitionOf,
  functionLogicalId,
  type Retrier,
  synthesizeForTest,
} from './synthesized-pipeline.ts';

const TASKS = [
  'AdmitJob',
  'CreateProviderJob',
  'PollProviderJob',
  'DownloadVideo',
  'RecordFailure',
] as const;
const PROVIDER_TASKS = ['CreateProviderJob', 'PollProviderJob', 'DownloadVideo'] as const;
/** The tasks whose errors RecordFailure records: every task but RecordFailure itself. */
const RECORDED_TASKS = ['AdmitJob', ...PROVIDER_TASKS] as const;
/** What AdmitJob answers (functions/tasks/admit-job.ts), besides `admitted`. */
const NOT_ADMITTED = ['parked', 'deferred', 'timed_out', 'completed'] as const;

let template: Template;
let asl: Asl;

beforeAll(() => {
  template = synthesizeForTest().pipelineTemplate;
  asl = definitionOf(template);
});

function state(name: string): AslState {
  const found = asl.States[name];
  if (!found) throw new Error(`no state ${name}`);
  return found;
}

const retriersOf = (name: string) => (state(name).Retry ?? []) as Retrier[];
const catchersOf = (name: string) => (state(name).Catch ?? []) as Catcher[];
const payloadOf = (name: string) => (state(name).Parameters as Record<string, unknown>).Payload;

/** Where a Choice state sends a `$.poll` (the rest of the state data does not matter to it). */
const routeOf = (choice: string, poll: Record<string, unknown>) =>
  choiceTarget(state(choice), { jobId: 'job-1', poll });

/** Where IsJobAdmitted sends what AdmitJob answered (stored at `$.admit`). */
const admittedTo = (admission: string) =>
  choiceTarget(state('IsJobAdmitted'), { jobId: 'job-1', admit: { admission } });

/** Every string a Choice rule compares with, nested rules included. */
function comparedStrings(rules: ChoiceRule[]): unknown[] {
  return rules.flatMap((rule) => [
    ...(rule.StringEquals === undefined ? [] : [rule.StringEquals]),
    ...comparedStrings([...(rule.And ?? []), ...(rule.Or ?? []), ...(rule.Not ? [rule.Not] : [])]),
  ]);
}

describe('generation state machine shape', () => {
  it('has exactly the states of the parking design, with their types', () => {
    const types = Object.fromEntries(Object.entries(asl.States).map(([n, s]) => [n, s.Type]));

    expect(types).toEqual({
      StartJob: 'Pass',
      AdmitJob: 'Task',
      IsJobAdmitted: 'Choice',
      JobStartTimedOut: 'Succeed',
      CreateProviderJob: 'Task',
      IsProviderJobStarted: 'Choice',
      WaitForRequests: 'Wait',
      RateWaitLimitReached: 'Pass',
      JobDeferred: 'Succeed',
      WaitForProvider: 'Wait',
      PollProviderJob: 'Task',
      IsVideoReady: 'Choice',
      DownloadVideo: 'Task',
      JobSucceeded: 'Succeed',
      ProviderJobFailed: 'Pass',
      PollLimitReached: 'Pass',
      RecordFailure: 'Task',
      IsJobResumed: 'Choice',
      JobResumed: 'Succeed',
      JobFailed: 'Fail',
    });
  });

  it('has no slot-wait loop: no WaitForSlot, no rule on waiting_for_slot', () => {
    const compared = Object.values(asl.States).flatMap((s) =>
      comparedStrings((s.Choices ?? []) as ChoiceRule[]),
    );

    expect(asl.States).not.toHaveProperty('WaitForSlot');
    expect(compared).not.toContain('waiting_for_slot');
  });

  it('starts with StartJob, which sets a fresh $.poll (no rate waits, no polls yet)', () => {
    expect(asl.StartAt).toBe('StartJob');
    expect(state('StartJob')).toMatchObject({
      Result: {
        status: 'not_started',
        progress: 0,
        waitSeconds: 0,
        pollCount: 0,
        error: null,
        rateWaits: 0,
      },
      ResultPath: '$.poll',
      Next: 'AdmitJob',
    });
    expect(state('StartJob')).not.toHaveProperty('Parameters');
  });

  it('admits the job before anything is asked of the provider: StartJob -> AdmitJob -> IsJobAdmitted', () => {
    expect(state('AdmitJob').Next).toBe('IsJobAdmitted');
    const enteringCreate = Object.entries(asl.States)
      .filter(([, s]) => s.Next === 'CreateProviderJob' || s.Default === 'CreateProviderJob')
      .map(([name]) => name);
    const choosingCreate = Object.entries(asl.States)
      .filter(([, s]) =>
        ((s.Choices ?? []) as ChoiceRule[]).some((rule) => rule.Next === 'CreateProviderJob'),
      )
      .map(([name]) => name);

    // Only the admission's choice and the rate-wait loop lead to the create step.
    expect(enteringCreate).toEqual(['WaitForRequests']);
    expect(choosingCreate).toEqual(['IsJobAdmitted']);
  });

  it('goes on to CreateProviderJob only when AdmitJob answers admitted', () => {
    expect(admittedTo('admitted')).toBe('CreateProviderJob');
    expect(state('IsJobAdmitted').Choices).toContainEqual({
      Variable: '$.admit.admission',
      StringEquals: 'admitted',
      Next: 'CreateProviderJob',
    });
    for (const admission of [...NOT_ADMITTED, 'something_new']) {
      expect(admittedTo(admission), admission).not.toBe('CreateProviderJob');
    }
    expect(state('IsJobAdmitted').Default).not.toBe('CreateProviderJob');
  });

  it.each(['parked', 'deferred'])(
    'ends the execution of a %s job in JobDeferred (Succeed): it waits with no execution',
    (admission) => {
      expect(admittedTo(admission)).toBe('JobDeferred');
      expect(state('JobDeferred').Type).toBe('Succeed');
    },
  );

  it('ends a job whose start timeout passed in JobStartTimedOut (Succeed), never RecordFailure', () => {
    expect(admittedTo('timed_out')).toBe('JobStartTimedOut');
    expect(state('JobStartTimedOut').Type).toBe('Succeed');
  });

  it('sends a job found completed at admission straight to DownloadVideo (it answers from the record)', () => {
    expect(admittedTo('completed')).toBe('DownloadVideo');
  });

  it('parks an answer it does not know rather than creating (JobDeferred is the Default)', () => {
    expect(state('IsJobAdmitted').Default).toBe('JobDeferred');
  });

  it('runs create -> choice, wait -> poll -> choice, and download -> succeed', () => {
    expect(state('CreateProviderJob').Next).toBe('IsProviderJobStarted');
    expect(state('WaitForProvider').Next).toBe('PollProviderJob');
    expect(state('PollProviderJob').Next).toBe('IsVideoReady');
    expect(state('DownloadVideo').Next).toBe('JobSucceeded');
  });

  it('ends an execution whose create step gave the job back to the schedule in JobDeferred (Succeed)', () => {
    expect(routeOf('IsProviderJobStarted', { status: 'deferred', rateWaits: 0 })).toBe(
      'JobDeferred',
    );
    expect(state('JobDeferred').Type).toBe('Succeed');
  });

  it.each([0, 1, MAX_RATE_WAITS])(
    'waits for the next request allowance and asks again when rate-limited after %i waits',
    (rateWaits) => {
      expect(routeOf('IsProviderJobStarted', { status: 'waiting_for_rate_limit', rateWaits })).toBe(
        'WaitForRequests',
      );
      expect(state('WaitForRequests').Next).toBe('CreateProviderJob');
    },
  );

  it('bounds the rate-wait loop: rate-limited beyond MAX_RATE_WAITS goes to RateWaitLimitReached', () => {
    expect(
      routeOf('IsProviderJobStarted', {
        status: 'waiting_for_rate_limit',
        rateWaits: MAX_RATE_WAITS + 1,
      }),
    ).toBe('RateWaitLimitReached');
  });

  it('loops through WaitForRequests by one rule only, bounded by $.poll.rateWaits <= MAX_RATE_WAITS', () => {
    const looping = (state('IsProviderJobStarted').Choices as ChoiceRule[]).filter(
      (rule) => rule.Next === 'WaitForRequests',
    );

    expect(looping).toEqual([
      {
        And: [
          { Variable: '$.poll.status', StringEquals: 'waiting_for_rate_limit' },
          { Variable: '$.poll.rateWaits', NumericLessThanEquals: MAX_RATE_WAITS },
        ],
        Next: 'WaitForRequests',
      },
    ]);
    expect(state('IsProviderJobStarted').Default).not.toBe('WaitForRequests');
  });

  it('waits for requests as long as the create step says ($.poll.waitSeconds)', () => {
    expect(state('WaitForRequests')).toMatchObject({ SecondsPath: '$.poll.waitSeconds' });
    expect(state('WaitForRequests')).not.toHaveProperty('Seconds');
  });

  it('sends a job completed at create straight to DownloadVideo, without a poll', () => {
    expect(routeOf('IsProviderJobStarted', { status: 'completed', rateWaits: 0 })).toBe(
      'DownloadVideo',
    );
  });

  it('sends a job failed at create to ProviderJobFailed', () => {
    expect(routeOf('IsProviderJobStarted', { status: 'failed', rateWaits: 0 })).toBe(
      'ProviderJobFailed',
    );
  });

  it.each(['queued', 'in_progress'])('waits for the provider when create answers %s', (status) => {
    expect(routeOf('IsProviderJobStarted', { status, rateWaits: 0 })).toBe('WaitForProvider');
  });

  it.each([
    ['completed', 1, 'DownloadVideo'],
    ['completed', MAX_POLLS_PER_EXECUTION, 'DownloadVideo'],
    ['failed', 1, 'ProviderJobFailed'],
    ['failed', MAX_POLLS_PER_EXECUTION, 'ProviderJobFailed'],
    ['in_progress', 1, 'WaitForProvider'],
    ['in_progress', MAX_POLLS_PER_EXECUTION - 1, 'WaitForProvider'],
    ['in_progress', MAX_POLLS_PER_EXECUTION, 'PollLimitReached'],
    ['queued', MAX_POLLS_PER_EXECUTION, 'PollLimitReached'],
  ])('after a poll answering %s at pollCount %i, goes to %s', (status, pollCount, next) => {
    expect(routeOf('IsVideoReady', { status, pollCount })).toBe(next);
  });

  it('ends the poll loop by $.poll.pollCount >= MAX_POLLS_PER_EXECUTION', () => {
    expect(state('IsVideoReady').Choices).toContainEqual({
      Variable: '$.poll.pollCount',
      NumericGreaterThanEquals: MAX_POLLS_PER_EXECUTION,
      Next: 'PollLimitReached',
    });
    expect(MAX_POLLS_PER_EXECUTION).toBe(30);
  });

  it('waits as long as the last create or poll result says ($.poll.waitSeconds)', () => {
    expect(state('WaitForProvider')).toMatchObject({ SecondsPath: '$.poll.waitSeconds' });
    expect(state('WaitForProvider')).not.toHaveProperty('Seconds');
  });

  it('builds $.error for the provider failure from the poll result, as a Catch would', () => {
    expect(state('ProviderJobFailed')).toMatchObject({
      Parameters: { Error: 'ProviderJobFailed', 'Cause.$': 'States.JsonToString($.poll.error)' },
      ResultPath: '$.error',
      Next: 'RecordFailure',
    });
  });

  it('gives the poll limit its own error and a plain-text cause naming the per-execution bound', () => {
    expect(state('PollLimitReached')).toMatchObject({
      Result: {
        Error: 'PollLimitReached',
        Cause: expect.stringContaining(`${MAX_POLLS_PER_EXECUTION} polls of one execution`),
      },
      ResultPath: '$.error',
      Next: 'RecordFailure',
    });
  });

  it('gives the rate-wait limit its own error and a plain-text cause naming the bound', () => {
    expect(state('RateWaitLimitReached')).toMatchObject({
      Result: {
        Error: 'RateWaitLimitReached',
        Cause: expect.stringContaining(`${MAX_RATE_WAITS} waits`),
      },
      ResultPath: '$.error',
      Next: 'RecordFailure',
    });
  });

  it('records the failure, then asks IsJobResumed whether a new execution took the job over', () => {
    expect(state('RecordFailure').Next).toBe('IsJobResumed');
    expect(state('IsJobResumed').Choices).toEqual([
      { Variable: '$.recorded.resumed', BooleanEquals: true, Next: 'JobResumed' },
    ]);
    expect(state('IsJobResumed').Default).toBe('JobFailed');
  });

  it('ends a resumed job in JobResumed (Succeed), an unresumed one in JobFailed', () => {
    expect(choiceTarget(state('IsJobResumed'), { recorded: { resumed: true } })).toBe('JobResumed');
    expect(choiceTarget(state('IsJobResumed'), { recorded: { resumed: false } })).toBe('JobFailed');
    expect(state('JobResumed').Type).toBe('Succeed');
  });

  it('fails the execution with the original error and cause', () => {
    expect(state('JobFailed')).toMatchObject({
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
  });

  it('times out an execution after 2 h (DEFAULT_EXECUTION_TIMEOUT), with no slot wait added', () => {
    expect(asl.TimeoutSeconds).toBe(DEFAULT_EXECUTION_TIMEOUT.toSeconds());
    expect(asl.TimeoutSeconds).toBe(2 * 3600);
  });

  it('uses nothing the local interpreter cannot run (JSONata, variables, callbacks)', () => {
    const text = JSON.stringify(asl);

    expect(asl.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(text).not.toContain('"Assign"');
    expect(text).not.toContain('waitForTaskToken');
    expect(text).not.toContain('HeartbeatSeconds');
  });
});

describe('task invocations', () => {
  it.each([
    ['AdmitJob', HANDLER_MODULES.admitJob],
    ['CreateProviderJob', HANDLER_MODULES.createProviderJob],
    ['PollProviderJob', HANDLER_MODULES.pollProviderJob],
    ['DownloadVideo', HANDLER_MODULES.downloadVideo],
    ['RecordFailure', HANDLER_MODULES.recordFailure],
  ])('%s invokes the function running %s', (name, handlerModule) => {
    expect(state(name)).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: `<${functionLogicalId(template, handlerModule)}>` },
    });
  });

  it.each(TASKS)(
    '%s gets the ARN of the state machine it runs on ($$.StateMachine.Id), to hand slots on',
    (name) => {
      expect(payloadOf(name)).toMatchObject({ 'stateMachineArn.$': '$$.StateMachine.Id' });
    },
  );

  it('AdmitJob gets the job id and the state machine, nothing else', () => {
    expect(payloadOf('AdmitJob')).toEqual({
      'jobId.$': '$.jobId',
      'stateMachineArn.$': '$$.StateMachine.Id',
    });
  });

  it('stores only the admission at $.admit, keeping $.poll as StartJob set it', () => {
    expect(state('AdmitJob')).toMatchObject({
      ResultSelector: { 'admission.$': '$.Payload.admission' },
      ResultPath: '$.admit',
    });
    const read = (state('IsJobAdmitted').Choices as ChoiceRule[]).map((rule) => rule.Variable);

    expect(new Set(read)).toEqual(new Set(['$.admit.admission']));
  });

  it('CreateProviderJob gets the job id and the rate waits so far, no execution start', () => {
    expect(payloadOf('CreateProviderJob')).toEqual({
      'jobId.$': '$.jobId',
      'stateMachineArn.$': '$$.StateMachine.Id',
      'rateWaits.$': '$.poll.rateWaits',
    });
  });

  it("PollProviderJob gets the job id and this execution's poll count", () => {
    expect(payloadOf('PollProviderJob')).toEqual({
      'jobId.$': '$.jobId',
      'pollCount.$': '$.poll.pollCount',
      'stateMachineArn.$': '$$.StateMachine.Id',
    });
  });

  it('DownloadVideo gets the job id', () => {
    expect(payloadOf('DownloadVideo')).toEqual({
      'jobId.$': '$.jobId',
      'stateMachineArn.$': '$$.StateMachine.Id',
    });
  });

  it('hands RecordFailure the job id, the caught { Error, Cause } and the execution to take over from', () => {
    expect(payloadOf('RecordFailure')).toEqual({
      'jobId.$': '$.jobId',
      'error.$': '$.error',
      'stateMachineArn.$': '$$.StateMachine.Id',
      'executionName.$': '$$.Execution.Name',
    });
  });

  const pollStateSelector = {
    'status.$': '$.Payload.status',
    'progress.$': '$.Payload.progress',
    'waitSeconds.$': '$.Payload.waitSeconds',
    'pollCount.$': '$.Payload.pollCount',
    'error.$': '$.Payload.error',
  };

  it('CreateProviderJob stores its poll state and its rate waits at $.poll', () => {
    expect(state('CreateProviderJob')).toMatchObject({
      ResultPath: '$.poll',
      ResultSelector: { ...pollStateSelector, 'rateWaits.$': '$.Payload.rateWaits' },
    });
  });

  it('PollProviderJob stores its poll state at $.poll', () => {
    expect(state('PollProviderJob')).toMatchObject({
      ResultPath: '$.poll',
      ResultSelector: pollStateSelector,
    });
  });

  it('stores the download result at $.download', () => {
    expect(state('DownloadVideo')).toMatchObject({
      ResultPath: '$.download',
      ResultSelector: {
        'bucket.$': '$.Payload.bucket',
        'key.$': '$.Payload.key',
        'bytes.$': '$.Payload.bytes',
        'sha256.$': '$.Payload.sha256',
      },
    });
  });

  it('keeps $.error intact through RecordFailure: only whether the job resumed goes to $.recorded', () => {
    expect(state('RecordFailure')).toMatchObject({
      ResultSelector: { 'resumed.$': '$.Payload.resumed' },
      ResultPath: '$.recorded',
    });
  });
});

describe('retries', () => {
  it.each(TASKS)('%s retries exactly as the error catalogue says, in its shapes', (name) => {
    const expected = (Object.keys(RETRY_SHAPES) as RetryShapeName[]).flatMap((shape) => {
      const errors = retriedErrors(name, shape);
      const { intervalSeconds, maxAttempts, backoffRate, maxDelaySeconds } = RETRY_SHAPES[shape];
      return errors.length === 0
        ? []
        : [
            {
              ErrorEquals: errors,
              IntervalSeconds: intervalSeconds,
              MaxAttempts: maxAttempts,
              BackoffRate: backoffRate,
              MaxDelaySeconds: maxDelaySeconds,
              JitterStrategy: 'FULL',
            },
          ];
    });

    expect(retriersOf(name)).toEqual(expected);
  });

  it.each(TASKS)('%s retries the Lambda service errors', (name) => {
    const errors = retriersOf(name).flatMap((retrier) => retrier.ErrorEquals);

    expect(errors).toEqual(expect.arrayContaining([...LAMBDA_SERVICE_ERRORS]));
    expect(LAMBDA_SERVICE_ERRORS).toEqual([
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
      'Lambda.TooManyRequestsException',
    ]);
  });

  it.each(TASKS)('%s retries only with full jitter, a delay cap and backoff', (name) => {
    const retriers = retriersOf(name);

    expect(retriers.length).toBeGreaterThan(0);
    for (const retrier of retriers) {
      expect(retrier).toMatchObject({
        JitterStrategy: 'FULL',
        MaxDelaySeconds: expect.any(Number),
        BackoffRate: expect.any(Number),
        MaxAttempts: expect.any(Number),
      });
      expect(retrier.BackoffRate).toBeGreaterThan(1);
    }
  });

  it.each(PROVIDER_TASKS)('%s retries rate limits and transient provider errors', (name) => {
    const errors = retriersOf(name).flatMap((retrier) => retrier.ErrorEquals);

    expect(errors).toEqual(
      expect.arrayContaining(['ProviderRateLimitedError', 'ProviderTransientError']),
    );
  });

  it.each(PROVIDER_TASKS)(
    '%s retries our own limits (a spent request allowance, a contended budget item)',
    (name) => {
      const errors = retriersOf(name).flatMap((retrier) => retrier.ErrorEquals);

      expect(errors).toEqual(
        expect.arrayContaining(['RequestRateLimitedError', 'LimitContentionError']),
      );
    },
  );

  it('retries a contended budget item in AdmitJob (it reserves the money)', () => {
    const errors = retriersOf('AdmitJob').flatMap((retrier) => retrier.ErrorEquals);

    expect(errors).toContain('LimitContentionError');
  });

  it('retries no provider error in AdmitJob: it asks nothing of the provider', () => {
    const errors = retriersOf('AdmitJob').flatMap((retrier) => retrier.ErrorEquals);

    expect(errors.filter((error) => error.startsWith('Provider'))).toEqual([]);
    expect(errors).not.toContain('States.ALL');
    expect(errors).not.toContain('States.TaskFailed');
  });

  it('never retries a budget refusal (it is caught and recorded)', () => {
    const retried = Object.keys(asl.States).flatMap((name) =>
      retriersOf(name).flatMap((retrier) => retrier.ErrorEquals),
    );

    expect(retried).not.toContain('BudgetExceededError');
  });

  it('retries by the names the limit error classes really have', () => {
    const source = readFileSync(
      new URL('../../functions/shared/limits/limit-errors.ts', import.meta.url),
      'utf8',
    );
    const classNames = new Set([...source.matchAll(/name = '(\w+)'/g)].map((match) => match[1]));

    expect(classNames).toContain('RequestRateLimitedError');
    expect(classNames).toContain('LimitContentionError');
  });

  it('retries an ambiguous create (the handler reconciles first) and nowhere else', () => {
    const retrying = Object.keys(asl.States).filter((name) =>
      retriersOf(name).some((retrier) =>
        retrier.ErrorEquals.includes('ProviderAmbiguousCreateError'),
      ),
    );

    expect(retrying).toEqual(['CreateProviderJob']);
  });

  it.each(PROVIDER_TASKS)(
    '%s never retries a rejected request or an unnamed error (a retry could pay again)',
    (name) => {
      const errors = retriersOf(name).flatMap((retrier) => retrier.ErrorEquals);

      expect(errors).not.toContain('ProviderRejectedError');
      expect(errors).not.toContain('States.ALL');
      expect(errors).not.toContain('States.TaskFailed');
    },
  );

  it('waits longer before retrying a rate limit than a transient error', () => {
    const interval = (error: string) =>
      retriersOf('PollProviderJob').find((retrier) => retrier.ErrorEquals.includes(error))
        ?.IntervalSeconds;

    expect(interval('ProviderRateLimitedError')).toBeGreaterThan(
      interval('ProviderTransientError') ?? Number.POSITIVE_INFINITY,
    );
  });

  it('retries a Lambda that ran out of time (Sandbox.Timedout) only in the idempotent admit, poll and download', () => {
    const retrying = Object.keys(asl.States).filter((name) =>
      retriersOf(name).some((retrier) => retrier.ErrorEquals.includes('Sandbox.Timedout')),
    );

    // Admission is idempotent per job (slot keyed by the job, reservation under a condition);
    // the create step is not retried on a timeout (its Lambda timeout covers the worst case).
    expect(retrying.sort()).toEqual(['AdmitJob', 'DownloadVideo', 'PollProviderJob']);
  });

  it.each([
    ['AdmitJob', 9],
    ['CreateProviderJob', 16],
    ['PollProviderJob', 15],
    ['DownloadVideo', 18],
    ['RecordFailure', 8],
  ] as const)(
    'attempts %s at most %i times per entry (few retries: each is history)',
    (name, attempts) => {
      const retries = retriersOf(name).reduce(
        (sum, retrier) => sum + (retrier.MaxAttempts ?? 3),
        0,
      );

      expect(1 + retries).toBe(attempts);
      for (const retrier of retriersOf(name)) expect(retrier.MaxAttempts).toBeLessThanOrEqual(4);
    },
  );

  it('retries every error of RecordFailure, last, so a failure is recorded whenever possible', () => {
    const last = retriersOf('RecordFailure').at(-1);

    expect(last?.ErrorEquals).toEqual(['States.ALL']);
  });

  it('retries by the names the provider error classes really have', () => {
    const source = readFileSync(
      new URL('../../functions/shared/provider/provider-errors.ts', import.meta.url),
      'utf8',
    );
    const classNames = new Set([...source.matchAll(/name = '(\w+)'/g)].map((match) => match[1]));
    const retried = new Set(
      Object.keys(asl.States)
        .flatMap((name) => retriersOf(name).flatMap((retrier) => retrier.ErrorEquals))
        .filter((error) => error.startsWith('Provider')),
    );

    expect(retried.size).toBe(3);
    for (const error of retried) expect(classNames).toContain(error);
  });
});

describe('catches', () => {
  it.each(RECORDED_TASKS)('%s sends every error to RecordFailure at $.error', (name) => {
    expect(catchersOf(name)).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' },
    ]);
  });

  it('ends in JobFailed (never JobResumed) when RecordFailure itself fails, keeping $.error', () => {
    expect(catchersOf('RecordFailure')).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.recordFailureError', Next: 'JobFailed' },
    ]);
  });
});

describe('state machine resource', () => {
  it('is a Standard workflow with tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
    });
  });

  it('logs every event to its own log group without execution data (prompts stay out)', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GenerationLogGroup'), 'Arn'] },
            },
          },
        ],
      },
    });
    const logGroups = template.findResources('AWS::Logs::LogGroup');
    const [logGroupId] = Object.keys(logGroups).filter((id) => id.startsWith('GenerationLogGroup'));

    expect(logGroupId && logGroups[logGroupId]?.Properties.RetentionInDays).toBe(30);
  });

  it('may invoke the five task functions and no other', () => {
    const invocable = Object.entries(template.findResources('AWS::IAM::Policy'))
      // The webhook machine's role invokes the delivery function (webhook-delivery test).
      .filter(([id]) => !id.startsWith('Webhooks'))
      .map(([, policy]) => policy)
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => statement.Action === 'lambda:InvokeFunction')
      .flatMap((statement) => statement.Resource)
      .map((resource) => JSON.stringify(resource).match(/"Fn::GetAtt":\["(\w+)"/)?.[1]);

    expect(new Set(invocable)).toEqual(
      new Set(
        [
          HANDLER_MODULES.admitJob,
          HANDLER_MODULES.createProviderJob,
          HANDLER_MODULES.pollProviderJob,
          HANDLER_MODULES.downloadVideo,
          HANDLER_MODULES.recordFailure,
        ].map((module) => functionLogicalId(template, module)),
      ),
    );
  });
});
