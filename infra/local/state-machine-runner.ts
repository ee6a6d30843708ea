import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { nowMs } from '../../functions/shared/clock.ts';
import type { LambdaFunctionError, LambdaInvokeResult } from './in-process-lambdas.ts';
import { parseReferencePath, readPath } from './json-path.ts';
import { LOCAL_ACCOUNT } from './local-ids.ts';
import {
  ExecutionFailedError,
  type ExecutionInfo,
  type ExecutionRunner,
} from './local-step-functions.ts';
import {
  type AslDefinition,
  type AslState,
  forEachState,
  isLambdaTask,
  LAMBDA_INVOKE,
  type LocalStateMachine,
  nestedMachines,
} from './state-machine-definition.ts';

export interface StateMachineRunnerOptions {
  /**
   * Divides every duration the definition sets: Wait states, Retry intervals (IntervalSeconds
   * and MaxDelaySeconds, so backoff and full jitter keep their shape) and the machine timeout.
   * Task timeouts are not scaled: handlers do real work at real speed.
   */
  speed: number;
  /**
   * The stack's clock's rate now, stack ms per wall ms (default `speed`): a Wait state is a
   * duration on that clock, so it sleeps that long divided by the rate. It differs from `speed`
   * while a clock at x1 catches up with the wall clock (local-clock.ts).
   */
  clockRate?: () => number;
  /** Invokes a Lambda function by name or ARN (in-process locally). */
  invokeLambda: (functionNameOrArn: string, payload: unknown) => Promise<LambdaInvokeResult>;
  /**
   * Validate the synthesized definition first (default true). The validator compiles its JSON
   * schemas on first use, half a second of a stack's start: the local stack validates its
   * templates' machines once, when it synthesizes them and before it caches them
   * (`validateStateMachine`), and skips it here.
   */
  validate?: boolean;
}

/** The longest timer Node accepts (2^31-1 ms); longer ones fire at once. */
const MAX_TIMER_SECONDS = 2_147_483;
const LOCAL_TIMER = 'arn:aws:states:::local:timer';
/**
 * The interpreter sets `$$.Execution.StartTime` to its own wall-clock start; the definition's
 * references to it read the execution's start date (on the stack's clock) from here instead.
 */
const START_TIME_PATH = '$$.Execution.StartTime';
const LOCAL_START_TIME = 'LocalStartTime';

/**
 * A Lambda error as Step Functions surfaces it: `Error` is the function's error type, `Cause` the
 * JSON the Lambda service reports, so Retry and Catch match on our error class names as in AWS.
 */
export class LambdaTaskFailure extends Error {
  constructor(failure: LambdaFunctionError) {
    super(JSON.stringify(failure));
    this.name = failure.errorType;
  }
}

/** Throws, naming what is wrong, unless the interpreter accepts the machine's definition. */
export function validateStateMachine(machine: LocalStateMachine): void {
  new StateMachine(machine.definition as unknown as StateMachineDefinition);
}

/**
 * Runs a synthesized state machine on `aws-local-stepfunctions`. The definition is run as
 * synthesized with three mechanical changes, all for the stack's one clock: each Wait state
 * becomes a local timer task that evaluates the same Seconds/SecondsPath/Timestamp/TimestampPath
 * on the same input and sleeps that long divided by `speed` (the interpreter's own Wait
 * overrides are fixed durations, which would lose the poll-driven waits); Retry intervals and the
 * machine timeout are divided by `speed`; and references to `$$.Execution.StartTime` read the
 * execution's start date (`ExecutionInfo.startDate`, on the pipeline's clock, as DescribeExecution
 * shows it) rather than the interpreter's wall-clock start.
 */
