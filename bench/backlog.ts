/**
 * A backlog on the local stack: N jobs submitted at once through the HTTP API under the default
 * limits, at --speed. Prints the makespan against its bound (ceil(N / limit) x the provider's mean
 * job duration) and what the pipeline spends per job, priced, with ONE lone job run first on the
 * same stack as the baseline. One local stack per process: each repeat is a child process
 * (`--child`, one JSON line); the parent prints every run and the min/median over runs.
 *
 *   node bench/backlog.ts [--jobs 1000] [--speed 100] [--repeat 3] [--timeout-min 30] [--rpm N]
 *                         [--limit N] [--deployments N]
 *
 * `--rpm` overrides limits:requestsPerMinute: at the default 20 the request allowance, not the
 * slots, bounds a backlog (a job makes ~6 provider requests); the bench prints both bounds.
 * `--limit` overrides limits:maxConcurrentJobs (default 4).
 *
 * `--deployments N` (issue 24) compares a provider pool with one endpoint of the same capacity:
 * the model served by N simulated deployments of limit/N each (each simulator refuses more with
 * a 429, and the catalogue declares it) against one simulated deployment of the whole limit,
 * `--repeat` runs of each, interleaved (the order alternates, so a drift in the shared machine's
 * load favours neither). Target: the pool's makespan within 1.1x of the single deployment's. It
 * prints the jobs each deployment took and the most it held at once (<= limit/N). The request
 * allowance defaults to 600/min here so that slots, not requests, bound both; one lone job
 * (warming the stack) precedes each backlog instead of five.
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
import {
  DEFAULT_MAX_CONCURRENT_JOBS,
  DEFAULT_REQUESTS_PER_MINUTE,
} from '../functions/shared/limits/limits-config.ts';
import { DEFAULT_DEPLOYMENT } from '../functions/shared/provider/deployments.ts';
import { type LocalStack, startLocalStack } from '../infra/local/local-stack.ts';
import {
  bump,
  counting,
  countPipelineClients,
  deploymentsSince,
  format,
  installCounters,
  minMedian,
  minMedianRows,
  mostAtOnce,
  newTally,
  printTable,
  providerJobsSince,
  rateLimitedNow,
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
    /** Override limits:maxConcurrentJobs (default: the pipeline's default). */
    limit: { type: 'string' },
    /** Compare this many deployments of limit/N each with one deployment of the whole limit. */
    deployments: { type: 'string' },
    child: { type: 'boolean', default: false },
    /** A child's configuration: this many simulated deployments of limit/N each. */
    pool: { type: 'string' },
  },
});
const JOBS = Number(opts.jobs);
const SPEED = Number(opts.speed);
const DEPLOYMENTS = opts.deployments === undefined ? undefined : Number(opts.deployments);
const LIMIT = Number(opts.limit ?? DEFAULT_MAX_CONCURRENT_JOBS);
const POOL = opts.pool === undefined ? undefined : Number(opts.pool);
/** The request allowance of a comparison of deployments: high enough that slots bound both. */
const COMPARE_RPM = '600';
const RPM = opts.rpm ?? (DEPLOYMENTS === undefined ? undefined : COMPARE_RPM);
/**
 * Lone jobs run before the backlog; the median one is the baseline. A comparison of deployments
 * has its baseline in the other configuration: its one lone job warms the stack.
 */
const LONE_JOBS = POOL === undefined ? 5 : 1;
/** The pool makespan's target against one deployment of the whole limit. */
const POOL_TARGET = 1.1;

