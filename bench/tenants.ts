/**
 * Fair admission across clients (issue 23), each figure against a bound computed in the same run:
 *
 * 1. `fair`: on the local stack, client `a` floods N jobs; once they hold every slot and the rest
 *    wait in a's queue, client `b` submits K. With equal weights the fair share alternates the
 *    freed slots between them (a's name sorts first, so a wins ties): b's k-th job is admitted by
 *    the 2k-th slot to free after b arrives. Slots free at about `limit` per job duration D (each
 *    running job ends within D), so b's last job starts within ceil(2K / limit) x D of b's first
 *    submission: that is b's bound (its wait is measured to its last job's `startedAt`). The
 *    makespan's bound is the larger of the concurrency bound, ceil((N + K) / limit) x D, and the
 *    request allowance's, provider requests / rpm. D is the provider's mean job duration in the
 *    same run, as in backlog.ts: pipeline overhead (create, polls, hand-off) is inside the 1.25.
 * 2. `handoff`: what one hand-off reads and writes at backlogs of 100, 1,000 and 10,000 waiting
 *    jobs across 10 clients, on DynamoDB Local (no renders): jobs seeded with the real
 *    DynamoJobStore (create + enqueue) and clients marked waiting on the real
 *    DynamoConcurrencySemaphore, every slot held; then, repeatedly, one slot freed (not counted)
 *    and admission.handOff() called with recorded executions, its DynamoDB requests and capacity
 *    units counted (bench/support.ts's counter). Also where a job deep in a queue stands
 *    (GET /videos/{id}'s standingOf): its counts read every job ahead, so that cost grows with
 *    the position, as designed.
 * 3. `batch`: a file of M lines dropped under `batches/` (every line waits for the schedule), the
 *    scheduler run once; from that run to the last completion, against the same bound as 1.
 *
 *   node bench/tenants.ts [--part fair,handoff,batch] [--flood 24] [--late 4] [--lines 200]
 *     [--backlogs 100,1000,10000] [--handoffs 10] [--limit N] [--rpm N] [--speed 20]
 *     [--repeat 3] [--timeout-min 20]
 *
 * The parts one at a time, on a 2-core machine that others share:
 *
 *   node bench/tenants.ts --part fair --repeat 3    # 24 + 4 jobs: about half a minute a run
 *   node bench/tenants.ts --part handoff            # seeds 10,000 jobs: about a minute
 *   node bench/tenants.ts --part batch --repeat 2   # 200 lines: about three minutes a run
 *
 * Parts 1 and 3 run each repeat on a fresh stack in a child process; part 2 runs once in this
 * process, its min/median over `--handoffs` hand-offs at each backlog (`--limit` sizes its slot
 * pool too). At --speed x a real millisecond a handler spends is x ms on the stack's clock, so
 * on a slow or busy machine a high speed inflates the overhead inside the makespan ('slot idle
 * per job' shows it in real ms); x20 keeps the overhead near a tenth of a job. `--rpm` lifts the
 * request allowance: at the default 20 a job's ~4.5 provider requests nearly bind at the
 * default limit of 4, and the bound is then the allowance's.
 * Targets: b's wait <= 1.25x its bound, makespans <= 1.25x theirs, requests per hand-off flat
 * within 10% from the smallest backlog to the largest.
 */

