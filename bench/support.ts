/**
 * What the local-stack benches (backlog.ts, tenants.ts) share: counters of what the pipeline
 * spends, read from outside it with nothing in it changed, the tables they print, and the child
 * process each run gets (one local stack per process: its handlers share module-level clients).
 *
 * - state transitions: StateMachine.prototype.run of aws-local-stepfunctions is wrapped and its
 *   event log read; StateEntered + StateRetried events are what Step Functions bills;
 * - Lambda: InProcessLambdas.prototype.invoke is wrapped (count, wall-clock duration x the
 *   template's MemorySize: local I/O stands in for AWS latencies);
 * - DynamoDB, S3, Step Functions: a middleware on an SDK client counts attempts by command;
 *   DynamoDB is asked for ConsumedCapacity (TOTAL), and a request that reports none (a failed
 *   condition) is one unit.
 * An AsyncLocalStorage carries the execution into the Lambda and SDK calls made under it; calls
 * outside any execution go to `counting.current`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import type { InitializeMiddleware, MetadataBearer } from '@smithy/types';
import { StateMachine } from 'aws-local-stepfunctions';
import { type Job, TERMINAL_STATUSES } from '../functions/shared/jobs/job.ts';
import { InProcessLambdas } from '../infra/local/in-process-lambdas.ts';
import type { LocalStack } from '../infra/local/local-stack.ts';
import type { RunningSimulator } from '../infra/local/simulator/simulator.ts';

export const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
export const bump = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

/** What one phase (a lone job, a batch, one hand-off) spent; per execution for the worst one. */
export const newTally = () => ({
  transitions: 0,
  states: {} as Record<string, number>,
  /** Task failures (retried or caught) by `<state> <error>`, with one cause each. */
  errors: {} as Record<string, number>,
  causes: {} as Record<string, string>,
  executions: [] as { transitions: number; lambda: number; dynamo: number }[],
  lambda: {} as Record<string, number>,
  gbSeconds: 0,
  dynamo: { reads: 0, writes: 0, rru: 0, wru: 0 },
  sdk: {} as Record<string, number>,
});
export type Tally = ReturnType<typeof newTally>;

/** The tally that calls made outside any execution count into; a phase sets its own. */
export const counting = { current: newTally() };

const als = new AsyncLocalStorage<{ tally: Tally; execution?: Tally['executions'][number] }>();

/** Wraps the state machine interpreter and the in-process Lambdas to count into the tallies. */
export function installCounters(): void {
  const run = StateMachine.prototype.run;
  StateMachine.prototype.run = function (input, options) {
    const tally = counting.current;
    const execution = { transitions: 0, lambda: 0, dynamo: 0 };
    tally.executions.push(execution);
    const started = als.run({ tally, execution }, () => run.call(this, input, options));
    void (async () => {
      for await (const event of started.eventLogs) {
        if (event.type === 'StateFailed') {
          const key = `${event.state.name} ${event.Error}`;
          bump(tally.errors, key);
          tally.causes[key] ??= String(event.Cause).slice(0, 200);
        }
        if (event.type !== 'StateEntered' && event.type !== 'StateRetried') continue;
        execution.transitions += 1;
        tally.transitions += 1;
        bump(tally.states, event.type === 'StateRetried' ? 'retries' : event.state.name);
      }
    })();
    return started;
  };
  const invoke = InProcessLambdas.prototype.invoke;
  InProcessLambdas.prototype.invoke = async function (name, event) {
    const spec = this.spec(name);
    const store = als.getStore();
    const tally = store?.tally ?? counting.current;
    const started = performance.now();
    try {
      return await als.run({ tally, ...store }, () => invoke.call(this, name, event));
    } finally {
      bump(tally.lambda, spec.logicalId.replace(/[0-9A-F]{8}$/, ''));
      tally.gbSeconds += (Math.ceil(performance.now() - started) / 1000) * (spec.memorySize / 1024);
      if (store?.execution) store.execution.lambda += 1;
    }
  };
}

