/**
 * Scale model of the pipeline at 1,000,000 jobs a day on AWS: which DynamoDB key gets hot, which
 * quota binds first at 4, 100 and 1,000 concurrent provider jobs, and what a job costs next to
 * the provider's price. Pure arithmetic, no AWS calls. It prints markdown tables; every figure
 * in docs/scale.md comes from them. Change a constant, run it again, paste the tables.
 *
 *   node bench/scale-model.ts
 *
 * Quotas and prices: us-east-1 as published on 2026-11-30 (sources in docs/scale.md). Every
 * other input is marked `assumption` or names the file or bench it comes from.
 */

// ---- Load
const JOBS_PER_DAY = 1_000_000; // DESIGN.md section 7
const PEAK_FACTOR = 3; // assumption: the busiest hour submits at 3x the daily average
const AVG_JOBS_PER_S = JOBS_PER_DAY / 86_400;
const PEAK_JOBS_PER_S = AVG_JOBS_PER_S * PEAK_FACTOR;
const LIMITS = [4, 100, 1_000]; // limits:maxConcurrentJobs settings compared

// ---- One job
const PROVIDER_SECONDS = 120; // assumption: provider time (DESIGN.md: 30 s to several minutes)
const CREATE_SECONDS = 1; // assumption: create Lambda (provider create, limits, job writes)
const POLL_SECONDS = 0.3; // assumption: poll Lambda
const DETECTION_DELAY_SECONDS = 3; // assumption: video done -> the poll that sees it
const POLLS_PER_JOB = 7.9; // measured: node bench/poll-policy.ts, adaptive, all scenarios
// Bounds per execution, functions/shared/workflow/workflow-bounds.ts (being written 2026-11-30)
const MAX_POLLS_PER_EXECUTION = 30;
const MAX_RATE_WAITS = 5;
const FAILURE_SHARE = 0.02; // assumption: jobs that end in RecordFailure
const PARKED_SHARE = 0.3; // assumption: jobs parked once (QUEUED, deferred 'capacity')
// create-provider-job.ts: a parked job's acquire fails, it parks, its second acquire fails; the
// hand-off acquires for it, and its next create acquires again (a no-op ADD, still a write).
const EXTRA_SEMAPHORE_OPS_PER_PARK = 3;
const RETRIES_PER_JOB = 0.2; // assumption: Task retries (Lambda service errors, 429, 5xx)
const API_REQUESTS_PER_JOB = 3; // assumption: submit, a status read, the content link
const VIDEO_BYTES = 20e6; // assumption: an 8 s 720p MP4
const DOWNLOAD_SECONDS = 1 + VIDEO_BYTES / 50e6; // assumption: 1 s fixed + 50 MB/s streaming
const PART_BYTES = 8 * 1024 * 1024; // DEFAULT_PART_SIZE_BYTES, functions/shared/storage
const PROVIDER_PRICE = 0.1 * 8; // sora-2: $0.10 per second x 8 s (DESIGN.md section 2)
const PROVIDER_LOWEST_RPM = 25; // sora-2 at the lowest tier (DESIGN.md section 2)
/** A slot is held from the create to the end of the download (DESIGN.md section 6). */
const SLOT_SECONDS = CREATE_SECONDS + PROVIDER_SECONDS + DETECTION_DELAY_SECONDS + DOWNLOAD_SECONDS;
const EXEC_SECONDS = SLOT_SECONDS; // a parked job has no execution; one starts with its slot
const STARTS_PER_JOB = 1 + PARKED_SHARE; // a parked job's first execution ends in JobDeferred

// Provider calls per job; `true` = takes the per-minute allowance (functions/tasks/*.ts).
const PROVIDER_CALLS: [call: string, perJob: number, takesAllowance: boolean][] = [
  ['create', 1, true],
  ['retrieve (poll)', POLLS_PER_JOB, true],
  ['content: video', 1, true],
  ['content: thumbnail + spritesheet', 2, false],
];
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const CALLS_PER_JOB = sum(PROVIDER_CALLS.map(([, n]) => n));
const TAKES_PER_JOB = sum(PROVIDER_CALLS.map(([, n, takes]) => (takes ? n : 0)));

