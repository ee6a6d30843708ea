import { App, Duration, Stack } from 'aws-cdk-lib';
import {
  type CfnFunction,
  Code,
  Function as LambdaFunction,
  Runtime,
} from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  JitterType,
  Pass,
  StateMachine,
  Succeed,
  TaskInput,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '../../infra/local/cfn-template.ts';
import { InProcessLambdas, type LambdaHandler } from '../../infra/local/in-process-lambdas.ts';
import { localFunctions, localResolver } from '../../infra/local/local-resources.ts';
import {
  ExecutionFailedError,
  type ExecutionInfo,
} from '../../infra/local/local-step-functions.ts';
import {
  type LocalStateMachine,
  stateMachinesFromTemplate,
} from '../../infra/local/state-machine-definition.ts';
import { createStateMachineRunner } from '../../infra/local/state-machine-runner.ts';

const METADATA_KEY = 'test:handler-module';

class ProviderTransientError extends Error {
  override name = 'ProviderTransientError';
}
class ProviderRejectedError extends Error {
  override name = 'ProviderRejectedError';
}

/**
 * A small machine with the shape of the pipeline's (CDK chain, LambdaInvoke tasks with
 * ResultSelector, a Wait reading its seconds from the poll result, Retry on our error names,
 * Catch to a failure recorder), synthesized by CDK exactly as the real stack is.
 */
function synthesizeTemplate(): CfnTemplate {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const fn = (id: string) => {
    const created = new LambdaFunction(stack, id, {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => ({})'),
      timeout: Duration.seconds(5),
    });
    (created.node.defaultChild as CfnFunction).addMetadata(METADATA_KEY, `handlers/${id}.ts`);
    return created;
  };
  const retry = {
    errors: ['ProviderTransientError'],
    interval: Duration.seconds(60),
    maxAttempts: 3,
    backoffRate: 2,
    jitterStrategy: JitterType.FULL,
    maxDelay: Duration.seconds(300),
  };
  const recordFailure = new LambdaInvoke(stack, 'RecordFailure', {
    lambdaFunction: fn('RecordFailureFn'),
    payload: TaskInput.fromObject({ 'jobId.$': '$.jobId', 'error.$': '$.error' }),
    resultPath: '$.recorded',
  }).next(new Fail(stack, 'JobFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause' }));
  const catchAll = { resultPath: '$.error' };
  const create = new LambdaInvoke(stack, 'CreateProviderJob', {
    lambdaFunction: fn('CreateFn'),
    payload: TaskInput.fromObject({ 'jobId.$': '$.jobId' }),
    resultSelector: { 'waitSeconds.$': '$.Payload.waitSeconds' },
    resultPath: '$.poll',
  })
    .addRetry(retry)
    .addCatch(recordFailure, catchAll);
  const wait = new Wait(stack, 'WaitForProvider', {
    time: WaitTime.secondsPath('$.poll.waitSeconds'),
  });
  const poll = new LambdaInvoke(stack, 'PollProviderJob', {
    lambdaFunction: fn('PollFn'),
    payload: TaskInput.fromObject({ 'jobId.$': '$.jobId' }),
    resultSelector: { 'status.$': '$.Payload.status', 'waitSeconds.$': '$.Payload.waitSeconds' },
    resultPath: '$.poll',
  })
    .addRetry(retry)
    .addCatch(recordFailure, catchAll);
  const done = new Pass(stack, 'Done').next(new Succeed(stack, 'Succeeded'));
  const definition = create
    .next(wait)
    .next(poll)
    .next(
      new Choice(stack, 'IsReady')
        .when(Condition.stringEquals('$.poll.status', 'completed'), done)
        .otherwise(wait),
    );
  new StateMachine(stack, 'Generation', {
    definitionBody: DefinitionBody.fromChainable(definition),
    timeout: Duration.hours(2),
  });
  return app.synth().getStackByName('Test').template as CfnTemplate;
}

interface Harness {
  machine: LocalStateMachine;
  calls: { functionName: string; event: unknown }[];
  run(
    handlers: Record<string, LambdaHandler>,
    options?: { speed?: number; signal?: AbortSignal },
  ): Promise<unknown>;
}

let harness: Harness;

beforeAll(() => {
  const template = synthesizeTemplate();
  const resolver = localResolver(template);
  const [machine] = stateMachinesFromTemplate(template, resolver);
  if (!machine) throw new Error('no state machine synthesized');
  const functions = localFunctions(template, resolver, METADATA_KEY);
  const calls: Harness['calls'] = [];
  harness = {
    machine,
    calls,
    run(handlers, { speed = 1_000, signal = new AbortController().signal } = {}) {
      calls.length = 0;
      const lambdas = new InProcessLambdas(functions, {
        projectRoot: '/project',
        loadHandler: async (modulePath) => {
          const id = modulePath.replace(/^.*\/handlers\/(.*)\.ts$/, '$1');
          const handler = handlers[id];
          if (!handler) throw new Error(`no test handler for ${id}`);
          return (event, context) => {
            calls.push({ functionName: context.functionName, event });
            return handler(event, context);
          };
        },
      });
      const runner = createStateMachineRunner(machine, {
        speed,
        invokeLambda: (name, payload) => lambdas.invoke(name, payload),
      });
      const execution: ExecutionInfo = {
        executionArn: 'arn:aws:states:us-east-1:000000000000:execution:Generation:job-1',
        name: 'job-1',
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Generation',
        stateMachineName: 'Generation',
        startDate: new Date(),
      };
      return runner({ jobId: 'job-1' }, execution, signal);
    },
  };
});

