import { readFileSync } from 'node:fs';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_POLLS,
  LAMBDA_SERVICE_ERRORS,
} from '../../infra/constructs/generation-state-machine.ts';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import {
  type Asl,
  type AslState,
  type Catcher,
  definitionOf,
  functionLogicalId,
  type Retrier,
  synthesizeForTest,
} from './synthesized-pipeline.ts';

const TASKS = ['CreateProviderJob', 'PollProviderJob', 'DownloadVideo', 'RecordFailure'] as const;
const PROVIDER_TASKS = ['CreateProviderJob', 'PollProviderJob', 'DownloadVideo'] as const;

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

describe('generation state machine shape', () => {
  it('has exactly the states of docs/architecture.md, with their types', () => {
    const types = Object.fromEntries(Object.entries(asl.States).map(([n, s]) => [n, s.Type]));

    expect(types).toEqual({
      CreateProviderJob: 'Task',
      IsProviderJobStarted: 'Choice',
      WaitForSlot: 'Wait',
      JobDeferred: 'Succeed',
      WaitForProvider: 'Wait',
      PollProviderJob: 'Task',
      IsVideoReady: 'Choice',
      DownloadVideo: 'Task',
      ProviderJobFailed: 'Pass',
      PollLimitReached: 'Pass',
      RecordFailure: 'Task',
      JobFailed: 'Fail',
      JobSucceeded: 'Succeed',
    });
  });

  it('runs create -> choice -> wait -> poll -> choice, and download -> succeed', () => {
    expect(asl.StartAt).toBe('CreateProviderJob');
    expect(state('CreateProviderJob').Next).toBe('IsProviderJobStarted');
    expect(state('IsProviderJobStarted').Default).toBe('WaitForProvider');
    expect(state('WaitForProvider').Next).toBe('PollProviderJob');
    expect(state('PollProviderJob').Next).toBe('IsVideoReady');
    expect(state('DownloadVideo').Next).toBe('JobSucceeded');
  });

  it('sends a job a limit holds back to WaitForSlot and back to create, a deferred one to JobDeferred', () => {
    const choice = state('IsProviderJobStarted');

    expect(choice.Choices).toEqual([
      {
        Or: [
          { Variable: '$.poll.status', StringEquals: 'waiting_for_slot' },
          { Variable: '$.poll.status', StringEquals: 'waiting_for_rate_limit' },
        ],
        Next: 'WaitForSlot',
      },
      { Variable: '$.poll.status', StringEquals: 'deferred', Next: 'JobDeferred' },
    ]);
    expect(state('WaitForSlot').Next).toBe('CreateProviderJob');
    expect(state('JobDeferred')).toMatchObject({ Type: 'Succeed' });
  });

  it('waits for a slot as long as the create step says ($.poll.waitSeconds)', () => {
    expect(state('WaitForSlot')).toMatchObject({ SecondsPath: '$.poll.waitSeconds' });
    expect(state('WaitForSlot')).not.toHaveProperty('Seconds');
  });

  it('routes completed to the download, failed and the poll limit to RecordFailure, else waits', () => {
    const choice = state('IsVideoReady');

    expect(choice.Choices).toEqual([
      { Variable: '$.poll.status', StringEquals: 'completed', Next: 'DownloadVideo' },
      { Variable: '$.poll.status', StringEquals: 'failed', Next: 'ProviderJobFailed' },
      {
        Variable: '$.poll.pollCount',
        NumericGreaterThan: DEFAULT_MAX_POLLS,
        Next: 'PollLimitReached',
      },
    ]);
    expect(choice.Default).toBe('WaitForProvider');
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

  it('gives the poll limit its own error and a plain-text cause', () => {
    expect(state('PollLimitReached')).toMatchObject({
      Result: { Error: 'PollLimitReached', Cause: expect.stringContaining(`${DEFAULT_MAX_POLLS}`) },
      ResultPath: '$.error',
      Next: 'RecordFailure',
    });
  });

  it('records the failure, then fails the execution with the original error and cause', () => {
    expect(state('RecordFailure').Next).toBe('JobFailed');
    expect(state('JobFailed')).toMatchObject({
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
  });

  it('has a whole-execution timeout: the default 6 h slot wait plus 2 h of generation', () => {
    expect(asl.TimeoutSeconds).toBe(8 * 3600);
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

  it('CreateProviderJob gets the job id and the execution start (slot waits count from it)', () => {
    expect((state('CreateProviderJob').Parameters as Record<string, unknown>).Payload).toEqual({
      'jobId.$': '$.jobId',
      'executionStartedAt.$': '$$.Execution.StartTime',
    });
  });

  it.each(['PollProviderJob', 'DownloadVideo'])('%s gets only the job id', (name) => {
    expect((state(name).Parameters as Record<string, unknown>).Payload).toEqual({
      'jobId.$': '$.jobId',
    });
  });

  it('hands RecordFailure the job id and the caught { Error, Cause }', () => {
    expect((state('RecordFailure').Parameters as Record<string, unknown>).Payload).toEqual({
      'jobId.$': '$.jobId',
      'error.$': '$.error',
    });
  });

  it.each(['CreateProviderJob', 'PollProviderJob'])(
    '%s stores its poll state at $.poll',
    (name) => {
      expect(state(name)).toMatchObject({
        ResultPath: '$.poll',
        ResultSelector: {
          'status.$': '$.Payload.status',
          'progress.$': '$.Payload.progress',
          'waitSeconds.$': '$.Payload.waitSeconds',
          'pollCount.$': '$.Payload.pollCount',
          'error.$': '$.Payload.error',
        },
      });
    },
  );

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

  it('keeps $.error intact through RecordFailure (its result is discarded)', () => {
    expect(state('RecordFailure').ResultPath).toBeNull();
  });
});

describe('retries', () => {
  it.each(TASKS)('%s retries the Lambda service errors', (name) => {
    const errors = retriersOf(name).flatMap((retrier) => retrier.ErrorEquals);

    expect(errors).toEqual(expect.arrayContaining(LAMBDA_SERVICE_ERRORS));
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
  it.each(PROVIDER_TASKS)('%s sends every error to RecordFailure at $.error', (name) => {
    expect(catchersOf(name)).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' },
    ]);
  });

  it('ends in JobFailed when RecordFailure itself fails, without overwriting $.error', () => {
    const [catcher, ...others] = catchersOf('RecordFailure');

    expect(others).toEqual([]);
    expect(catcher).toMatchObject({ ErrorEquals: ['States.ALL'], Next: 'JobFailed' });
    expect(catcher?.ResultPath).not.toBe('$.error');
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

  it('may invoke the four task functions and no other', () => {
    const invocable = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => statement.Action === 'lambda:InvokeFunction')
      .flatMap((statement) => statement.Resource)
      .map((resource) => JSON.stringify(resource).match(/"Fn::GetAtt":\["(\w+)"/)?.[1]);

    expect(new Set(invocable)).toEqual(
      new Set(
        [
          HANDLER_MODULES.createProviderJob,
          HANDLER_MODULES.pollProviderJob,
          HANDLER_MODULES.downloadVideo,
          HANDLER_MODULES.recordFailure,
        ].map((module) => functionLogicalId(template, module)),
      ),
    );
  });
});