// ---- Quotas, us-east-1 (sources in docs/scale.md)
const PARTITION_WCU = 1_000; // DynamoDB write units per second per partition
const PARTITION_RCU = 3_000; // DynamoDB read units per second per partition
const ITEM_MAX_BYTES = 400 * 1024; // DynamoDB item size
const SFN_TRANSITIONS = 5_000; // StateTransition refill/s, us-east-1, us-west-2, eu-west-1
const SFN_TRANSITIONS_OTHER = 800; // StateTransition refill/s, all other Regions
const SFN_STARTS = 300; // StartExecution refill/s, same three Regions (150 elsewhere)
const SFN_OPEN_EXECUTIONS = 1_000_000;
const SFN_HISTORY_EVENTS = 25_000; // per execution
const HISTORY_BUDGET = 2_500; // DESIGN.md section 6: worst-case history of an execution
const LAMBDA_CONCURRENCY = 1_000; // default, per account and Region
const S3_PUTS_PER_PREFIX = 3_500; // per second per partitioned prefix

// ---- Prices, us-east-1
const SFN_PER_TRANSITION = 0.025 / 1_000; // Step Functions pricing, Standard
const EXPRESS_PER_REQUEST = 1 / 1e6; // Step Functions pricing, Express
const EXPRESS_PER_GB_HOUR = 0.01642; // Express, top volume tier; memory billed in 64 MB chunks
const LAMBDA_PER_GB_S = 0.0000133334; // Lambda pricing, arm64, first tier
const LAMBDA_PER_REQUEST = 0.2 / 1e6; // Lambda pricing
const DDB_PER_WRU = 0.625 / 1e6; // DynamoDB on-demand (since the November 2024 price cut)
const DDB_PER_RRU = 0.125 / 1e6; // DynamoDB on-demand
const S3_PER_PUT = 0.005 / 1_000; // S3 Standard, PUT/COPY/POST/LIST
const S3_PER_GB_MONTH = 0.023; // S3 Standard, first 50 TB
const HTTP_API_PER_REQUEST = 1 / 1e6; // API Gateway HTTP API, first 300 M (assumption: unchecked)
const LOGS_PER_GB = 0.5; // CloudWatch Logs ingestion (assumption: unchecked)
const LOG_BYTES_PER_JOB = 60_000; // assumption: state machine logs (level ALL) + Lambda logs

// ---- DynamoDB items
const JOB_ITEM_BYTES = 1_500; // assumption: prompt ~500 characters + job attributes
const SMALL_ITEM_BYTES = 200; // assumption: idempotency, counters, budget records, ledger
const HOLDER_BYTES = 30; // 'job_' + 26-character ULID, functions/shared/jobs/job-id.ts
const SEMAPHORE_BASE_BYTES = 40; // assumption: pk, sk and the attribute name
const TX_LOCK_MS = 15; // assumption (unpublished): how long a transaction holds an item
const RRU_PER_JOB = 14; // assumption: a consistent job read per task, 2 GETs (+ hand-off query)
const QUEUE_PAGE = 100; // PAGE_SIZE, functions/shared/workflow/job-queue.ts (QUEUED, oldest first)
const QUEUE_MAX_READ = 1_000; // maxRead of one hand-off, same file
// A Query is charged for every item it returns: a page of job items, eventually consistent.
const PAGE_RRU = Math.ceil((QUEUE_PAGE * JOB_ITEM_BYTES) / 4096) / 2;
const QUEUE_PAGES = QUEUE_MAX_READ / QUEUE_PAGE;

