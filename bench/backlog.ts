/**
 * A backlog on the local stack: N jobs submitted at once through the HTTP API under the default
 * limits, at --speed. Prints the makespan against its bound (ceil(N / limit) x the provider's mean
 * job duration) and what the pipeline spends per job, priced, with ONE lone job run first on the
 * same stack as the baseline. One local stack per process: each repeat is a child process
 * (`--child`, one JSON line); the parent prints every run and the min/median over runs.
 *
 *   node bench/backlog.ts [--jobs 1000] [--speed 100] [--repeat 3] [--timeout-min 30] [--rpm N]
 *
 * `--rpm` overrides limits:requestsPerMinute: at the default 20 the request allowance, not the
 * slots, bounds a backlog (a job makes ~6 provider requests); the bench prints both bounds.
 *
 * Counted from outside the pipeline, nothing in it changed:
 * - state transitions: StateMachine.prototype.run of aws-local-stepfunctions is wrapped and its
 *   event log read; StateEntered + StateRetried events are what Step Functions bills;
 * - Lambda: InProcessLambdas.prototype.invoke is wrapped (count, wall-clock duration x the
 *   template's MemorySize: local I/O stands in for AWS latencies);
 * - DynamoDB, S3, Step Functions: a middleware on the shared clients
 *   (functions/shared/aws/*-client.ts) counts attempts by command; DynamoDB is asked for
 *   ConsumedCapacity (TOTAL), and a request that reports none (a failed condition) is one unit.
 * An AsyncLocalStorage carries the execution into the Lambda and SDK calls made under it.
 * Prices (us-east-1): $0.025/1k transitions, $0.20/1M Lambda requests, $0.0000133334/GB-s
 * (arm64), $0.625/1M WRU, $0.125/1M RRU, S3 $0.005/1k PUT-class, $0.0004/1k GET-class (Secrets
 * Manager reads are cached per container and not priced), HTTP API $1.00/1M requests. Storage and logs are not priced.
 * At --speed x, each real millisecond a handler spends is x ms on the stack's clock: the
 * makespan includes that inflated overhead ('slot idle per job' shows it in real ms too).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import type { InitializeMiddleware, MetadataBearer } from '@smithy/types';
import { StateMachine } from 'aws-local-stepfunctions';
import type { Job } from '../functions/shared/jobs/job.ts';
import { DEFAULT_REQUESTS_PER_MINUTE } from '../functions/shared/limits/limits-config.ts';
import { InProcessLambdas } from '../infra/local/in-process-lambdas.ts';
import { type LocalStack, startLocalStack } from '../infra/local/local-stack.ts';

const { values: opts } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000' },
    speed: { type: 'string', default: '100' },
    repeat: { type: 'string', default: '3' },
    'timeout-min': { type: 'string', default: '30' },
    /** Override limits:requestsPerMinute (default: the pipeline's default). */
    rpm: { type: 'string' },
    child: { type: 'boolean', default: false },
  },
});
const JOBS = Number(opts.jobs);
const SPEED = Number(opts.speed);
const MARK = 'BACKLOG_RESULT ';
/** Lone jobs run before the backlog; the median one is the baseline. */
const LONE_JOBS = 5;

