/**
 * The handlers log JSON lines meant for CloudWatch (Powertools): a failed task's line is ~3 KB
 * with the error's stack and its cause's. In the `npm start` terminal each such line becomes one
 * short line: level, function, job, message, and the error's name, code and message. Other
 * output passes through unchanged; `--log-level DEBUG` keeps the raw lines.
 */

import { currentInvocation } from './in-process-lambdas.ts';
import { printable } from './terminal-text.ts';

const MAX_LINE_LENGTH = 400;

interface LoggedError {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  status?: unknown;
  operation?: unknown;
}

/** Whose line it is: the invocation that wrote it (in-process-lambdas.ts), when known. */
export interface LogLineSource {
  functionName: string;
  jobId?: string | undefined;
}

/**
 * One short line for a Powertools JSON log line, or undefined when `line` is not one. `source`,
 * the invocation that wrote the line, names its function and job: the line's own keys may be
 * another invocation's, as every function shares one logger in this process.
 */
export function compactLogLine(line: string, source?: LogLineSource): string | undefined {
  if (!line.startsWith('{"level"')) return undefined;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof entry.level !== 'string' || typeof entry.message !== 'string') return undefined;
  const where = (
    source
      ? [functionLabel(source.functionName), source.jobId]
      : [functionLabel(entry.function_name), entry.jobId]
  )
    .filter((part): part is string => typeof part === 'string' && part !== '')
    .join(' ');
  const error = entry.error as LoggedError | undefined;
  const parts = [`${entry.level}${where ? ` ${where}` : ''}: ${entry.message}`];
  if (error && typeof error === 'object') parts.push(errorText(error));
  // A logged message or error can quote a prompt or a provider: escaped before it is shown.
  const text = printable(parts.join(': '));
  return text.length > MAX_LINE_LENGTH ? `${text.slice(0, MAX_LINE_LENGTH)}...` : text;
}

/**
 * `ProviderRejectedError moderation_blocked (create, HTTP 400)`, or with the error's message.
 * A provider error is logged without its message (it can quote the prompt: loggable-error.ts),
 * so its operation and status say what failed instead.
 */
function errorText(error: LoggedError): string {
  const code = typeof error.code === 'string' ? ` ${error.code}` : '';
  const text = `${String(error.name ?? 'Error')}${code}`;
  if (typeof error.message === 'string' && error.message !== '') return `${text}: ${error.message}`;
  const facts = [
    typeof error.operation === 'string' ? error.operation : undefined,
    typeof error.status === 'number' ? `HTTP ${error.status}` : undefined,
  ].filter((fact) => fact !== undefined);
  return facts.length > 0 ? `${text} (${facts.join(', ')})` : text;
}

/** `CreateProviderJobFunctionA9FAAD68` -> `CreateProviderJob`: the construct's name, not CDK's. */
function functionLabel(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  return name.replace(/Function[0-9A-F]{8}$/, '') || name;
}

/**
 * Rewrites the handlers' JSON log lines written to `stream` as compact lines (prefixed `  ! `)
 * until the returned function is called.
 */
export function compactHandlerLogs(stream: NodeJS.WriteStream): () => void {
  const original = stream.write.bind(stream);
  const write = (chunk: unknown, ...rest: unknown[]): boolean => {
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
      const text = chunk.toString();
      if (text.startsWith('{"level"')) {
        const source = currentInvocation();
        const lines = text.split('\n').map((line) => {
          const compact = compactLogLine(line, source);
          return compact === undefined ? line : `  ! ${compact}`;
        });
        return (original as (chunk: string, ...rest: unknown[]) => boolean)(
          lines.join('\n'),
          ...rest,
        );
      }
    }
    return (original as (chunk: unknown, ...rest: unknown[]) => boolean)(chunk, ...rest);
  };
  stream.write = write as typeof stream.write;
  return () => {
    stream.write = original;
  };
}

/** What the end-of-execution line says about the job (from `GET /videos/{id}`, when it answers). */
export interface EndedJob {
  status?: string;
  error?: { code?: string; message?: string };
}

/**
 * The `npm start` line for an ended execution: the job's status with its error code and message
 * (`FAILED moderation_blocked: ...`), else the execution's status and error name, and how long it
 * took on the stack's clock (and in real time when the clock is accelerated).
 */
export function executionEndLine(
  execution: { name: string; status: string; error?: string; startDate: Date; stopDate?: Date },
  job: EndedJob | undefined,
  speed: number,
): string {
  let outcome = execution.status + (execution.error ? ` (${execution.error})` : '');
  if (job?.error?.code) {
    const message = job.error.message ? `: ${job.error.message}` : '';
    const shown = `${job.status ?? execution.status} ${job.error.code}${message}`;
    outcome = shown.length > 200 ? `${shown.slice(0, 200)}...` : shown;
  } else if (job?.status && job.status !== execution.status) {
    outcome = `${execution.status}, job ${job.status}`;
  }
  return `  job ${printable(execution.name)}: ${printable(outcome)} ${took(execution, speed)}\n`;
}

/**
 * The `npm start` line for an ended webhook delivery (an execution of the webhook state
 * machine, named by its webhook id): the event, its job, and whether it was delivered. Undefined
 * for an execution that is not a delivery.
 */
export function webhookDeliveryLine(
  execution: {
    status: string;
    error?: string;
    input: string;
    output?: string;
    startDate: Date;
    stopDate?: Date;
  },
  speed: number,
): string | undefined {
  const input = parsedObject(execution.input) as {
    jobId?: unknown;
    webhookId?: unknown;
    payload?: { type?: unknown };
  };
  if (typeof input.webhookId !== 'string' || typeof input.jobId !== 'string') return undefined;
  const event = typeof input.payload?.type === 'string' ? input.payload.type : 'event';
  let outcome: string;
  if (execution.status === 'SUCCEEDED') {
    // Every attempt failed: the machine records the failure on the job and still succeeds.
    const givenUp = (parsedObject(execution.output) as { error?: { Error?: unknown } }).error;
    outcome = givenUp
      ? `not delivered, given up (${typeof givenUp.Error === 'string' ? givenUp.Error : 'error'})`
      : 'delivered';
  } else {
    outcome = `not delivered: ${execution.status}${execution.error ? ` (${execution.error})` : ''}`;
  }
  return `  webhook ${printable(event)} of job ${printable(input.jobId)}: ${printable(outcome)} ${took(execution, speed)}\n`;
}

/** `after 12.0 s` on the stack's clock, and in real time when the clock is faster. */
function took(execution: { startDate: Date; stopDate?: Date }, speed: number): string {
  const seconds =
    ((execution.stopDate ?? execution.startDate).getTime() - execution.startDate.getTime()) / 1000;
  const real = speed === 1 ? '' : ` (${(seconds / speed).toFixed(1)} s real)`;
  return `after ${seconds.toFixed(1)} s${real}`;
}

function parsedObject(json: string | undefined): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(json ?? '');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