const units = (bytes: number) => Math.ceil(bytes / 1024); // 1 WRU per KB, larger of old/new
const semaphoreBytes = (holders: number) => SEMAPHORE_BASE_BYTES + holders * HOLDER_BYTES;
const semaphoreWcu = (limit: number) => units(semaphoreBytes(limit));
/** Little's law: slots in use = arrival rate x time each is held. */
const slotsFor = (jobsPerS: number, seconds = SLOT_SECONDS) => Math.ceil(jobsPerS * seconds);
const SLOTS_AVG = slotsFor(AVG_JOBS_PER_S);
const SLOTS_PEAK = slotsFor(PEAK_JOBS_PER_S);

// Acquire + release, plus a parked job's extra ops (assumption: a failed conditional write is
// charged like a write of the item's size).
const SEMAPHORE_OPS = 2 + PARKED_SHARE * EXTRA_SEMAPHORE_OPS_PER_PARK;
// Job item writes: create attempt, provider job, polls, completed; park + claim when parked.
const JOB_UPDATES = 3 + POLLS_PER_JOB + 2 * PARKED_SHARE;
// byStatus entries under STATUS#IN_PROGRESS: enter, provider job, polls, leave (a delete).
const IN_PROGRESS_WRITES = 3 + POLLS_PER_JOB;
type DynamoWrite = [what: string, key: string, perJob: number, wru: number, hot: boolean];
function dynamoWrites(limit: number): DynamoWrite[] {
  const [job, small] = [units(JOB_ITEM_BYTES), units(SMALL_ITEM_BYTES)];
  return [
    ['submit (tx: job + idempotency)', 'JOB#<id>', 1, 2 * (job + small), false],
    ['job updates (with park + claim)', 'JOB#<id>', JOB_UPDATES, job, false],
    ['GSI byCreatedAt copies', 'JOBS', 1 + JOB_UPDATES, job, true],
    ['GSI byStatus copies, in progress', 'STATUS#IN_PROGRESS', IN_PROGRESS_WRITES, job, true],
    ['GSI byStatus copies, other', 'STATUS#QUEUED, ...', 3 + 2 * PARKED_SHARE, job, false],
    [
      'semaphore ops (+ parked extras)',
      'LIMIT#concurrency',
      SEMAPHORE_OPS,
      semaphoreWcu(limit),
      true,
    ],
    ['request allowance takes', 'LIMIT#requests#<minute>', TAKES_PER_JOB, small, true],
    // functions/api/client-rate.ts: one ADD per API request, on a new item per client per window.
    [
      'client request counters',
      'LIMIT#client-requests#<client>#<window>',
      API_REQUESTS_PER_JOB,
      small,
      false,
    ],
    ['budget day totals (2 tx)', 'BUDGET#DAY#<day>', 2, 2 * small, true],
    ['budget job record (same tx)', 'BUDGET#JOB#<id>', 2, 2 * small, false],
    ['provider-job ledger claim', 'PROVIDERJOB#<id>', 1, small, false],
  ];
}
const wruPerJob = (writes: DynamoWrite[]) => sum(writes.map(([, , n, wru]) => n * wru));

