import { randomUUID } from 'node:crypto';
import { now } from '../../functions/shared/clock.ts';
import { AwsApiError } from './aws-api-error.ts';
import {
  executionArn as buildExecutionArn,
  stateMachineArn as buildStateMachineArn,
} from './local-ids.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** What a runner learns about the execution it runs (the Context Object's `Execution` and `StateMachine`). */
export interface ExecutionInfo {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  stateMachineName: string;
  startDate: Date;
}

/** Runs one execution to its end: resolves with the output, rejects with `ExecutionFailedError`. */
export type ExecutionRunner = (
  input: unknown,
  execution: ExecutionInfo,
  signal: AbortSignal,
) => Promise<unknown>;

/** How a runner reports a failed (or timed-out) execution: the `error` and `cause` AWS would show. */
export class ExecutionFailedError extends Error {
  override name = 'ExecutionFailedError';
  readonly error: string;
  readonly causeText: string;
  readonly timedOut: boolean;

  constructor(error: string, cause: string, timedOut = false) {
    super(`${error}: ${cause}`);
    this.error = error;
    this.causeText = cause;
    this.timedOut = timedOut;
  }
}

export interface ExecutionRecord extends ExecutionInfo {
  status: ExecutionStatus;
  /** The input as given, a JSON string. */
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  stopDate?: Date;
}

interface StateMachineEntry {
  arn: string;
  name: string;
  run: ExecutionRunner;
}

const MAX_INPUT_BYTES = 256 * 1024;
// AWS: 1-80 characters, none of whitespace, brackets, wildcards, these punctuation marks or
// control characters.
const INVALID_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]/u;

/**
 * The Step Functions API semantics the handlers rely on, over local runners: execution names are
 * unique per state machine (a repeated start with the same input while running returns the
 * running execution, anything else is `ExecutionAlreadyExists`), executions run in the background
 * and end SUCCEEDED, FAILED, TIMED_OUT or ABORTED. Start and stop dates are read from the
 * pipeline's clock (the local stack's `--speed` clock).
 */
export class LocalStepFunctions {
  readonly #machines = new Map<string, StateMachineEntry>();
  // Map order is start order, which breaks ties between executions started in the same ms.
  readonly #executions = new Map<string, ExecutionRecord & { controller: AbortController }>();
  readonly #running = new Set<Promise<void>>();
  readonly #listeners = new Set<(record: ExecutionRecord) => void>();

  /** Registers a state machine and returns its ARN. */
  addStateMachine(name: string, run: ExecutionRunner): string {
    const arn = buildStateMachineArn(name);
    this.#machines.set(arn, { arn, name, run });
    return arn;
  }