/** What one phase (the lone job, or the batch) spent; per execution for the worst one. */
const newTally = () => ({
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
type Tally = ReturnType<typeof newTally>;
type Phase = Awaited<ReturnType<typeof runPhase>>;
interface RunResult {
  limit: number;
  rpm: number;
  functionErrors: number;
  lone: Phase;
  batch: Phase;
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const bump = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

// ------------------------------------------------------------- child: one stack, one run
const als = new AsyncLocalStorage<{ tally: Tally; execution?: Tally['executions'][number] }>();
let current = newTally();

function installCounters(): void {
  const run = StateMachine.prototype.run;
  StateMachine.prototype.run = function (input, options) {
    const tally = current;
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
    const tally = store?.tally ?? current;
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
function sdkCounter<I extends object, O extends MetadataBearer>(
  service: string,
): InitializeMiddleware<I, O> {
  return (next, context) => async (args) => {
    const store = als.getStore();
    const tally = store?.tally ?? current;
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

async function child(): Promise<void> {
  installCounters();
  let functionErrors = 0;
  const stack = await startLocalStack({
    dataDir: null,
    speed: SPEED,
    logLevel: 'ERROR',
    ...(opts.rpm === undefined ? {} : { context: { 'limits:requestsPerMinute': opts.rpm } }),
    onFunctionError: () => {
      functionErrors += 1;
    },
  });
  try {
    // The handlers import these on first use; the module is shared, so the counters see them.
    const { dynamoDb } = await import('../functions/shared/aws/dynamodb-client.ts');
    const { s3 } = await import('../functions/shared/aws/s3-client.ts');
    const { sfn } = await import('../functions/shared/aws/sfn-client.ts');
    const counter = { step: 'initialize', name: 'backlogBenchCounter' } as const;
    dynamoDb().middlewareStack.add(sdkCounter('DynamoDB'), counter);
    s3().middlewareStack.add(sdkCounter('S3'), counter);
    sfn().middlewareStack.add(sdkCounter('SFN'), counter);
    // Secrets are cached per container (read-secret.ts): not counted here.
    const limit = Number(process.env.MAX_CONCURRENT_JOBS);
    const rpm = Number(process.env.PROVIDER_REQUESTS_PER_MINUTE ?? DEFAULT_REQUESTS_PER_MINUTE);
    // The baseline: lone jobs one after another (a single one polls 2 to 5 times, so one alone
    // is a noisy yardstick); the one with the median transitions stands for "a lone job".
    const lones: Phase[] = [];
    for (let index = 1; index <= LONE_JOBS; index += 1) {
      lones.push(await runPhase(stack, `lone ${index}`, 1, limit, rpm));
    }
    const byTransitions = [...lones].sort((a, b) => a.transitions - b.transitions);
    const lone = byTransitions[Math.floor((byTransitions.length - 1) / 2)] ?? lones[0];
    if (lone === undefined) throw new Error('no lone job ran');
    const batch = await runPhase(stack, 'batch', JOBS, limit, rpm);
    const result: RunResult = { limit, rpm, functionErrors, lone, batch };
    process.stdout.write(`\n${MARK}${JSON.stringify(result)}\n`);
  } finally {
    await stack.stop();
  }
}

async function runPhase(stack: LocalStack, label: string, n: number, limit: number, rpm: number) {
  const tally = newTally();
  current = tally;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new DynamoDBClient({
    endpoint: stack.dynamodbEndpoint,
    region: 'us-east-1',
    credentials,
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
  const ids = new Set<string>();
  const jobs = async (projection?: string) =>
    (await scan('sk = :v', 'JOB', projection)).filter((item) =>
      ids.has(item.jobId as string),
    ) as unknown as Job[];
  // The provider request allowance taken: the LIMIT#requests#<minute> counters, summed.
  const allowance = async () =>
    sum((await scan('begins_with(pk, :v)', 'LIMIT#requests#')).map((item) => Number(item.count)));
  const allowanceBefore = await allowance();

  const startMs = stack.clock.nowMs();
  const realStart = performance.now();
  let next = 0;
  const submitter = async (): Promise<void> => {
    for (let index = next++; index < n; index = next++) {
      const response = await fetch(`${stack.apiUrl}/videos`, {
        method: 'POST',
        headers: { ...stack.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `backlog ${label} ${index}` }),
      });
      const body = (await response.json()) as { id?: string };
      if (response.status !== 202 || !body.id)
        throw new Error(`POST /videos: ${response.status} ${JSON.stringify(body)}`);
      ids.add(body.id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(20, n) }, submitter));
  const submitSeconds = (performance.now() - realStart) / 1000;

  const deadline = realStart + Number(opts['timeout-min']) * 60_000;
  let done = 0;
  // A progress line each second on a terminal; every 15 s into a file.
  for (let tick = 0; performance.now() < deadline; tick += 1) {
    const statuses: Record<string, number> = {};
    for (const job of await jobs('jobId, #s')) bump(statuses, job.status);
    done = (statuses.COMPLETED ?? 0) + (statuses.FAILED ?? 0);
    const stackSeconds = (stack.clock.nowMs() - startMs) / 1000;
    const real = (performance.now() - realStart) / 1000;
    const line = `[${label}] ${done}/${n} ${JSON.stringify(statuses)} stack ${stackSeconds.toFixed(0)} s, real ${real.toFixed(0)} s `;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
    else if (tick % 15 === 0 || done === n) process.stderr.write(`${line}\n`);
    if (done === n) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  // Executions end just after their job's record does (JobSucceeded, JobFailed).
  if (done === n) await stack.stepFunctions.whenIdle();
  const realSeconds = (performance.now() - realStart) / 1000;
  current = newTally(); // a scheduler run from now on is not this phase's

  const records = await jobs();
  const providerRequests = (await allowance()) - allowanceBefore;
  dynamo.destroy();
  const lost: Record<string, number> = {};
  for (const job of records)
    if (job.status !== 'COMPLETED') bump(lost, job.error?.code ?? job.status);
  const endMs = Math.max(...records.map((job) => Date.parse(job.completedAt ?? job.updatedAt)));
  const videos = (stack.simulator?.stats.videos ?? []).filter((v) => v.createdAtMs >= startMs);
  const providerMeanSeconds =
    sum(videos.map((v) => v.endsAtMs - v.createdAtMs)) / videos.length / 1000;
  // From the provider's end to the job's COMPLETED record: the poll that sees it, the download.
  const endOf = new Map(videos.map((v) => [v.id, v.endsAtMs]));
  const finishLags = records.flatMap((job) => {
    const end = endOf.get(job.providerJobId ?? '');
    return end && job.completedAt ? [(Date.parse(job.completedAt) - end) / 1000] : [];
  });
  // A freed slot's idle time: each provider end paired with the first later create not yet paired.
  const creates = videos.map((v) => v.createdAtMs).sort((a, b) => a - b);
  const gaps: number[] = [];
  for (const end of videos.map((v) => v.endsAtMs).sort((a, b) => a - b)) {
    const index = creates.findIndex((created) => created >= end);
    if (index >= 0) gaps.push((creates.splice(index, 1)[0] ?? end) - end);
  }
  return {
    ...tally,
    jobs: n,
    lost: sum(Object.values(lost)) + n - records.length,
    lostReasons: lost,
    submitSeconds,
    realSeconds,
    makespanSeconds: (endMs - startMs) / 1000,
    providerJobs: videos.length,
    providerMaxConcurrent: stack.simulator?.stats.maxConcurrentJobs ?? Number.NaN,
    providerMeanSeconds,
    boundSeconds: Math.ceil(n / limit) * providerMeanSeconds,
    providerRequests,
    rateBoundSeconds: rpm > 0 ? (providerRequests / rpm) * 60 : Number.NaN,
    finishLagSeconds: sum(finishLags) / finishLags.length,
    slotGapSeconds: gaps.length > 0 ? sum(gaps) / gaps.length / 1000 : 0,
    providerCostUsd: sum(records.map((job) => job.actualCostUsd ?? 0)),
  };
}

// ------------------------------------------------------------- parent: runs and tables
function costs(phase: Phase) {
  const calls = (pattern: RegExp) =>
    sum(
      Object.entries(phase.sdk)
        .filter(([name]) => pattern.test(name))
        .map(([, count]) => count),
    );
  const s3Put = calls(/^S3 (Put|Copy|Post|List|CreateMultipart|UploadPart|CompleteMultipart)/);
  const lambdaRequests = sum(Object.values(phase.lambda));
  const usd = {
    'Step Functions': (phase.transitions * 0.025) / 1e3,
    'Lambda requests': (lambdaRequests * 0.2) / 1e6,
    'Lambda GB-s': phase.gbSeconds * 0.0000133334,
    DynamoDB: (phase.dynamo.wru * 0.625 + phase.dynamo.rru * 0.125) / 1e6,
    S3: (s3Put * 0.005 + (calls(/^S3 /) - s3Put) * 0.0004) / 1e3,
    'HTTP API': phase.jobs / 1e6,
  };
  return { usd, lambdaRequests, total: sum(Object.values(usd)) };
}

/** The figures of one phase, per job unless said otherwise, with the target where one is set. */
function figures(phase: Phase, lone?: Phase): [string, number, string][] {
  const cost = costs(phase);
  const perJob = (value: number) => value / phase.jobs;
  const worst = (key: 'transitions' | 'lambda' | 'dynamo') =>
    Math.max(0, ...phase.executions.map((e) => e[key]));
  const d = phase.dynamo;
  return [
    ['real time s', phase.realSeconds, ''],
    ['submission (real) s', phase.submitSeconds, ''],
    ['provider mean job s', phase.providerMeanSeconds, ''],
    ['makespan s (stack clock)', phase.makespanSeconds, ''],
    ['bound s', phase.boundSeconds, ''],
    ['makespan / bound', phase.makespanSeconds / phase.boundSeconds, '<= 1.25'],
    ['provider requests / job (allowance)', perJob(phase.providerRequests), ''],
    ['rate bound s (requests / rpm)', phase.rateBoundSeconds, ''],
    ['slot idle per job s', phase.slotGapSeconds, ''],
    ['  = real ms', (phase.slotGapSeconds / SPEED) * 1000, ''],
    ['provider end -> COMPLETED s', phase.finishLagSeconds, ''],
    ['jobs lost', phase.lost, '0'],
    ['provider jobs created / job', perJob(phase.providerJobs), '1'],
    ['provider jobs at once, most', phase.providerMaxConcurrent, '<= limit'],
    ['executions / job', perJob(phase.executions.length), ''],
    ['transitions / job', perJob(phase.transitions), ''],
    [
      'transitions / lone job',
      lone ? perJob(phase.transitions) / (lone.transitions / lone.jobs) : Number.NaN,
      '<= 1.2',
    ],
    ['transitions, worst execution', worst('transitions'), ''],
    ['Lambda invocations / job', perJob(cost.lambdaRequests), ''],
    ['Lambda, worst execution', worst('lambda'), ''],
    ['DynamoDB requests / job', perJob(d.reads + d.writes), ''],
    ['  reads', perJob(d.reads), ''],
    ['  read units (RRU)', perJob(d.rru), ''],
    ['  writes', perJob(d.writes), ''],
    ['  write units (WRU)', perJob(d.wru), ''],
    ['DynamoDB, worst execution', worst('dynamo'), ''],
    ['pipeline $ / job (x1e6)', perJob(cost.total) * 1e6, ''],
    ['provider $ / job', perJob(phase.providerCostUsd), ''],
    ['pipeline / provider %', (cost.total / phase.providerCostUsd) * 100, '< 1'],
  ];
}

const format = (value: number) =>
  Number.isNaN(value)
    ? ''
    : Number.isInteger(value)
      ? String(value)
      : value.toFixed(Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 3);

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
}

function printRun(run: RunResult, index: number): void {
  const { lone, batch } = run;
  console.log(
    `\nrun ${index}: ${batch.jobs} jobs, ${run.limit} concurrent, ${run.rpm} provider requests/min, x${SPEED}`,
  );
  const loneRows = new Map(figures(lone).map(([name, value]) => [name, format(value)]));
  printTable(
    ['figure', 'lone job', 'batch', 'target'],
    figures(batch, lone).map(([name, value, target]) => [
      name,
      loneRows.get(name) ?? '',
      format(value),
      target,
    ]),
  );
  const perJob = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([name, count]) => `${name} ${(count / batch.jobs).toFixed(2)}`)
      .join(', ');
  const usd = Object.fromEntries(
    Object.entries(costs(batch).usd).map(([name, value]) => [name, value * 1e6]),
  );
  console.log(`pipeline $ x1e6 / job: ${perJob(usd)}`);
  console.log(`transitions / job: ${perJob(batch.states)}`);
  console.log(`Lambda / job: ${perJob(batch.lambda)}`);
  console.log(`SDK requests / job: ${perJob(batch.sdk)}`);
  for (const [key, count] of Object.entries(batch.errors))
    console.log(`task error x${count}: ${key}: ${batch.causes[key]}`);
  if (batch.lost > 0) console.log(`lost: ${JSON.stringify(batch.lostReasons)}`);
  if (run.functionErrors > 0) console.log(`function errors behind the API: ${run.functionErrors}`);
}

function runChild(index: number): Promise<RunResult> {
  const args = [
    '--child',
    '--jobs',
    String(JOBS),
    '--speed',
    String(SPEED),
    '--timeout-min',
    String(opts['timeout-min']),
    ...(opts.rpm === undefined ? [] : ['--rpm', opts.rpm]),
  ];
  const proc = spawn(process.execPath, [import.meta.filename, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let result: RunResult | undefined;
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (line.startsWith(MARK)) result = JSON.parse(line.slice(MARK.length)) as RunResult;
    else if (line.trim()) process.stderr.write(`[run ${index}] ${line}\n`);
  });
  return new Promise((resolve, reject) => {
    proc.on('close', (code) =>
      result ? resolve(result) : reject(new Error(`run ${index} exited with ${code}, no result`)),
    );
  });
}

async function parent(): Promise<void> {
  const runs: RunResult[] = [];
  for (let index = 1; index <= Number(opts.repeat); index += 1) {
    const run = await runChild(index);
    runs.push(run);
    printRun(run, index);
  }
  const tables = runs.map((run) => figures(run.batch, run.lone));
  console.log(
    `\n${runs.length} run(s) of ${JOBS} jobs at x${SPEED}, each on a fresh stack (a child process)`,
  );
  printTable(
    ['figure', 'min', 'median', 'target'],
    (tables[0] ?? []).map(([name, , note], row) => {
      const values = tables.map((rows) => rows[row]?.[1] ?? Number.NaN).sort((a, b) => a - b);
      const median = values[Math.floor((values.length - 1) / 2)] ?? Number.NaN;
      return [name, format(values[0] ?? Number.NaN), format(median), note];
    }),
  );
}

if (!Number.isInteger(JOBS) || JOBS < 1 || !(SPEED > 0)) {
  console.error(
    'usage: node bench/backlog.ts [--jobs 1000] [--speed 100] [--repeat 3] [--timeout-min 30]',
  );
  process.exit(2);
}
await (opts.child ? child() : parent());