// ---- Step Functions: the states a job visits (infra/constructs/generation-state-machine.ts)
// assumption: history events per state visit, as execution histories show them (a Task:
// entered, scheduled, started, succeeded, exited); +2 per execution, +3 per retry.
const EVENTS = { Task: 5, Choice: 2, Wait: 2, Pass: 2, Succeed: 2, Fail: 1 };
const RETRY_EVENTS = 3;
// The design before parking: a waiting job looped WaitForSlot (10-30 s, mean 20), Create, Choice.
const OLD_WAIT_LOOP: [transitions: number, seconds: number] = [3, 20];
const KIND = {
  StartJob: 'Pass',
  CreateProviderJob: 'Task',
  IsProviderJobStarted: 'Choice',
  WaitForRequests: 'Wait',
  JobDeferred: 'Succeed',
  WaitForProvider: 'Wait',
  PollProviderJob: 'Task',
  IsVideoReady: 'Choice',
  DownloadVideo: 'Task',
  JobSucceeded: 'Succeed',
  PollLimitReached: 'Pass',
  RecordFailure: 'Task',
  IsJobResumed: 'Choice',
  JobResumed: 'Succeed',
} as const satisfies Record<string, keyof typeof EVENTS>;
type Visit = [state: keyof typeof KIND, visits: number];
const visits = (n: number, ...states: (keyof typeof KIND)[]): Visit[] => states.map((s) => [s, n]);
const START = visits(1, 'StartJob', 'CreateProviderJob', 'IsProviderJobStarted');
const pollLoop = (n: number) => visits(n, 'WaitForProvider', 'PollProviderJob', 'IsVideoReady');
const SUCCESS_PATH = [
  ...START,
  ...pollLoop(POLLS_PER_JOB),
  ...visits(1, 'DownloadVideo', 'JobSucceeded'),
];
const PARKED_PATH = [...START, ...visits(1, 'JobDeferred')];
const WORST_PATH = [
  ...START,
  ...visits(MAX_RATE_WAITS, 'WaitForRequests', 'CreateProviderJob', 'IsProviderJobStarted'),
  ...pollLoop(MAX_POLLS_PER_EXECUTION),
  ...visits(1, 'PollLimitReached', 'RecordFailure', 'IsJobResumed', 'JobResumed'),
];
const transitions = (path: Visit[]) => sum(path.map(([, n]) => n));
const events = (path: Visit[], retries: number) =>
  2 + sum(path.map(([state, n]) => n * EVENTS[KIND[state]])) + RETRY_EVENTS * retries;
// Billed per state entered, retries included. A failure swaps DownloadVideo + JobSucceeded for
// ProviderJobFailed, RecordFailure, IsJobResumed, JobFailed: 2 more.
const EXTRA_TRANSITIONS = PARKED_SHARE * transitions(PARKED_PATH) + 2 * FAILURE_SHARE;
const TRANSITIONS_PER_JOB = transitions(SUCCESS_PATH) + EXTRA_TRANSITIONS + RETRIES_PER_JOB;

// ---- Lambda (memory: infra/stacks/pipeline-stack.ts)
type LambdaUse = [fn: string, perJob: number, memoryMb: number, seconds: number];
const LAMBDAS: LambdaUse[] = [
  ['api: POST + 2 GETs (assumption)', 3, 512, 0.1],
  ['authorizer, uncached (assumption)', 3, 256, 0.05],
  ['create (+ first try of parked jobs)', STARTS_PER_JOB, 512, CREATE_SECONDS],
  ['poll', POLLS_PER_JOB, 512, POLL_SECONDS],
  ['download', 1, 1024, DOWNLOAD_SECONDS],
  ['record-failure', FAILURE_SHARE, 256, 0.2],
  ['slot hand-off, in download (assumption)', 1, 1024, 0.3],
];
const gbSeconds = ([, n, mb, s]: LambdaUse) => (n * mb * s) / 1024;
const lambdaCost = (l: LambdaUse) => gbSeconds(l) * LAMBDA_PER_GB_S + l[1] * LAMBDA_PER_REQUEST;
const LAMBDA_SECONDS_PER_JOB = sum(LAMBDAS.map(([, n, , s]) => n * s));

// ---- S3: CreateMultipartUpload, the parts, Complete, thumbnail and spritesheet PUTs
const S3_PUTS_PER_JOB = 1 + Math.ceil(VIDEO_BYTES / PART_BYTES) + 1 + 2;

// ---- Caps in jobs/s
const JOB_WRU = units(JOB_ITEM_BYTES);
const semaphoreCap = (limit: number, shards = 1, ops = SEMAPHORE_OPS) =>
  (shards * PARTITION_WCU) / (ops * semaphoreWcu(Math.ceil(limit / shards)));