type Phase = Awaited<ReturnType<typeof runPhase>>;
interface RunResult {
  /** Simulated deployments sharing the limit; null: the stack's one plain simulator. */
  pool: number | null;
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
  const context: Record<string, string> = {
    ...(opts.limit === undefined ? {} : { 'limits:maxConcurrentJobs': opts.limit }),
    ...(opts.rpm === undefined ? {} : { 'limits:requestsPerMinute': opts.rpm }),
  };
  const stack = await startLocalStack({
    dataDir: null,
    speed: SPEED,
    logLevel: 'ERROR',
    context,
    // Each deployment's simulator refuses a job beyond its share with a 429 (none expected: the
    // catalogue declares the same limit, which admission keeps to).
    ...(POOL === undefined
      ? {}
      : {
          simulatorPool: Array.from({ length: POOL }, (_, index) => ({
            id: `d${index + 1}`,
            knobs: { maxConcurrentJobs: LIMIT / POOL },
          })),
        }),
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
    const result: RunResult = { pool: POOL ?? null, limit, rpm, functionErrors, lone, batch };
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
  const rateLimitedBefore = rateLimitedNow(stack);

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
  const jobsOn: Record<string, number> = {};
  for (const job of records) {
    if (job.status !== 'COMPLETED') bump(lost, job.error?.code ?? job.status);
    bump(jobsOn, job.deployment ?? DEFAULT_DEPLOYMENT);
  }
  const endMs = Math.max(...records.map((job) => Date.parse(job.completedAt ?? job.updatedAt)));
  const { videos, meanSeconds: providerMeanSeconds } = providerJobsSince(stack, startMs);
  // From the provider's end to the job's COMPLETED record: the poll that sees it, the download.
  const endOf = new Map(videos.map((v) => [v.id, v.endsAtMs]));
  const finishLags = records.flatMap((job) => {
    const end = endOf.get(job.providerJobId ?? '');
    return end && job.completedAt ? [(Date.parse(job.completedAt) - end) / 1000] : [];
  });
  const gaps = slotGapsMs(videos);
  const simulated = deploymentsSince(stack, startMs, rateLimitedBefore);
  const deployments = simulated.map(({ providerJobIds, ...figures }) => ({
    ...figures,
    jobs: jobsOn[figures.id] ?? 0,
    providerJobs: providerJobIds.length,
  }));
  // Every later call for a provider job goes to the deployment the job records (issue 24): the
  // job whose provider job lives on another one would be polled and downloaded in the wrong place.
  const where = new Map(simulated.flatMap((d) => d.providerJobIds.map((id) => [id, d.id])));
  const misplaced = records.filter(
    (job) =>
      job.providerJobId !== undefined &&
      where.get(job.providerJobId) !== (job.deployment ?? DEFAULT_DEPLOYMENT),
  ).length;
  return {
    ...tally,
    jobs: n,
    lost: sum(Object.values(lost)) + n - records.length,
    lostReasons: lost,
    submitSeconds,
    realSeconds,
    makespanSeconds: (endMs - startMs) / 1000,
    providerJobs: videos.length,
    providerMaxConcurrent: mostAtOnce(videos),
    deployments,
    misplaced,
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
    ['provider 429s', sum(phase.deployments.map((d) => d.rateLimited)), '0'],
    ['provider job elsewhere than its job says', phase.misplaced, '0'],
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

/** What each deployment took: `d1 16 jobs (16 provider jobs, at most 2 at once, 0 x 429)`. */
function deploymentsLine(phase: Phase): string {
  return phase.deployments
    .map(
      (d) =>
        `${d.id} ${d.jobs} jobs (${d.providerJobs} provider jobs, at most ${d.mostAtOnce} at once, ${d.rateLimited} x 429)`,
    )
    .join(', ');
}

function printRun(run: RunResult, index: number): void {
  const { lone, batch } = run;
  console.log(
    `\nrun ${index}: ${batch.jobs} jobs, ${run.limit} concurrent, ${run.rpm} provider requests/min, x${SPEED}`,
  );
  console.log(`deployments: ${deploymentsLine(batch)}`);
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

function runOnce(label: string, pool?: number): Promise<RunResult> {
  const args = [
    '--child',
    '--jobs',
    String(JOBS),
    '--speed',
    String(SPEED),
    '--timeout-min',
    String(opts['timeout-min']),
    ...(RPM === undefined ? [] : ['--rpm', RPM]),
    ...(opts.limit === undefined && pool === undefined ? [] : ['--limit', String(LIMIT)]),
    ...(pool === undefined ? [] : ['--pool', String(pool)]),
  ];
  return runChild<RunResult>(import.meta.filename, args, label);
}

async function parent(): Promise<void> {
  const runs: RunResult[] = [];
  for (let index = 1; index <= Number(opts.repeat); index += 1) {
    const run = await runOnce(`run ${index}`);
    runs.push(run);
    printRun(run, index);
  }
  const tables = runs.map((run) => figures(run.batch, run.lone));
  console.log(
    `\n${runs.length} run(s) of ${JOBS} jobs at x${SPEED}, each on a fresh stack (a child process)`,
  );
  printTable(['figure', 'min', 'median', 'target'], minMedianRows(tables));
}

const poolLabel = (pool: number) =>
  pool === 1 ? `1 deployment of ${LIMIT}` : `${pool} deployments of ${LIMIT / pool}`;

/** `--deployments N`: N deployments of limit/N against one of the whole limit, interleaved. */
async function compare(deployments: number): Promise<void> {
  const runs = new Map<number, RunResult[]>([
    [deployments, []],
    [1, []],
  ]);
  const repeat = Number(opts.repeat);
  for (let index = 1; index <= repeat; index += 1) {
    // The order alternates, so a drift in the shared machine's load favours neither.
    for (const pool of index % 2 === 1 ? [deployments, 1] : [1, deployments]) {
      const run = await runOnce(`run ${index}, ${poolLabel(pool)}`, pool);
      runs.get(pool)?.push(run);
      const { batch } = run;
      console.log(
        `run ${index}, ${poolLabel(pool)}: makespan ${format(batch.makespanSeconds)} s (bound ${format(batch.boundSeconds)} s), ` +
          `real ${format(batch.realSeconds)} s, lost ${batch.lost}, provider jobs ${batch.providerJobs}; ${deploymentsLine(batch)}`,
      );
      if (run.functionErrors > 0)
        console.log(`  function errors behind the API: ${run.functionErrors}`);
      if (batch.lost > 0) console.log(`  lost: ${JSON.stringify(batch.lostReasons)}`);
      for (const [key, count] of Object.entries(batch.errors))
        console.log(`  task error x${count}: ${key}: ${batch.causes[key]}`);
    }
  }
  const pooled = runs.get(deployments) ?? [];
  const single = runs.get(1) ?? [];
  console.log(
    `\n${repeat} run(s) each of ${JOBS} jobs at x${SPEED}, ${LIMIT} concurrent, ${RPM} provider requests/min, each on a fresh stack`,
  );
  const pooledRows = minMedianRows(pooled.map((run) => figures(run.batch, run.lone)));
  const singleRows = minMedianRows(single.map((run) => figures(run.batch, run.lone)));
  printTable(
    [
      'figure',
      `${poolLabel(deployments)}: min`,
      'median',
      `${poolLabel(1)}: min`,
      'median',
      'target',
    ],
    pooledRows.map(([name = '', min = '', median = '', target = ''], row) => [
      name,
      min,
      median,
      singleRows[row]?.[1] ?? '',
      singleRows[row]?.[2] ?? '',
      target,
    ]),
  );

  console.log(
    `\nper deployment, ${poolLabel(deployments)} (jobs in each run; most at once, worst run)`,
  );
  const ids = [...new Set(pooled.flatMap((run) => run.batch.deployments.map((d) => d.id)))];
  printTable(
    ['deployment', 'jobs per run', 'at once, most', '429s, most', 'target'],
    ids.map((id) => {
      const of = pooled.map((run) => run.batch.deployments.find((d) => d.id === id));
      return [
        id,
        of.map((d) => d?.jobs ?? 0).join(' '),
        String(Math.max(...of.map((d) => d?.mostAtOnce ?? 0))),
        String(Math.max(...of.map((d) => d?.rateLimited ?? 0))),
        `at once <= ${LIMIT / deployments}, no 429`,
      ];
    }),
  );

  const makespans = (of: RunResult[]) => minMedian(of.map((run) => run.batch.makespanSeconds));
  const [pooledMin, pooledMedian] = makespans(pooled);
  const [singleMin, singleMedian] = makespans(single);
  const paired = pooled.map((run, index) =>
    format(run.batch.makespanSeconds / (single[index]?.batch.makespanSeconds ?? Number.NaN)),
  );
  console.log(
    `\nmakespan, ${poolLabel(deployments)} / ${poolLabel(1)} (target <= ${POOL_TARGET}):`,
  );
  const ratios: [string, number][] = [
    ['min / min', pooledMin / singleMin],
    ['median / median', pooledMedian / singleMedian],
  ];
  printTable(
    ['ratio', 'value', 'met'],
    ratios.map(([name, ratio]) => [name, format(ratio), ratio <= POOL_TARGET ? 'yes' : 'NO']),
  );
  console.log(`run by run (repeat i's pair): ${paired.join(' ')}`);
}

const usage =
  'usage: node bench/backlog.ts [--jobs 1000] [--speed 100] [--repeat 3] [--timeout-min 30] [--rpm N] [--limit N] [--deployments N]';
if (!Number.isInteger(JOBS) || JOBS < 1 || !(SPEED > 0) || !Number.isInteger(LIMIT) || LIMIT < 1) {
  console.error(usage);
  process.exit(2);
}
if (
  DEPLOYMENTS !== undefined &&
  !(Number.isInteger(DEPLOYMENTS) && DEPLOYMENTS >= 2 && LIMIT % DEPLOYMENTS === 0)
) {
  console.error(`--deployments: must be a whole number >= 2 dividing --limit (${LIMIT})\n${usage}`);
  process.exit(2);
}
await (opts.child ? child() : DEPLOYMENTS === undefined ? parent() : compare(DEPLOYMENTS));