export function createStateMachineRunner(
  machine: LocalStateMachine,
  options: StateMachineRunnerOptions,
): ExecutionRunner {
  // Validate what was synthesized, then run the time-scaled copy.
  if (options.validate ?? true) validateStateMachine(machine);
  const waits = new Map<string, AslState>();
  const lambdaTasks = new Map<string, AslState>();
  forEachState(machine.definition, (name, state) => {
    if (state.Type === 'Wait') waits.set(name, state);
    if (isLambdaTask(state)) lambdaTasks.set(name, state);
  });
  const scaled = scaleDefinition(machine.definition, options.speed);
  const interpreter = new StateMachine(scaled as unknown as StateMachineDefinition, {
    validationOptions: { noValidate: true },
  });

  return async (input: unknown, execution: ExecutionInfo, signal: AbortSignal) => {
    const context = {
      Execution: {
        Id: execution.executionArn,
        Name: execution.name,
        RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${machine.logicalId}Role`,
        StartTime: execution.startDate.toISOString(),
        [LOCAL_START_TIME]: execution.startDate.toISOString(),
      },
      StateMachine: { Id: execution.stateMachineArn, Name: execution.stateMachineName },
    };
    const taskResourceLocalHandlers: Record<string, (taskInput: unknown) => Promise<unknown>> = {};
    for (const [name, state] of lambdaTasks) {
      taskResourceLocalHandlers[name] = (taskInput) => invokeTask(state, taskInput, options);
    }
    for (const [name, state] of waits) {
      taskResourceLocalHandlers[name] = async (waitInput) => {
        await sleep(
          waitMs(state, waitInput, context, options.clockRate?.() ?? options.speed),
          signal,
        );
        return waitInput;
      };
    }
    const run = interpreter.run(input as never, {
      overrides: { taskResourceLocalHandlers: taskResourceLocalHandlers as never },
      context,
      noThrowOnAbort: true,
    });
    const abort = () => run.abort();
    signal.addEventListener('abort', abort, { once: true });
    try {
      return await run.result;
    } catch (error) {
      throw executionFailure(error);
    } finally {
      signal.removeEventListener('abort', abort);
    }
  };
}

async function invokeTask(
  state: AslState,
  taskInput: unknown,
  options: StateMachineRunnerOptions,
): Promise<unknown> {
  const viaInvoke = state.Resource === LAMBDA_INVOKE;
  const parameters = (taskInput ?? {}) as { FunctionName?: unknown; Payload?: unknown };
  const functionName = viaInvoke ? String(parameters.FunctionName) : String(state.Resource);
  // lambda:invoke without a Payload parameter sends the whole state input.
  const payload = viaInvoke ? (parameters.Payload ?? taskInput) : taskInput;
  const result = await options.invokeLambda(functionName, payload);
  if ('functionError' in result) throw new LambdaTaskFailure(result.functionError);
  return viaInvoke
    ? { ExecutedVersion: '$LATEST', Payload: result.payload, StatusCode: 200 }
    : result.payload;
}

function executionFailure(error: unknown): unknown {
  if (error instanceof ExecutionTimeoutError) {
    return new ExecutionFailedError('States.Timeout', 'The execution timed out', true);
  }
  if (error instanceof ExecutionError && error.cause instanceof Error) {
    return new ExecutionFailedError(error.cause.name, error.cause.message);
  }
  if (error instanceof ExecutionAbortedError) {
    return new ExecutionFailedError('States.Aborted', 'The execution was aborted');
  }
  return error;
}

function scaleDefinition(definition: AslDefinition, speed: number): AslDefinition {
  const copy = structuredClone(definition);
  if (typeof copy.TimeoutSeconds === 'number') {
    copy.TimeoutSeconds = Math.min(copy.TimeoutSeconds / speed, MAX_TIMER_SECONDS);
  }
  scaleStates(copy, speed);
  return copy;
}

function scaleStates(machine: { States: Record<string, AslState> }, speed: number): void {
  for (const [name, state] of Object.entries(machine.States)) {
    if (Array.isArray(state.Retry)) {
      state.Retry = state.Retry.map((retrier: Record<string, unknown>) => {
        const interval = typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1;
        const scaledRetrier: Record<string, unknown> = {
          ...retrier,
          IntervalSeconds: interval / speed,
        };
        if (typeof retrier.MaxDelaySeconds === 'number') {
          scaledRetrier.MaxDelaySeconds = retrier.MaxDelaySeconds / speed;
        }
        return scaledRetrier;
      });
    }
    if (state.Type === 'Task' && state.TimeoutSeconds === undefined) {
      // The interpreter's default is 60 s; AWS has none (the function's own timeout applies,
      // enforced by InProcessLambdas).
      state.TimeoutSeconds = MAX_TIMER_SECONDS;
    }
    rewriteStartTime(state);
    if (state.Type === 'Wait') machine.States[name] = timerTask(state);
    for (const nested of nestedMachines(state)) scaleStates(nested, speed);
  }
}

/** Points the state's paths (`*.$` values, `*Path`, `Variable`) at the local start time. */
function rewriteStartTime(state: AslState): void {
  const visit = (value: unknown, key: string): unknown => {
    if (typeof value === 'string') {
      const isPath = key.endsWith('.$') || key.endsWith('Path') || key === 'Variable';
      return isPath && value.includes(START_TIME_PATH)
        ? value.replaceAll(START_TIME_PATH, () => `$$.Execution.${LOCAL_START_TIME}`)
        : value;
    }
    if (Array.isArray(value)) return value.map((item) => visit(item, key));
    if (typeof value === 'object' && value !== null) {
      for (const [childKey, child] of Object.entries(value)) {
        (value as Record<string, unknown>)[childKey] = visit(child, childKey);
      }
    }
    return value;
  };
  for (const [key, value] of Object.entries(state)) {
    // Nested machines are rewritten state by state (scaleStates).
    if (key === 'Iterator' || key === 'ItemProcessor' || key === 'Branches') continue;
    state[key] = visit(value, key);
  }
}

function timerTask(wait: AslState): AslState {
  const task: AslState = { Type: 'Task', Resource: LOCAL_TIMER, TimeoutSeconds: MAX_TIMER_SECONDS };
  for (const field of ['Comment', 'InputPath', 'OutputPath', 'Next', 'End']) {
    if (wait[field] !== undefined) task[field] = wait[field];
  }
  return task;
}

/**
 * The Wait state's duration for this input, in ms, divided by `speed`; a Timestamp is compared
 * with the pipeline's clock (the stack's clock, which runs `speed` times the wall clock).
 */
function waitMs(state: AslState, input: unknown, context: unknown, speed: number): number {
  const read = (field: 'SecondsPath' | 'TimestampPath') => {
    const path = parseReferencePath(String(state[field]));
    return path ? readPath(path, input, context) : undefined;
  };
  let ms: number;
  if (typeof state.Seconds === 'number') {
    ms = state.Seconds * 1000;
  } else if (typeof state.Timestamp === 'string') {
    ms = Date.parse(state.Timestamp) - nowMs();
  } else if (typeof state.SecondsPath === 'string') {
    const seconds = read('SecondsPath');
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
      throw new StatesRuntimeFailure(
        `SecondsPath ${state.SecondsPath} must point to a non-negative integer, got ${JSON.stringify(seconds)}`,
      );
    }
    ms = seconds * 1000;
  } else {
    const timestamp = read('TimestampPath');
    const at = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
    if (Number.isNaN(at)) {
      throw new StatesRuntimeFailure(
        `TimestampPath ${String(state.TimestampPath)} is not a timestamp`,
      );
    }
    ms = at - nowMs();
  }
  return Math.max(0, ms / speed);
}

/**
 * A Wait state that cannot compute its duration fails the execution as `States.Runtime`, which
 * (as in AWS) no Retry or Catch can handle; the interpreter reads these two flags.
 */
class StatesRuntimeFailure extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;

  constructor(message: string) {
    super(message);
    this.name = 'States.Runtime';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