const IN_PROGRESS_CAP = PARTITION_WCU / (IN_PROGRESS_WRITES * JOB_WRU);
const JOBS_KEY_CAP = PARTITION_WCU / ((1 + JOB_UPDATES) * JOB_WRU);
const LOCK_CAP = 1000 / TX_LOCK_MS / 2; // 2 transactions per job on the day item
const COUNTER_CAP = PARTITION_WCU / TAKES_PER_JOB;
const transitionsCap = (quota: number) => quota / TRANSITIONS_PER_JOB;
/** The largest limit whose single semaphore item keeps up with its own turnover. */
function largestSingleItemLimit(ops = SEMAPHORE_OPS): number {
  let limit = 1;
  while (semaphoreCap(limit + 1, 1, ops) >= (limit + 1) / SLOT_SECONDS) limit++;
  return limit;
}
const singleItemMax = largestSingleItemLimit();

// ---- Output: markdown tables
type Cell = string | number;
const num = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const usd = (n: number) => (n >= 1 ? `$${num(n, n >= 100 ? 0 : 2)}` : `$${n.toPrecision(3)}`);
const pct = (n: number) => `${num(n * 100, n < 0.01 ? 3 : 1)} %`;
const perDay = (jobsPerS: number) => num(jobsPerS * 86_400);
const avgPeak = (perJob: number, digits = 0) =>
  `${num(perJob * AVG_JOBS_PER_S, digits)} / ${num(perJob * PEAK_JOBS_PER_S, digits)}`;
