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
 * Backlogs of several clients (fair admission, hand-off cost, scheduled batches): bench/tenants.ts.
 *
 * Counted from outside the pipeline, nothing in it changed (bench/support.ts says how): state
 * transitions, Lambda invocations and GB-s, DynamoDB (with its capacity units), S3 and Step
 * Functions requests.
 * Prices (us-east-1): $0.025/1k transitions, $0.20/1M Lambda requests, $0.0000133334/GB-s
 * (arm64), $0.625/1M WRU, $0.125/1M RRU, S3 $0.005/1k PUT-class, $0.0004/1k GET-class (Secrets
 * Manager reads are cached per container and not priced), HTTP API $1.00/1M requests. Storage and logs are not priced.
 * At --speed x, each real millisecond a handler spends is x ms on the stack's clock: the
 * makespan includes that inflated overhead ('slot idle per job' shows it in real ms too).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_REQUESTS_PER_MINUTE } from '../functions/shared/limits/limits-config.ts';
import { type LocalStack, startLocalStack } from '../infra/local/local-stack.ts';
import {
  bump,
  counting,
  countPipelineClients,
  format,
  installCounters,
  minMedianRows,
  newTally,
  printTable,
  providerJobsSince,
  reportToParent,
  runChild,
  slotGapsMs,
  stackTable,
  sum,
  untilEnded,
} from './support.ts';

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
/** Lone jobs run before the backlog; the median one is the baseline. */
const LONE_JOBS = 5;

type Phase = Awaited<ReturnType<typeof runPhase>>;
interface RunResult {
  limit: number;
  rpm: number;
  functionErrors: number;
  lone: Phase;
  batch: Phase;
}

// ------------------------------------------------------------- child: one stack, one run
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
    await countPipelineClients();
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
    reportToParent(result);
  } finally {
    await stack.stop();
  }
}

async function runPhase(stack: LocalStack, label: string, n: number, limit: number, rpm: number) {
  const tally = newTally();
  counting.current = tally;
  const table = stackTable(stack);
  const ids = new Set<string>();
  const jobs = (projection?: string) => table.jobs(ids, projection);
  const allowanceBefore = await table.allowance();

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
  const done = await untilEnded(stack, label, n, () => jobs('jobId, #s'), deadline);
  // Executions end just after their job's record does (JobSucceeded, JobFailed).
  if (done === n) await stack.stepFunctions.whenIdle();
  const realSeconds = (performance.now() - realStart) / 1000;
  counting.current = newTally(); // a scheduler run from now on is not this phase's

  const records = await jobs();
  const providerRequests = (await table.allowance()) - allowanceBefore;
  table.destroy();
  const lost: Record<string, number> = {};
  for (const job of records)
    if (job.status !== 'COMPLETED') bump(lost, job.error?.code ?? job.status);
  const endMs = Math.max(...records.map((job) => Date.parse(job.completedAt ?? job.updatedAt)));
  const { videos, meanSeconds: providerMeanSeconds } = providerJobsSince(stack, startMs);
  // From the provider's end to the job's COMPLETED record: the poll that sees it, the download.
  const endOf = new Map(videos.map((v) => [v.id, v.endsAtMs]));
  const finishLags = records.flatMap((job) => {
    const end = endOf.get(job.providerJobId ?? '');
    return end && job.completedAt ? [(Date.parse(job.completedAt) - end) / 1000] : [];
  });
  const gaps = slotGapsMs(videos);
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

function runOnce(index: number): Promise<RunResult> {
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
  return runChild<RunResult>(import.meta.filename, args, `run ${index}`);
}

async function parent(): Promise<void> {
  const runs: RunResult[] = [];
  for (let index = 1; index <= Number(opts.repeat); index += 1) {
    const run = await runOnce(index);
    runs.push(run);
    printRun(run, index);
  }
  const tables = runs.map((run) => figures(run.batch, run.lone));
  console.log(
    `\n${runs.length} run(s) of ${JOBS} jobs at x${SPEED}, each on a fresh stack (a child process)`,
  );
  printTable(['figure', 'min', 'median', 'target'], minMedianRows(tables));
}

if (!Number.isInteger(JOBS) || JOBS < 1 || !(SPEED > 0)) {
  console.error(
    'usage: node bench/backlog.ts [--jobs 1000] [--speed 100] [--repeat 3] [--timeout-min 30]',
  );
  process.exit(2);
}
await (opts.child ? child() : parent());