import { parseArgs } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createAdmission } from '../functions/shared/admission/admission.ts';
import { DynamoDurationStats } from '../functions/shared/admission/duration-stats.ts';
import { standingOf } from '../functions/shared/admission/queue-standing.ts';
import { DynamoJobStore } from '../functions/shared/jobs/dynamo-job-store.ts';
import type { Job } from '../functions/shared/jobs/job.ts';
import { DynamoConcurrencySemaphore } from '../functions/shared/limits/dynamo-concurrency-semaphore.ts';
import { DynamoSpendingBudget } from '../functions/shared/limits/dynamo-spending-budget.ts';
import {
  DEFAULT_MAX_CONCURRENT_JOBS,
  DEFAULT_REQUESTS_PER_MINUTE,
} from '../functions/shared/limits/limits-config.ts';
import { logger } from '../functions/shared/observability/observability.ts';
import {
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from '../infra/local/local-stack.ts';
import {
  localDocuments,
  startDynamoDbLocal,
  stopSharedDynamoDbLocal,
} from '../test/support/dynamodb-local.ts';
import { recordingExecutions } from '../test/support/recording-executions.ts';
import {
  COUNTER_MIDDLEWARE,
  counting,
  format,
  minMedian,
  minMedianRows,
  newTally,
  printNote,
  printTable,
  providerJobsSince,
  reportToParent,
  runChild,
  sdkCounter,
  slotGapsMs,
  stackTable,
  sum,
  type Tally,
  until,
  untilEnded,
} from './support.ts';

const PARTS = ['fair', 'handoff', 'batch'] as const;
type Part = (typeof PARTS)[number];

const { values: opts } = parseArgs({
  options: {
    part: { type: 'string', default: PARTS.join(',') },
    flood: { type: 'string', default: '24' },
    late: { type: 'string', default: '4' },
    lines: { type: 'string', default: '200' },
    backlogs: { type: 'string', default: '100,1000,10000' },
    handoffs: { type: 'string', default: '10' },
    /** Override limits:maxConcurrentJobs (default: the pipeline's default). */
    limit: { type: 'string' },
    /** Override limits:requestsPerMinute (default: the pipeline's default). */
    rpm: { type: 'string' },
    speed: { type: 'string', default: '20' },
    repeat: { type: 'string', default: '3' },
    'timeout-min': { type: 'string', default: '20' },
    /** Internal: run one repeat of a part (`fair` or `batch`) and report it to the parent. */
    child: { type: 'string' },
  },
});
const parts = opts.part.split(',') as Part[];
const FLOOD = Number(opts.flood);
const LATE = Number(opts.late);
const LINES = Number(opts.lines);
const BACKLOGS = opts.backlogs.split(',').map(Number);
const HANDOFFS = Number(opts.handoffs);
const SPEED = Number(opts.speed);
const TIMEOUT_MS = Number(opts['timeout-min']) * 60_000;
/** Client a floods; b comes later. a's name sorts first: it wins the fair share's ties. */
const FLOODER = 'a';
const LATECOMER = 'b';
/** Clients of the hand-off part, each with an equal share of its backlog. */
const TENANTS = 10;

const usage = `usage: node bench/tenants.ts [--part ${PARTS.join(',')}] [--flood 24] [--late 4] [--lines 200] [--backlogs 100,1000,10000] [--handoffs 10] [--limit N] [--rpm N] [--speed 20] [--repeat 3] [--timeout-min 20]`;
const positive = (value: number) => Number.isInteger(value) && value > 0;
if (
  !parts.every((part) => PARTS.includes(part)) ||
  ![FLOOD, LATE, LINES, HANDOFFS, ...BACKLOGS].every(positive) ||
  !(SPEED > 0)
) {
  console.error(usage);
  process.exit(2);
}

// ------------------------------------------------------------- parts 1 and 3: on the local stack
/** The figures every local-stack run reports: the makespan against its bound. */
interface StackRun {
  limit: number;
  rpm: number;
  jobs: number;
  lost: number;
  providerMeanSeconds: number;
  /** Mean admission to completion (startedAt to completedAt), stack clock. */
  pipelineMeanSeconds: number;
  makespanSeconds: number;
  concurrencyBoundSeconds: number;
  providerRequests: number;
  rateBoundSeconds: number;
  slotGapSeconds: number;
  providerMaxConcurrent: number;
  realSeconds: number;
  functionErrors: number;
}
interface FairRun extends StackRun {
  lateWaitSeconds: number;
  lateBoundSeconds: number;
  /** a's and b's admissions from b's first submission to b's last start. */
  floodStartsMeanwhile: number;
  lateFirstStartSeconds: number;
}
interface BatchRun extends StackRun {
  /** The scheduler's run that made the batch admissible and handed out the first slots. */
  schedulerRealSeconds: number;
  admissible: number;
  firstStartSeconds: number;
}

async function withStack<T>(
  options: Partial<LocalStackOptions>,
  run: (stack: LocalStack, functionErrors: () => number) => Promise<T>,
): Promise<T> {
  let functionErrors = 0;
  const context: Record<string, string> = {};
  if (opts.limit !== undefined) context['limits:maxConcurrentJobs'] = opts.limit;
  if (opts.rpm !== undefined) context['limits:requestsPerMinute'] = opts.rpm;
  const stack = await startLocalStack({
    dataDir: null,
    speed: SPEED,
    logLevel: 'ERROR',
    context,
    onFunctionError: () => {
      functionErrors += 1;
    },
    ...options,
  });
  try {
    return await run(stack, () => functionErrors);
  } finally {
    await stack.stop();
  }
}

async function submit(stack: LocalStack, client: string, prompt: string): Promise<string> {
  const headers = stack.clients[client]?.headers ?? stack.headers;
  const response = await fetch(`${stack.apiUrl}/videos`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
  });
  const body = (await response.json()) as { id?: string };
  if (response.status !== 202 || !body.id)
    throw new Error(`POST /videos as ${client}: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

/** The makespan of `ids` from `fromMs` (stack clock), once they have ended, and its bounds. */
async function measureStackRun(
  stack: LocalStack,
  table: ReturnType<typeof stackTable>,
  ids: Set<string>,
  fromMs: number,
  allowanceBefore: number,
  functionErrors: number,
  realStart: number,
): Promise<{ run: StackRun; records: Job[] }> {
  const limit = Number(process.env.MAX_CONCURRENT_JOBS);
  const rpm = Number(process.env.PROVIDER_REQUESTS_PER_MINUTE ?? DEFAULT_REQUESTS_PER_MINUTE);
  const records = await table.jobs(ids);
  const providerRequests = (await table.allowance()) - allowanceBefore;
  const { videos, meanSeconds } = providerJobsSince(stack, fromMs);
  const ms = (iso: string | undefined) => (iso === undefined ? Number.NaN : Date.parse(iso));
  const endMs = Math.max(...records.map((job) => ms(job.completedAt ?? job.updatedAt)));
  const held = records.flatMap((job) =>
    job.startedAt && job.completedAt ? [ms(job.completedAt) - ms(job.startedAt)] : [],
  );
  const gaps = slotGapsMs(videos);
  return {
    records,
    run: {
      limit,
      rpm,
      jobs: ids.size,
      lost: records.filter((job) => job.status !== 'COMPLETED').length + ids.size - records.length,
      providerMeanSeconds: meanSeconds,
      pipelineMeanSeconds: sum(held) / held.length / 1000,
      makespanSeconds: (endMs - fromMs) / 1000,
      concurrencyBoundSeconds: Math.ceil(ids.size / limit) * meanSeconds,
      providerRequests,
      rateBoundSeconds: rpm > 0 ? (providerRequests / rpm) * 60 : 0,
      slotGapSeconds: gaps.length > 0 ? sum(gaps) / gaps.length / 1000 : 0,
      providerMaxConcurrent: stack.simulator?.stats.maxConcurrentJobs ?? Number.NaN,
      realSeconds: (performance.now() - realStart) / 1000,
      functionErrors,
    },
  };
}

async function fairChild(): Promise<FairRun> {
  return withStack(
    {
      clients: [FLOODER, LATECOMER],
      // Equal weights, said out loud: the bound assumes them.
      clientSettings: { [FLOODER]: { weight: 1 }, [LATECOMER]: { weight: 1 } },
      // The floods are not what a client's request rate is for.
      clientRate: { requestsPerWindow: 100_000 },
    },
    async (stack, functionErrors) => {
      const table = stackTable(stack);
      const limit = Number(process.env.MAX_CONCURRENT_JOBS);
      const allowanceBefore = await table.allowance();
      const startMs = stack.clock.nowMs();
      const realStart = performance.now();
      const deadline = realStart + TIMEOUT_MS;
      const flood = new Set<string>();
      let next = 0;
      const submitter = async () => {
        for (let index = next++; index < FLOOD; index = next++) {
          flood.add(await submit(stack, FLOODER, `flood ${index}`));
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, FLOOD) }, submitter));
      // "A little later": once a's jobs hold every slot and the rest wait in a's queue.
      await until(
        "a's flood to fill the slots and park the rest",
        () => table.jobs(flood),
        (jobs) =>
          jobs.filter((job) => job.startedAt !== undefined).length === Math.min(limit, FLOOD) &&
          jobs.every((job) => job.startedAt !== undefined || job.deferredReason === 'capacity'),
        deadline,
      );
      const lateMs = stack.clock.nowMs();
      const late = new Set<string>();
      for (let index = 0; index < LATE; index += 1) {
        late.add(await submit(stack, LATECOMER, `late ${index}`));
      }
      const ids = new Set([...flood, ...late]);
      await untilEnded(stack, 'fair', ids.size, () => table.jobs(ids, 'jobId, #s'), deadline);
      await stack.stepFunctions.whenIdle();
      const { run, records } = await measureStackRun(
        stack,
        table,
        ids,
        startMs,
        allowanceBefore,
        functionErrors(),
        realStart,
      );
      table.destroy();
      const startOf = (job: Job) => Date.parse(job.startedAt ?? '');
      const lateStarts = records.filter((job) => late.has(job.jobId)).map(startOf);
      const lastLateStart = Math.max(...lateStarts);
      return {
        ...run,
        lateWaitSeconds: (lastLateStart - lateMs) / 1000,
        lateBoundSeconds: Math.ceil((2 * LATE) / limit) * run.providerMeanSeconds,
        floodStartsMeanwhile: records.filter(
          (job) => flood.has(job.jobId) && startOf(job) > lateMs && startOf(job) <= lastLateStart,
        ).length,
        lateFirstStartSeconds: (Math.min(...lateStarts) - lateMs) / 1000,
      };
    },
  );
}

async function batchChild(): Promise<BatchRun> {
  // The schedule's timer is off: the run below is the one firing measured.
  return withStack({ scheduleTimer: false }, async (stack, functionErrors) => {
    const table = stackTable(stack);
    const deadline = performance.now() + TIMEOUT_MS;
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
    });
    const lines = Array.from({ length: LINES }, (_, index) =>
      JSON.stringify({ prompt: `scheduled line ${index}` }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'batches/tenants-bench.jsonl',
        Body: `${lines.join('\n')}\n`,
      }),
    );
    await stack.whenEventsIdle();
    s3.destroy();
    // Every line is a job waiting for the schedule (the intake read the whole file).
    const all = new Set<string>();
    const waiting = await until(
      'the batch to be read',
      async () => {
        const jobs = await table.jobs('all');
        for (const job of jobs) all.add(job.jobId);
        return jobs;
      },
      (jobs) => jobs.length === LINES,
      deadline,
    );
    const notScheduled = waiting.filter((job) => job.deferredReason !== 'scheduled');
    if (notScheduled.length > 0)
      throw new Error(`${notScheduled.length} batch jobs are not waiting for the schedule`);
    const allowanceBefore = await table.allowance();
    const fireMs = stack.clock.nowMs();
    const realStart = performance.now();
    const summary = (await stack.runScheduler()) as { admissible: string[]; started: unknown[] };
    const schedulerRealSeconds = (performance.now() - realStart) / 1000;
    await untilEnded(stack, 'batch', all.size, () => table.jobs(all, 'jobId, #s'), deadline);
    await stack.stepFunctions.whenIdle();
    const { run, records } = await measureStackRun(
      stack,
      table,
      all,
      fireMs,
      allowanceBefore,
      functionErrors(),
      realStart,
    );
    table.destroy();
    const firstStart = Math.min(...records.map((job) => Date.parse(job.startedAt ?? '')));
    return {
      ...run,
      schedulerRealSeconds,
      admissible: summary.admissible.length,
      firstStartSeconds: (firstStart - fireMs) / 1000,
    };
  });
}

/** The makespan figures every local-stack run prints. */
function stackFigures(run: StackRun): [string, number, string][] {
  const bound = Math.max(run.concurrencyBoundSeconds, run.rateBoundSeconds);
  return [
    ['provider mean job s (D)', run.providerMeanSeconds, ''],
    ['admission to completion, mean s', run.pipelineMeanSeconds, ''],
    ['makespan s (stack clock)', run.makespanSeconds, ''],
    ['concurrency bound s', run.concurrencyBoundSeconds, ''],
    ['provider requests / job', run.providerRequests / run.jobs, ''],
    ['rate bound s (requests / rpm)', run.rateBoundSeconds, ''],
    ['makespan / bound (the larger)', run.makespanSeconds / bound, '<= 1.25'],
    ['slot idle per job s', run.slotGapSeconds, ''],
    ['  = real ms', (run.slotGapSeconds / SPEED) * 1000, ''],
    ['provider jobs at once, most', run.providerMaxConcurrent, '<= limit'],
    ['jobs lost', run.lost, '0'],
    ['function errors', run.functionErrors, '0'],
    ['real time s', run.realSeconds, ''],
  ];
}

function fairFigures(run: FairRun): [string, number, string][] {
  return [
    ["b's first job started after s", run.lateFirstStartSeconds, ''],
    ["b's wait s (to its last start)", run.lateWaitSeconds, ''],
    ["b's bound s (ceil(2K/limit) x D)", run.lateBoundSeconds, ''],
    ["b's wait / bound", run.lateWaitSeconds / run.lateBoundSeconds, '<= 1.25'],
    ["a's jobs started meanwhile", run.floodStartsMeanwhile, `~${LATE}`],
    ...stackFigures(run),
  ];
}

function batchFigures(run: BatchRun): [string, number, string][] {
  return [
    ['made admissible by the run', run.admissible, String(LINES)],
    ["scheduler's run, real s", run.schedulerRealSeconds, ''],
    ['first start after firing s', run.firstStartSeconds, ''],
    ...stackFigures(run),
  ];
}

async function stackPart<T extends StackRun>(
  part: 'fair' | 'batch',
  title: (run: T) => string,
  figures: (run: T) => [string, number, string][],
  bounds: string,
): Promise<void> {
  const runs: T[] = [];
  for (let index = 1; index <= Number(opts.repeat); index += 1) {
    const args = [...process.argv.slice(2), '--child', part];
    const run = await runChild<T>(import.meta.filename, args, `${part} ${index}`);
    runs.push(run);
    console.log(`\n${part} run ${index}: ${title(run)}`);
    printTable(
      ['figure', 'value', 'target'],
      figures(run).map(([name, value, target]) => [name, format(value), target]),
    );
  }
  console.log(`\n${part}: ${runs.length} run(s), each on a fresh stack`);
  printTable(['figure', 'min', 'median', 'target'], minMedianRows(runs.map(figures)));
  printNote(bounds);
}

/** How the bounds are derived, printed under the figures. */
const MAKESPAN_BOUND = `The makespan's bound is the larger of ceil(jobs / limit) x D (the slots) and provider requests / rpm (the request allowance), D being the provider's mean job duration in the same run: what the pipeline adds (create, polls, hand-off, at x${SPEED} its handlers' real time) is inside the 1.25.`;
const FAIR_BOUND = `b's bound: with equal weights and a holding every slot, the freed slots go a, b, a, b (a wins ties), so b's k-th job is admitted by the 2k-th slot to free after b's first submission; each running job ends within about D, so slots free at about limit per D and b's last job starts within ceil(2K / limit) x D. ${MAKESPAN_BOUND}`;
const BATCH_BOUND = `The makespan runs from the scheduler's run (the schedule firing) to the last completion; the run first makes every line admissible, then hands out the free slots. ${MAKESPAN_BOUND}`;

// ------------------------------------------------------------- part 2: one hand-off's cost
interface Counted {
  requests: number;
  rru: number;
  wru: number;
  sdk: Record<string, number>;
}
const counted = (tally: Tally): Counted => ({
  requests: tally.dynamo.reads + tally.dynamo.writes,
  rru: tally.dynamo.rru,
  wru: tally.dynamo.wru,
  sdk: tally.sdk,
});

/** Runs `action` with every DynamoDB request it makes counted. */
async function count<T>(action: () => Promise<T>): Promise<{ value: T; counted: Counted }> {
  const tally = newTally();
  counting.current = tally;
  try {
    return { value: await action(), counted: counted(tally) };
  } finally {
    counting.current = newTally();
  }
}

/** An item's size by DynamoDB's rules, roughly: names plus values, numbers ~ digits / 2 + 1. */
function itemBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') return Math.ceil(String(value).length / 2) + 1;
  if (typeof value === 'boolean' || value === null) return 1;
  if (Array.isArray(value)) return 3 + sum(value.map((entry) => 1 + itemBytes(entry)));
  if (value instanceof Set) return sum([...value].map(itemBytes));
  if (typeof value === 'object')
    return (
      3 +
      sum(Object.entries(value).map(([name, entry]) => Buffer.byteLength(name) + itemBytes(entry)))
    );
  return 0;
}

async function handOffPart(): Promise<void> {
  // A hand-off logs each start: thousands of lines here.
  logger.setLogLevel('ERROR');
  const limit = opts.limit === undefined ? DEFAULT_MAX_CONCURRENT_JOBS : Number(opts.limit);
  const dynamo = await startDynamoDbLocal();
  try {
    const tableName = await dynamo.createJobsTable('tenants-bench');
    // The pipeline's document client (its retries and marshalling), counted.
    const client = localDocuments(dynamo.endpoint);
    client.middlewareStack.add(sdkCounter('DynamoDB'), COUNTER_MIDDLEWARE);
    const store = new DynamoJobStore({ client, tableName });
    const semaphore = new DynamoConcurrencySemaphore({ client, tableName, limit });
    const admission = createAdmission({
      store,
      semaphore,
      budget: new DynamoSpendingBudget({ client, tableName, dailyLimitUsd: null }),
      overBudgetAction: 'queue',
      priceOf: (job) => job.estimatedCostUsd,
      clock: () => new Date(),
      executions: recordingExecutions(),
    });
    const durations = new DynamoDurationStats({ client, tableName });

    const clients = Array.from({ length: TENANTS }, (_, index) => `tenant-${index}`);
    const baseMs = Date.parse('2026-12-01T00:00:00.000Z');
    let seeded = 0;
    /** The last job seeded per client: the deepest in its queue. */
    const deepest = new Map<string, Job>();
    const seedOne = async (client: string) => {
      const index = seeded++;
      const createdAt = new Date(baseMs + index).toISOString();
      const job: Job = {
        jobId: `job_${String(index).padStart(26, '0')}`,
        status: 'QUEUED',
        source: 'api',
        client,
        prompt: `A red fox running through fresh snow at dawn, waiting job ${index} of ${client}`,
        model: 'sora-2',
        size: '720x1280',
        seconds: '4',
        priority: 'normal',
        share: { weight: 1 },
        deferred: false,
        requestHash: 'a'.repeat(64),
        estimatedCostUsd: 0.4,
        createdAt,
        updatedAt: createdAt,
        progress: 0,
        pollCount: 0,
      };
      await store.create(job);
      await store.enqueue(job, createdAt);
      deepest.set(client, job);
      return job;
    };
    /** Seeds waiting jobs, round robin over the clients, until `total` have been seeded. */
    const seedTo = async (total: number) => {
      const workers = Array.from({ length: 16 }, async () => {
        while (seeded < total) await seedOne(clients[seeded % TENANTS] ?? 'tenant-0');
      });
      await Promise.all(workers);
    };
    for (const client of clients) await semaphore.markWaiting(client, { weight: 1 });
    // Every slot held: a hand-off has a slot to give only after one is freed.
    const holders: { jobId: string; client: string }[] = [];
    for (let index = 0; index < limit; index += 1) {
      // Job-id-sized (30 characters): the pool item's size is what its reads and writes cost.
      const holder = { jobId: `job_RUNNING${String(index).padStart(19, '0')}`, client: 'runner' };
      await semaphore.acquire(holder.jobId, { client: holder.client });
      holders.push(holder);
    }
    let handedOff = 0;

    const rows: { backlog: number; handOffs: Counted[]; standing: Counted; position: number }[] =
      [];
    for (const backlog of BACKLOGS) {
      const realStart = performance.now();
      // The backlog is `backlog` jobs waiting now: those seeded less those handed off.
      await seedTo(backlog + handedOff);
      process.stderr.write(
        `[handoff] ${backlog} waiting jobs seeded in ${((performance.now() - realStart) / 1000).toFixed(0)} s\n`,
      );
      const handOffs: Counted[] = [];
      for (let index = 0; index < HANDOFFS; index += 1) {
        const freed = holders.shift();
        if (freed === undefined) throw new Error('no slot holder to free');
        await semaphore.release(freed.jobId, freed.client);
        const { value: started, counted: cost } = await count(() => admission.handOff());
        const [start] = started;
        if (start === undefined || started.length !== 1)
          throw new Error(`a hand-off started ${started.length} jobs, not 1`);
        handOffs.push(cost);
        const job = await store.get(start.jobId);
        holders.push({ jobId: start.jobId, client: job?.client ?? 'unknown' });
        handedOff += 1;
        // One more job waiting (clients in turn): the backlog stays at `backlog`.
        await seedTo(backlog + handedOff);
      }
      const deep = await store.get(deepest.get(clients[0] ?? '')?.jobId ?? '');
      if (deep === undefined) throw new Error('nothing seeded');
      const { value: standing, counted: standingCost } = await count(() =>
        standingOf(deep, { store, semaphore, durations, clock: () => new Date() }),
      );
      rows.push({
        backlog,
        handOffs,
        standing: standingCost,
        position: standing?.queue?.position ?? Number.NaN,
      });
    }
    const sampleJob = await store.get(deepest.get(clients[0] ?? '')?.jobId ?? '');
    client.destroy();
    printHandOffs(rows, limit, itemBytes(sampleJob));
  } finally {
    await dynamo.stop();
    await stopSharedDynamoDbLocal();
  }
}

function printHandOffs(
  rows: { backlog: number; handOffs: Counted[]; standing: Counted; position: number }[],
  limit: number,
  jobItemBytes: number,
): void {
  console.log(
    `\nhandoff: ${TENANTS} clients with equal shares, ${limit} slots all held; min / median over ${HANDOFFS} hand-offs per backlog (DynamoDB Local; a waiting job's item ~${jobItemBytes} B)`,
  );
  const stat = (values: number[]) => minMedian(values).map(format).join(' / ');
  const medianOf = (values: number[]) => minMedian(values)[1];
  printTable(
    [
      'waiting jobs',
      'requests / hand-off',
      'RRU',
      'WRU',
      'requests by command (median)',
      "standing of a queue's last job: position",
      'requests',
      'RRU',
    ],
    rows.map((row) => {
      const commands = [...new Set(row.handOffs.flatMap((cost) => Object.keys(cost.sdk)))]
        .sort()
        .map(
          (name) =>
            `${name.replace('DynamoDB ', '')} ${format(medianOf(row.handOffs.map((cost) => cost.sdk[name] ?? 0)))}`,
        );
      return [
        String(row.backlog),
        stat(row.handOffs.map((cost) => cost.requests)),
        stat(row.handOffs.map((cost) => cost.rru)),
        stat(row.handOffs.map((cost) => cost.wru)),
        commands.join(', '),
        String(row.position),
        String(row.standing.requests),
        format(row.standing.rru),
      ];
    }),
  );
  printNote(
    "A hand-off reads the slot pool item (before and after the start), the head of one client's queue (a Query of 3 items) and the job, and writes the pool item (acquire) and the job (claim, out of the queue index): a constant set of items whatever the backlog. The standing of a queue's last job counts the jobs ahead of it (its own queue, and each other client's share before it): that grows with its position, as designed (counting stops at 100,000).",
  );
  const first = rows[0];
  const last = rows.at(-1);
  if (first === undefined || last === undefined) return;
  const ratio = (pick: (cost: Counted) => number) =>
    medianOf(last.handOffs.map(pick)) / medianOf(first.handOffs.map(pick));
  printTable(
    ['figure', 'value', 'target'],
    [
      [
        `requests / hand-off, ${last.backlog} / ${first.backlog} waiting`,
        format(ratio((c) => c.requests)),
        '<= 1.1',
      ],
      [`RRU / hand-off, ${last.backlog} / ${first.backlog}`, format(ratio((c) => c.rru)), '<= 1.1'],
      [`WRU / hand-off, ${last.backlog} / ${first.backlog}`, format(ratio((c) => c.wru)), '<= 1.1'],
      [
        `standing RRU, ${last.backlog} / ${first.backlog} (grows with the position: expected)`,
        format(last.standing.rru / first.standing.rru),
        '',
      ],
    ],
  );
}

// ------------------------------------------------------------- main
if (opts.child === 'fair') reportToParent(await fairChild());
else if (opts.child === 'batch') reportToParent(await batchChild());
else {
  if (parts.includes('fair')) {
    await stackPart<FairRun>(
      'fair',
      (run) =>
        `a floods ${FLOOD}, b submits ${LATE} later; ${run.limit} slots, ${run.rpm} provider requests/min, x${SPEED}`,
      fairFigures,
      FAIR_BOUND,
    );
  }
  if (parts.includes('handoff')) await handOffPart();
  if (parts.includes('batch')) {
    await stackPart<BatchRun>(
      'batch',
      (run) =>
        `${LINES} lines under batches/, scheduler run once; ${run.limit} slots, ${run.rpm} provider requests/min, x${SPEED}`,
      batchFigures,
      BATCH_BOUND,
    );
  }
}