/** Prints a markdown table with padded columns, as the repo's formatter (biome) lays them out. */
function table(title: string, header: string, rows: Cell[][]): void {
  const lines = [header.split(' | '), ...rows.map((row) => row.map(String))];
  const widths = lines[0]?.map((_, i) => Math.max(3, ...lines.map((l) => (l[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths?.[i] ?? 0)).join(' | ')} |`;
  const rule = line((widths ?? []).map((w) => '-'.repeat(w)));
  console.log(
    `\n### ${title}\n\n${[line(lines[0] ?? []), rule, ...lines.slice(1).map(line)].join('\n')}`,
  );
}
const QUOTA_HEADER = 'what | per job | per s: avg / peak | quota per s | peak use | jobs/day cap';
/** Per-job use of a per-second quota: load at average and peak, peak use, the jobs/day cap. */
function quotaRow(what: string, perJob: number, quota: number): Cell[] {
  const peakUse = pct((perJob * PEAK_JOBS_PER_S) / quota);
  return [what, num(perJob, 1), avgPeak(perJob), num(quota), peakUse, perDay(quota / perJob)];
}

table('Load', 'quantity | value', [
  ['jobs/s, average / peak', avgPeak(1, 2)],
  ['slot held per job (create + provider + detection + download), s', num(SLOT_SECONDS, 1)],
  ['provider jobs in flight for 1M/day at exactly 120 s', num(slotsFor(AVG_JOBS_PER_S, 120))],
  ['slots needed, average / peak', `${num(SLOTS_AVG)} / ${num(SLOTS_PEAK)}`],
  ['provider calls per job / that take the allowance', `${CALLS_PER_JOB} / ${TAKES_PER_JOB}`],
  ['video data stored per day, TB', num((VIDEO_BYTES * JOBS_PER_DAY) / 1e12, 1)],
]);

function throughputRow(limit: number): Cell[] {
  const rate = limit / SLOT_SECONDS;
  return [num(limit), num(rate, 3), perDay(rate), num(rate * CALLS_PER_JOB * 60)];
}
const THROUGHPUT_HEADER = 'limit | jobs/s | jobs/day | provider requests/min';
table('Throughput by limit', THROUGHPUT_HEADER, [...LIMITS, SLOTS_AVG].map(throughputRow));

function semaphoreRow(limit: number): Cell[] {
  const [kb, wcu] = [num(semaphoreBytes(limit) / 1024, 1), semaphoreWcu(limit)];
  const [item, slots] = [num(semaphoreCap(limit), 1), num(limit / SLOT_SECONDS, 2)];
  return [num(limit), kb, wcu, num(PARTITION_WCU / wcu), item, slots];
}
const SEMAPHORE_HEADER =
  'limit | item KB | WCU per op | ops/s | jobs/s the item allows | jobs/s the slots allow';
const semaphoreLimits = [...LIMITS, singleItemMax, SLOTS_PEAK];
table('Semaphore: one item', SEMAPHORE_HEADER, semaphoreLimits.map(semaphoreRow));
const maxHolders = Math.floor((ITEM_MAX_BYTES - SEMAPHORE_BASE_BYTES) / HOLDER_BYTES);
const noParking = largestSingleItemLimit(2);
const slotsAndDays = (slots: number) => `${num(slots)} slots = ${perDay(slots / SLOT_SECONDS)}/day`;
console.log(`\n- largest limit one item turns over: ${slotsAndDays(singleItemMax)}`);
console.log(`- the same with no parked jobs (2 ops per job): ${slotsAndDays(noParking)}`);
console.log(`- holders that fit in a 400 KB item: ${num(maxHolders)}`);

function shardRow(shards: number): Cell[] {
  const perShard = Math.ceil(SLOTS_PEAK / shards);
  const wcu = semaphoreWcu(perShard);
  const load = (PEAK_JOBS_PER_S / shards) * SEMAPHORE_OPS * wcu;
  const cap = perDay(semaphoreCap(SLOTS_PEAK, shards));
  return [shards, num(perShard), wcu, num(load), pct(load / PARTITION_WCU), cap];
}
const SHARD_HEADER =
  'shards | limit per shard | WCU per op | WCU/s per shard at peak | of 1,000 | jobs/day cap';
table(`Sharded semaphore, ${num(SLOTS_PEAK)} slots`, SHARD_HEADER, [1, 4, 16, 64].map(shardRow));

const writes = dynamoWrites(SLOTS_AVG);
function writeRow([what, key, n, wru, hot]: DynamoWrite): Cell[] {
  return [what, `\`${key}\`${hot ? ' (hot)' : ''}`, num(n, 1), wru, num(n * wru, 1)];
}
const WRITES_HEADER = 'write | key | per job | WRU each | WRU per job';
table(`DynamoDB writes per job (limit ${num(SLOTS_AVG)})`, WRITES_HEADER, writes.map(writeRow));
console.log(`\n- WRU per job, all writes: ${num(wruPerJob(writes), 1)}`);

const hotRows = writes
  .filter(([, , , , hot]) => hot)
  .map(([, key, n, wru]) => quotaRow(`\`${key}\` WRU`, n * wru, PARTITION_WCU));
table('Hot keys (peak: if the slots admit it)', QUOTA_HEADER, [
  ...hotRows,
  quotaRow('`BUDGET#DAY#<day>` tx locks (assumption)', 2, 1000 / TX_LOCK_MS),
  quotaRow('`STATUS#QUEUED` RRU, hand-off reads a page', PAGE_RRU, PARTITION_RCU),
  quotaRow('`STATUS#QUEUED` RRU, hand-off reads 1,000', PAGE_RRU * QUEUE_PAGES, PARTITION_RCU),
]);

function stateRow([state, n]: Visit): Cell[] {
  return [state, KIND[state], num(n, 1), num(n * EVENTS[KIND[state]], 1)];
}
table('Step Functions path', 'state | type | visits | history events', SUCCESS_PATH.map(stateRow));
table('Service quotas', QUOTA_HEADER, [
  quotaRow('Step Functions transitions, us-east-1', TRANSITIONS_PER_JOB, SFN_TRANSITIONS),
  quotaRow('Step Functions transitions, other Regions', TRANSITIONS_PER_JOB, SFN_TRANSITIONS_OTHER),
  quotaRow('StartExecution', STARTS_PER_JOB, SFN_STARTS),
  quotaRow('Lambda concurrency (s per job)', LAMBDA_SECONDS_PER_JOB, LAMBDA_CONCURRENCY),
  quotaRow('S3 PUT-class, one partitioned prefix', S3_PUTS_PER_JOB, S3_PUTS_PER_PREFIX),
]);
const [typical, worst] = [events(SUCCESS_PATH, RETRIES_PER_JOB), events(WORST_PATH, 0)];
const standard = TRANSITIONS_PER_JOB * SFN_PER_TRANSITION;
const express = EXPRESS_PER_REQUEST + ((EXEC_SECONDS / 3600) * 64 * EXPRESS_PER_GB_HOUR) / 1024;
const worstUse = `${pct(worst / SFN_HISTORY_EVENTS)} of ${num(SFN_HISTORY_EVENTS)}`;
const waitingToFill = SFN_TRANSITIONS / (OLD_WAIT_LOOP[0] / OLD_WAIT_LOOP[1]);
const openUse = pct((EXEC_SECONDS * PEAK_JOBS_PER_S) / SFN_OPEN_EXECUTIONS);
table('Step Functions: other figures', 'figure | value', [
  ['transitions per job', num(TRANSITIONS_PER_JOB, 1)],
  ['open executions (Little), average / peak', `${avgPeak(EXEC_SECONDS)} (${openUse} of quota)`],
  [
    'history events per execution, typical / worst',
    `${num(typical)} / ${num(worst)} (${worstUse})`,
  ],
  [
    'retries the worst path can add under 2,500 events',
    num((HISTORY_BUDGET - worst) / RETRY_EVENTS),
  ],
  ['jobs waiting in executions (design before parking) to fill 5,000/s', num(waitingToFill)],
  ['Express / Standard, $ per job', `${usd(express)} / ${usd(standard)}`],
]);

function lambdaRow(l: LambdaUse): Cell[] {
  const [fn, n, mb, s] = l;
  return [fn, num(n, 2), mb, num(s, 2), avgPeak(n * s, 1), usd(lambdaCost(l))];
}
const LAMBDA_HEADER = 'function | calls per job | MB | s | concurrency avg / peak | $ per job';
table('Lambda (arm64)', LAMBDA_HEADER, LAMBDAS.map(lambdaRow));

const costs: [item: string, perJob: number][] = [
  ['Step Functions Standard', standard],
  ['Lambda', sum(LAMBDAS.map(lambdaCost))],
  ['DynamoDB writes', wruPerJob(writes) * DDB_PER_WRU],
  ['DynamoDB reads', (RRU_PER_JOB + PAGE_RRU) * DDB_PER_RRU],
  ['S3 requests', S3_PUTS_PER_JOB * S3_PER_PUT],
  [
    `API Gateway HTTP API (${API_REQUESTS_PER_JOB} requests)`,
    API_REQUESTS_PER_JOB * HTTP_API_PER_REQUEST,
  ],
  ['CloudWatch Logs ingestion', (LOG_BYTES_PER_JOB / 1e9) * LOGS_PER_GB],
];
costs.push(['**pipeline total**', sum(costs.map(([, c]) => c))]);
const storagePerMonth = (VIDEO_BYTES / 1e9) * S3_PER_GB_MONTH;
costs.push(['S3 storage, per month kept (not in the total)', storagePerMonth]);
costs.unshift(['provider (sora-2, 8 s)', PROVIDER_PRICE]);
function costRow([item, c]: [string, number]): Cell[] {
  return [item, usd(c), usd(c * JOBS_PER_DAY), pct(c / PROVIDER_PRICE)];
}
const COST_HEADER = 'item | $ per job | $ per day at 1M | of provider price';
table('Cost per job at 1M/day', COST_HEADER, costs.map(costRow));

// In us-east-1 (other Regions: transitions cap at 800/s, see the quota table).
type Cap = [name: string, jobsPerS: (limit: number) => number];
const fixed = (jobsPerS: number) => () => jobsPerS;
const caps: Cap[] = [
  ['concurrency limit (limit / slot s)', (limit) => limit / SLOT_SECONDS],
  ['semaphore item (1,000 WCU/s)', semaphoreCap],
  ['GSI key STATUS#IN_PROGRESS', fixed(IN_PROGRESS_CAP)],
  ['budget day item locks (assumption)', fixed(LOCK_CAP)],
  ['GSI key JOBS', fixed(JOBS_KEY_CAP)],
  ['request counter (1,000 WCU/s)', fixed(COUNTER_CAP)],
  ['SFN transitions (5,000/s)', fixed(transitionsCap(SFN_TRANSITIONS))],
  ['Lambda concurrency (1,000)', fixed(LAMBDA_CONCURRENCY / LAMBDA_SECONDS_PER_JOB)],
  ['SFN StartExecution (300/s)', fixed(SFN_STARTS / STARTS_PER_JOB)],
  ['GSI key STATUS#QUEUED reads, a page per hand-off', fixed(PARTITION_RCU / PAGE_RRU)],
  ['S3 PUT per prefix (3,500/s)', fixed(S3_PUTS_PER_PREFIX / S3_PUTS_PER_JOB)],
];
const limits = [...LIMITS, SLOTS_AVG, SLOTS_PEAK];
function bindsRow(limit: number): Cell[] {
  const byCap = ([, a]: Cap, [, b]: Cap) => a(limit) - b(limit);
  const [first, second] = [...caps].sort(byCap);
  const show = (cap?: Cap) => (cap ? `${cap[0]}: ${perDay(cap[1](limit))}/day` : '');
  const rpm = (first?.[1](limit) ?? 0) * CALLS_PER_JOB * 60;
  const rpmCell = `${num(rpm)} (${num(rpm / PROVIDER_LOWEST_RPM)}x)`;
  return [num(limit), show(first), show(second), rpmCell];
}
const BINDS_HEADER = 'limit | binds first | then | provider requests/min (x lowest tier)';
table('What binds first (us-east-1)', BINDS_HEADER, limits.map(bindsRow));

const [peakSharded, raised] = [semaphoreCap(SLOTS_PEAK, 16), transitionsCap(SFN_TRANSITIONS)];
const change = (what: string, from: number, to: number): Cell[] => [what, perDay(from), perDay(to)];
table('Caps before and after each change, jobs/day', 'change | before | after', [
  change('semaphore at the peak limit: 16 shards', semaphoreCap(SLOTS_PEAK), peakSharded),
  change('request counter: 4 shards per minute', COUNTER_CAP, 4 * COUNTER_CAP),
  change('budget day item: 8 shards', LOCK_CAP, 8 * LOCK_CAP),
  change('budget: SQS-batched, 100 settlements per write', LOCK_CAP, 100 * LOCK_CAP),
  change('GSI key STATUS#IN_PROGRESS: 8 shards', IN_PROGRESS_CAP, 8 * IN_PROGRESS_CAP),
  change('GSI key JOBS: 8 shards', JOBS_KEY_CAP, 8 * JOBS_KEY_CAP),
  // assumption: with KEYS_ONLY, an update that changes no index key writes nothing to the index
  change('GSI STATUS#IN_PROGRESS: KEYS_ONLY (enter + leave)', IN_PROGRESS_CAP, PARTITION_WCU / 2),
  change(
    'transitions, other Regions: 800/s raised to 5,000/s',
    transitionsCap(SFN_TRANSITIONS_OTHER),
    raised,
  ),
]);