/** Counts every attempt of every command; DynamoDB also reports its capacity units. */
export function sdkCounter<I extends object, O extends MetadataBearer>(
  service: string,
): InitializeMiddleware<I, O> {
  return (next, context) => async (args) => {
    const store = als.getStore();
    const tally = store?.tally ?? counting.current;
    const command = (context.commandName ?? 'unknown').replace(/Command$/, '');
    if (service === 'DynamoDB')
      (args.input as Record<string, unknown>).ReturnConsumedCapacity ??= 'TOTAL';
    const record = (attempts: number, capacity?: unknown) => {
      bump(tally.sdk, `${service} ${command}`, attempts);
      if (service !== 'DynamoDB') return;
      const units = sum(
        [capacity].flat().map((c) => (c as { CapacityUnits?: number })?.CapacityUnits ?? 0),
      );
      const write = /^(Put|Update|Delete|BatchWrite|TransactWrite)/.test(command);
      tally.dynamo[write ? 'writes' : 'reads'] += attempts;
      tally.dynamo[write ? 'wru' : 'rru'] += units > 0 ? units : attempts;
      if (store?.execution) store.execution.dynamo += attempts;
    };
    try {
      const result = await next(args);
      const output = result.output as O & { ConsumedCapacity?: unknown };
      record(output.$metadata.attempts ?? 1, output.ConsumedCapacity);
      return result;
    } catch (error) {
      record((error as MetadataBearer).$metadata?.attempts ?? 1);
      throw error;
    }
  };
}

export const COUNTER_MIDDLEWARE = { step: 'initialize', name: 'benchCounter' } as const;

/**
 * Counts the pipeline's own DynamoDB, S3 and Step Functions clients (functions/shared/aws/*).
 * The handlers import these on first use; the modules are shared, so the counters see them.
 * Secrets are cached per container (read-secret.ts): not counted.
 */
export async function countPipelineClients(): Promise<void> {
  const { dynamoDb } = await import('../functions/shared/aws/dynamodb-client.ts');
  const { s3 } = await import('../functions/shared/aws/s3-client.ts');
  const { sfn } = await import('../functions/shared/aws/sfn-client.ts');
  dynamoDb().middlewareStack.add(sdkCounter('DynamoDB'), COUNTER_MIDDLEWARE);
  s3().middlewareStack.add(sdkCounter('S3'), COUNTER_MIDDLEWARE);
  sfn().middlewareStack.add(sdkCounter('SFN'), COUNTER_MIDDLEWARE);
}

/**
 * The stack's table read from outside the pipeline (not counted): job records by id, and the
 * provider request allowance taken so far (the LIMIT#requests#<minute> counters, summed).
 */