const completesAfter = (polls: number) => {
  let count = 0;
  return async () => {
    count += 1;
    return { status: count >= polls ? 'completed' : 'in_progress', waitSeconds: 20 };
  };
};

describe('state machine from the synthesized template', () => {
  it('resolves each task to the local ARN of the function that CDK wired to it', () => {
    const states = harness.machine.definition.States;

    expect(states.CreateProviderJob).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: expect.stringMatching(
          /^arn:aws:lambda:us-east-1:000000000000:function:CreateFn/,
        ),
      },
    });
    expect(states.WaitForProvider).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.poll.waitSeconds',
    });
  });

  it('runs the poll loop through the Wait state to success, invoking each handler with its payload', async () => {
    const output = await harness.run({
      CreateFn: async () => ({ waitSeconds: 30 }),
      PollFn: completesAfter(3),
    });

    expect(harness.calls.map((call) => call.functionName.replace(/[A-F0-9]{8}$/, ''))).toEqual([
      'CreateFn',
      'PollFn',
      'PollFn',
      'PollFn',
    ]);
    expect(harness.calls[0]?.event).toEqual({ jobId: 'job-1' });
    expect(output).toMatchObject({ jobId: 'job-1', poll: { status: 'completed' } });
  });

  it('retries a task that throws ProviderTransientError, matched by the error name', async () => {
    let attempts = 0;

    const output = await harness.run({
      CreateFn: async () => {
        attempts += 1;
        if (attempts < 3) throw new ProviderTransientError('503 from provider');
        return { waitSeconds: 1 };
      },
      PollFn: completesAfter(1),
    });

    expect(attempts).toBe(3);
    expect(output).toMatchObject({ poll: { status: 'completed' } });
  });

  it('does not retry ProviderRejectedError and hands Error and a Lambda-shaped Cause to the Catch', async () => {
    const failure = harness.run({
      CreateFn: async () => {
        throw new ProviderRejectedError('moderation_blocked: refused');
      },
      RecordFailureFn: async () => ({ recorded: true }),
    });

    const error = await failure.catch((caught: unknown) => caught);
    const recordCall = harness.calls.find((call) =>
      call.functionName.startsWith('RecordFailureFn'),
    );
    const recorded = recordCall?.event as { error: { Error: string; Cause: string } };

    expect(harness.calls.filter((call) => call.functionName.startsWith('CreateFn'))).toHaveLength(
      1,
    );
    expect(recorded.error.Error).toBe('ProviderRejectedError');
    expect(JSON.parse(recorded.error.Cause)).toMatchObject({
      errorType: 'ProviderRejectedError',
      errorMessage: 'moderation_blocked: refused',
    });
    expect(error).toBeInstanceOf(ExecutionFailedError);
    expect(error).toMatchObject({ error: 'ProviderRejectedError' });
  });

  it('catches a transient error once its retries are exhausted', async () => {
    const failure = harness.run({
      PollFn: async () => {
        throw new ProviderTransientError('still down');
      },
      CreateFn: async () => ({ waitSeconds: 1 }),
      RecordFailureFn: async () => ({ recorded: true }),
    });

    await expect(failure).rejects.toMatchObject({ error: 'ProviderTransientError' });
    // First attempt plus MaxAttempts (3) retries.
    expect(harness.calls.filter((call) => call.functionName.startsWith('PollFn'))).toHaveLength(4);
  });

  it('divides Wait durations by the speed factor', async () => {
    const started = Date.now();

    await harness.run(
      { CreateFn: async () => ({ waitSeconds: 20 }), PollFn: completesAfter(1) },
      { speed: 100 },
    );
    const elapsed = Date.now() - started;

    // 20 s at x100 is 200 ms; unscaled it would be 20 s. The wide upper bound tolerates a
    // loaded machine and still tells the two apart.
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('ends quietly when the execution is aborted during a Wait', async () => {
    const controller = new AbortController();
    const run = harness.run(
      {
        CreateFn: async () => {
          setImmediate(() => controller.abort());
          return { waitSeconds: 3_600 };
        },
      },
      { speed: 1, signal: controller.signal },
    );

    await expect(run).resolves.toBeNull();
  });
});

describe('unsupported definitions', () => {
  it('refuses a task that is not a Lambda invocation, naming the state', () => {
    const template: CfnTemplate = {
      Resources: {
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            DefinitionString: JSON.stringify({
              StartAt: 'Put',
              States: {
                Put: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:putItem', End: true },
              },
            }),
          },
        },
      },
    };

    expect(() => stateMachinesFromTemplate(template, localResolver(template))).toThrow(
      /state "Put" calls arn:aws:states:::dynamodb:putItem/,
    );
  });
});

describe('validation of the synthesized definition', () => {
  // A Choice state without Choices: the interpreter's validator refuses it.
  const invalid = {
    logicalId: 'Broken',
    definition: {
      StartAt: 'Pick',
      States: { Pick: { Type: 'Choice', Default: 'Done' }, Done: { Type: 'Succeed' } },
    },
  } as unknown as Parameters<typeof createStateMachineRunner>[0];
  const invokeLambda = async () => ({ payload: null });

  it('refuses an invalid definition by default', () => {
    expect(() => createStateMachineRunner(invalid, { speed: 1, invokeLambda })).toThrow(
      /definition is invalid/,
    );
  });

  it('skips the check when told to (templates from the cache, checked when they were synthesized)', () => {
    expect(() =>
      createStateMachineRunner(invalid, { speed: 1, invokeLambda, validate: false }),
    ).not.toThrow();
  });
});