  startExecution(request: { stateMachineArn?: string; name?: string; input?: string }): {
    executionArn: string;
    startDate: Date;
  } {
    const machine = this.#machine(request.stateMachineArn);
    const name = request.name ?? randomUUID();
    if (name.length < 1 || name.length > 80 || INVALID_NAME.test(name)) {
      throw new AwsApiError('InvalidName', `Invalid Name: '${name}'`);
    }
    const input = request.input ?? '{}';
    const parsedInput = parseInput(input);
    const executionArn = buildExecutionArn(machine.name, name);
    const existing = this.#executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: existing.startDate };
      }
      throw new AwsApiError(
        'ExecutionAlreadyExists',
        `Execution Already Exists: '${executionArn}'`,
      );
    }
    const record = {
      executionArn,
      name,
      stateMachineArn: machine.arn,
      stateMachineName: machine.name,
      startDate: now(),
      status: 'RUNNING' as ExecutionStatus,
      input,
      controller: new AbortController(),
    };
    this.#executions.set(executionArn, record);
    const run = this.#run(machine, record, parsedInput);
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
    return { executionArn, startDate: record.startDate };
  }

  describeExecution(request: { executionArn?: string }): ExecutionRecord {
    return publicRecord(this.#execution(request.executionArn));
  }

  listExecutions(request: {
    stateMachineArn?: string;
    statusFilter?: ExecutionStatus;
    maxResults?: number;
    nextToken?: string;
  }): { executions: ExecutionRecord[]; nextToken?: string } {
    const machine = this.#machine(request.stateMachineArn);
    const all = [...this.#executions.values()]
      .filter((record) => record.stateMachineArn === machine.arn)
      .filter((record) => !request.statusFilter || record.status === request.statusFilter)
      .reverse();
    const pageSize = request.maxResults && request.maxResults > 0 ? request.maxResults : 100;
    const offset = request.nextToken
      ? Number(Buffer.from(request.nextToken, 'base64url').toString())
      : 0;
    if (!Number.isInteger(offset) || offset < 0) {
      throw new AwsApiError('InvalidToken', 'Invalid Token');
    }
    const page = all.slice(offset, offset + pageSize).map(publicRecord);
    const next = offset + pageSize;
    return next < all.length
      ? { executions: page, nextToken: Buffer.from(String(next)).toString('base64url') }
      : { executions: page };
  }

  stopExecution(request: { executionArn?: string; error?: string; cause?: string }): {
    stopDate: Date;
  } {
    const record = this.#execution(request.executionArn);
    if (record.status === 'RUNNING') {
      this.#finish(record, { status: 'ABORTED', error: request.error, cause: request.cause });
      record.controller.abort();
    }
    return { stopDate: record.stopDate ?? now() };
  }

  /** Calls `listener` each time an execution ends (tests and the CLI wait on this). */
  onExecutionEnd(listener: (record: ExecutionRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves when no execution is running. */
  async whenIdle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /** Aborts every running execution and waits for their runners to return. */
  async close(): Promise<void> {
    for (const record of this.#executions.values()) {
      if (record.status === 'RUNNING') {
        this.#finish(record, {
          status: 'ABORTED',
          error: 'LocalStackStopped',
          cause: 'The local stack was stopped',
        });
        record.controller.abort();
      }
    }
    await this.whenIdle();
  }

  async #run(
    machine: StateMachineEntry,
    record: ExecutionRecord & { controller: AbortController },
    input: unknown,
  ): Promise<void> {
    // Let StartExecution answer before the first state runs, as in AWS.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      const output = await machine.run(input, publicRecord(record), record.controller.signal);
      this.#finish(record, { status: 'SUCCEEDED', output: JSON.stringify(output ?? null) });
    } catch (error) {
      if (error instanceof ExecutionFailedError) {
        this.#finish(record, {
          status: error.timedOut ? 'TIMED_OUT' : 'FAILED',
          error: error.error,
          cause: error.causeText,
        });
      } else {
        const message = error instanceof Error ? error.message : String(error);
        this.#finish(record, { status: 'FAILED', error: 'States.Runtime', cause: message });
      }
    }
  }

  #finish(
    record: ExecutionRecord,
    outcome: {
      status: ExecutionStatus;
      output?: string;
      error?: string | undefined;
      cause?: string | undefined;
    },
  ): void {
    if (record.status !== 'RUNNING') return;
    record.status = outcome.status;
    record.stopDate = now();
    if (outcome.output !== undefined) record.output = outcome.output;
    if (outcome.error !== undefined) record.error = outcome.error;
    if (outcome.cause !== undefined) record.cause = outcome.cause;
    const snapshot = publicRecord(record);
    for (const listener of this.#listeners) listener(snapshot);
  }

  #machine(arn: string | undefined): StateMachineEntry {
    const machine = arn ? this.#machines.get(arn) : undefined;
    if (!machine) {
      throw new AwsApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${arn ?? ''}'`,
      );
    }
    return machine;
  }

  #execution(arn: string | undefined): ExecutionRecord & { controller: AbortController } {
    const record = arn ? this.#executions.get(arn) : undefined;
    if (!record) {
      throw new AwsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn ?? ''}'`);
    }
    return record;
  }
}

function parseInput(input: string): unknown {
  if (Buffer.byteLength(input) > MAX_INPUT_BYTES) {
    throw new AwsApiError('InvalidExecutionInput', 'Input is larger than 256 KiB');
  }
  try {
    return JSON.parse(input);
  } catch {
    throw new AwsApiError(
      'InvalidExecutionInput',
      `Invalid State Machine Execution Input: '${input}'`,
    );
  }
}

function publicRecord(record: ExecutionRecord): ExecutionRecord {
  const { controller: _controller, ...rest } = record as ExecutionRecord & {
    controller?: AbortController;
  };
  return { ...rest };
}