export function stackTable(stack: LocalStack) {
  const client = new DynamoDBClient({
    endpoint: stack.dynamodbEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const dynamo = DynamoDBDocumentClient.from(client);
  const scan = async (filter: string, value: string, projection?: string) => {
    const items: Record<string, unknown>[] = [];
    const pages = paginateScan(
      { client: dynamo },
      {
        TableName: stack.table,
        FilterExpression: filter,
        ExpressionAttributeValues: { ':v': value },
        ...(projection
          ? { ProjectionExpression: projection, ExpressionAttributeNames: { '#s': 'status' } }
          : {}),
      },
    );
    for await (const page of pages) items.push(...(page.Items ?? []));
    return items;
  };
  return {
    /** The records of the jobs in `ids` (all: every job); `projection` may name the status `#s`. */
    jobs: async (ids: ReadonlySet<string> | 'all', projection?: string) =>
      (await scan('sk = :v', 'JOB', projection)).filter(
        (item) => ids === 'all' || ids.has(item.jobId as string),
      ) as unknown as Job[],
    allowance: async () =>
      sum((await scan('begins_with(pk, :v)', 'LIMIT#requests#')).map((item) => Number(item.count))),
    destroy: () => dynamo.destroy(),
  };
}

/** The jobs a simulator created since `fromMs` (stack clock). */
const videosSince = (simulator: RunningSimulator, fromMs: number) =>
  simulator.stats.videos.filter((v) => v.createdAtMs >= fromMs);

/**
 * The provider jobs created since `fromMs` on every simulated deployment (one, unless the stack
 * runs a `simulatorPool`), and their mean duration (createdAt to end, stack clock).
 */
export function providerJobsSince(stack: LocalStack, fromMs: number) {
  const videos = Object.values(stack.simulators).flatMap((s) => videosSince(s, fromMs));
  return {
    videos,
    meanSeconds: sum(videos.map((v) => v.endsAtMs - v.createdAtMs)) / videos.length / 1000,
  };
}

/**
 * The most provider jobs queued or rendering at one instant (createdAt to end, as the simulator
 * counts them against its limit); a job ending as another starts does not overlap it.
 */
export function mostAtOnce(videos: { createdAtMs: number; endsAtMs: number }[]): number {
  const events = videos.flatMap((v): [number, number][] => [
    [v.createdAtMs, 1],
    [v.endsAtMs, -1],
  ]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let active = 0;
  let most = 0;
  for (const [, delta] of events) {
    active += delta;
    most = Math.max(most, active);
  }
  return most;
}

/** The 429s each simulated deployment has answered so far (the simulator keeps no times). */
export function rateLimitedNow(stack: LocalStack): Record<string, number> {
  return Object.fromEntries(
    Object.entries(stack.simulators).map(([id, simulator]) => [id, simulator.stats.rateLimited]),
  );
}

/**
 * Per simulated deployment, since `fromMs`: the provider jobs created there (their ids), the
 * most at once, and the 429s it answered since `rateLimitedBefore` (rateLimitedNow's) was read.
 */
export function deploymentsSince(
  stack: LocalStack,
  fromMs: number,
  rateLimitedBefore: Record<string, number>,
) {
  return Object.entries(stack.simulators).map(([id, simulator]) => {
    const videos = videosSince(simulator, fromMs);
    return {
      id,
      providerJobIds: videos.map((v) => v.id),
      mostAtOnce: mostAtOnce(videos),
      rateLimited: simulator.stats.rateLimited - (rateLimitedBefore[id] ?? 0),
    };
  });
}

/**
 * A freed slot's idle time: each provider end paired with the first later create not yet paired
 * (stack ms).
 */
export function slotGapsMs(videos: { createdAtMs: number; endsAtMs: number }[]): number[] {
  const creates = videos.map((v) => v.createdAtMs).sort((a, b) => a - b);
  const gaps: number[] = [];
  for (const end of videos.map((v) => v.endsAtMs).sort((a, b) => a - b)) {
    const index = creates.findIndex((created) => created >= end);
    if (index >= 0) gaps.push((creates.splice(index, 1)[0] ?? end) - end);
  }
  return gaps;
}

/** Resolves with `read()` once `done` holds, reading every `everyMs`; throws past `deadline`. */
export async function until<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  deadline: number,
  everyMs = 250,
): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Reads the jobs' statuses every second until every one has ended or `deadline` (performance.now)
 * passes, with a progress line each second on a terminal, every 15 s into a file. Answers how
 * many ended.
 */
export async function untilEnded(
  stack: LocalStack,
  label: string,
  n: number,
  statuses: () => Promise<Job[]>,
  deadline: number,
): Promise<number> {
  const startMs = stack.clock.nowMs();
  const realStart = performance.now();
  let ended = 0;
  for (let tick = 0; performance.now() < deadline; tick += 1) {
    const counts: Record<string, number> = {};
    for (const job of await statuses()) bump(counts, job.status);
    ended = sum(TERMINAL_STATUSES.map((status) => counts[status] ?? 0));
    const stackSeconds = (stack.clock.nowMs() - startMs) / 1000;
    const real = (performance.now() - realStart) / 1000;
    const line = `[${label}] ${ended}/${n} ${JSON.stringify(counts)} stack ${stackSeconds.toFixed(0)} s, real ${real.toFixed(0)} s `;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
    else if (tick % 15 === 0 || ended === n) process.stderr.write(`${line}\n`);
    if (ended === n) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  return ended;
}

// ------------------------------------------------------------- tables
export const format = (value: number) =>
  Number.isNaN(value)
    ? ''
    : Number.isInteger(value)
      ? String(value)
      : value.toFixed(Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 3);

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** Prints a paragraph wrapped at 100 columns. */
export function printNote(text: string): void {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > 100) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  console.log(lines.join('\n'));
}

/** The smallest value and the median (the lower one of an even count). */
export function minMedian(values: number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  return [sorted[0] ?? Number.NaN, sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN];
}

/**
 * Rows `[figure, value, target]` of several runs as `[figure, min, median, target]`; every run
 * gives the same figures in the same order.
 */
export function minMedianRows(tables: [string, number, string][][]): string[][] {
  return (tables[0] ?? []).map(([name, , target], row) => {
    const [min, median] = minMedian(tables.map((rows) => rows[row]?.[1] ?? Number.NaN));
    return [name, format(min), format(median), target];
  });
}

// ------------------------------------------------------------- one run per child process
const MARK = 'BENCH_RESULT ';

/** A child's result to its parent: one marked JSON line on stdout. */
export function reportToParent(result: unknown): void {
  process.stdout.write(`\n${MARK}${JSON.stringify(result)}\n`);
}

/**
 * Runs `script` with `args` in a child process and resolves with the result it reports; its
 * other output goes to stderr, prefixed with `label`.
 */
export function runChild<T>(script: string, args: string[], label: string): Promise<T> {
  const proc = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let result: T | undefined;
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (line.startsWith(MARK)) result = JSON.parse(line.slice(MARK.length)) as T;
    else if (line.trim()) process.stderr.write(`[${label}] ${line}\n`);
  });
  return new Promise((resolve, reject) => {
    proc.on('close', (code) =>
      result ? resolve(result) : reject(new Error(`${label} exited with ${code}, no result`)),
    );
  });
}
