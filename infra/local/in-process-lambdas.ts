import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { lambdaArn } from './local-ids.ts';
import type { LocalFunctionSpec } from './local-resources.ts';

export type LambdaHandler = (event: unknown, context: Context) => unknown;

/** What the Lambda Invoke API reports for a function that threw (`FunctionError: Unhandled`). */
export interface LambdaFunctionError {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export type LambdaInvokeResult = { payload: unknown } | { functionError: LambdaFunctionError };

/** The invocation a piece of code runs in: its function and, once known, the job it works on. */
export interface InvocationScope {
  /** The function's logical id (`DownloadVideoFunction1A2B3C4D`). */
  functionName: string;
  jobId?: string;
}

const invocations = new AsyncLocalStorage<InvocationScope>();

/**
 * The invocation the caller runs in, if any. In Lambda one instance serves one invocation at a
 * time, so the handlers keep the function and the job on their one shared logger; here every
 * function shares one process and one logger, and concurrent invocations overwrite each other's
 * keys. What the terminal shows about a log line comes from here instead.
 */
export function currentInvocation(): InvocationScope | undefined {
  return invocations.getStore();
}

/** Records the job the current invocation works on (an API handler learns it midway). */
export function noteInvocationJobId(jobId: unknown): void {
  const scope = invocations.getStore();
  if (scope && typeof jobId === 'string' && jobId !== '') scope.jobId = jobId;
}

export interface InProcessLambdasOptions {
  /** Directory the functions' `handlerModule` paths are relative to. */
  projectRoot: string;
  /** Loads a handler by absolute module path; default: dynamic import of its `handler` export. */
  loadHandler?: (modulePath: string) => Promise<LambdaHandler>;
}

/**
 * Invokes the template's functions in this process, as the Lambda service would: the event and
 * the result cross a JSON boundary, a thrown error becomes `{errorType, errorMessage, trace}`,
 * and the function's timeout ends the invocation with `Sandbox.Timedout`. Modules are imported
 * and configured on first use, so the functions' environment (handed over through
 * functions/shared/config/function-environment.ts) must be set before the first invocation.
 */
export class InProcessLambdas {
  readonly #functions: Map<string, LocalFunctionSpec>;
  readonly #options: InProcessLambdasOptions;
  readonly #handlers = new Map<string, Promise<LambdaHandler>>();

  constructor(functions: Map<string, LocalFunctionSpec>, options: InProcessLambdasOptions) {
    this.#functions = functions;
    this.#options = options;
  }

  /** The function's spec by name, ARN (qualifier ignored) or logical id. */
  spec(functionNameOrArn: string): LocalFunctionSpec {
    const name = functionNameOrArn.includes(':function:')
      ? (functionNameOrArn.split(':function:')[1]?.split(':')[0] ?? '')
      : functionNameOrArn;
    const spec = this.#functions.get(name);
    if (!spec) throw new Error(`No local function named ${functionNameOrArn}`);
    return spec;
  }

  async invoke(functionNameOrArn: string, event: unknown): Promise<LambdaInvokeResult> {
    const spec = this.spec(functionNameOrArn);
    let handler: LambdaHandler;
    try {
      handler = await this.#handler(spec);
    } catch (error) {
      // As in Lambda, a module that fails to initialise fails the invocation (and the next
      // invocation initialises afresh).
      this.#handlers.delete(spec.logicalId);
      return { functionError: functionError(error) };
    }
    const deadline = Date.now() + spec.timeoutSeconds * 1000;
    const context = lambdaContext(spec, deadline);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<LambdaInvokeResult>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            functionError: {
              errorType: 'Sandbox.Timedout',
              errorMessage: `Task timed out after ${spec.timeoutSeconds.toFixed(2)} seconds`,
              trace: [],
            },
          }),
        spec.timeoutSeconds * 1000,
      );
    });
    const scope: InvocationScope = { functionName: spec.logicalId };
    // A state machine task's input names its job.
    noteJobIdOf(scope, event);
    const run = invocations.run(scope, async (): Promise<LambdaInvokeResult> => {
      try {
        const result = await handler(jsonCopy(event), context);
        return { payload: jsonCopy(result) };
      } catch (error) {
        return { functionError: functionError(error) };
      }
    });
    try {
      return await Promise.race([run, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  #handler(spec: LocalFunctionSpec): Promise<LambdaHandler> {
    let handler = this.#handlers.get(spec.logicalId);
    if (!handler) {
      const modulePath = resolvePath(this.#options.projectRoot, spec.handlerModule);
      handler = (this.#options.loadHandler ?? importHandler)(modulePath);
      this.#handlers.set(spec.logicalId, handler);
    }
    return handler;
  }
}

async function importHandler(modulePath: string): Promise<LambdaHandler> {
  const module: { handler?: unknown } = await import(pathToFileURL(modulePath).href);
  if (typeof module.handler !== 'function') {
    throw new Error(`${modulePath} does not export a handler function`);
  }
  return module.handler as LambdaHandler;
}

/** The Node.js runtime's report of an unhandled error. */
export function functionError(error: unknown): LambdaFunctionError {
  if (error instanceof Error) {
    return {
      errorType: error.name,
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n'),
    };
  }
  return { errorType: 'Error', errorMessage: String(error), trace: [] };
}

function noteJobIdOf(scope: InvocationScope, event: unknown): void {
  const jobId = (event as { jobId?: unknown } | null)?.jobId;
  if (typeof jobId === 'string' && jobId !== '') scope.jobId = jobId;
}

function jsonCopy(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

function lambdaContext(spec: LocalFunctionSpec, deadline: number): Context {
  const unsupportedCallback = () => {
    throw new Error('Callback-style completion is not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: spec.logicalId,
    functionVersion: '$LATEST',
    invokedFunctionArn: lambdaArn(spec.logicalId),
    memoryLimitInMB: String(spec.memorySize),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${spec.logicalId}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupportedCallback,
    fail: unsupportedCallback,
    succeed: unsupportedCallback,
  };
}
