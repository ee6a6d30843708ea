import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isTerminal, type Job } from '../../functions/shared/jobs/job.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import type {
  RunningSimulator,
  SimulatorStats,
  VideoSnapshot,
} from '../../infra/local/simulator/simulator.ts';
import { renderFailure } from '../../infra/local/simulator/video-store.ts';
import { lastNoonUtc } from '../support/clock-start.ts';
import {
  countBy,
  duplicates,
  PipelineAudit,
  sha256Hex,
  type TableSnapshot,
  waitFor,
} from '../support/pipeline-audit.ts';

// The money-and-work invariants (DESIGN.md section 6) under a matrix of provider faults: 70 jobs
// (60 over HTTP, 10 from a .jsonl in the inbox) through a limit of 4 concurrent jobs and a daily
// budget just above what they can spend, on a pool of two simulated deployments of 3 jobs each,
// while the deployments drop create responses (of jobs with identical requests among others),
// answer 429 and bursts of 5xx, cut downloads, let content expire, refuse prompts and fail
// renders. Then: every job ends with the right outcome, each provider job was created once over
// the pool and is held by exactly one job on the deployment that job records, neither the pool
// nor a deployment ever ran more than its limit, the money spent is exactly what the provider
// rendered, and S3 holds exactly the completed videos, byte for byte. Its own file: one local
// stack per process.

const SPEED = 100;
const LIMIT = 4;
/**
 * The pool: each deployment's quota below the pipeline's limit, so both bind. The faults are
 * split between them; a refused create fails over to the other one.
 */
const DEPLOYMENTS = ['east', 'west'] as const;
type Deployment = (typeof DEPLOYMENTS)[number];
const DEPLOYMENT_LIMIT = 3;
const CLIENTS = ['alice', 'bob'] as const;
type Client = (typeof CLIENTS)[number];
// Content stays downloadable for 6 hours of the stack's clock (3.6 minutes of real time), so
// the provider's bytes can be compared at the end; the expiry window sets 0 for a few jobs.
const LONG_TTL_SECONDS = 6 * 3600;
const MODERATION = '[moderation-block]';
const RENDER_FAIL = '[render-fail]';

type Kind = 'identical' | 'moderation' | 'render-fail' | 'plain';

interface VideoRequest {
  prompt: string;
  model: string;
  size: string;
  seconds: string;
}

interface PlannedJob {
  kind: Kind;
  request: VideoRequest;
}

/** The same request eight times: a lost create response must not make them adopt wrongly. */
const IDENTICAL: VideoRequest = {
  prompt: 'Identical request: a red kite over a grey sea',
  model: 'sora-2',
  size: '720x1280',
  seconds: '4',
};

function plainRequest(n: number): VideoRequest {
  return {
    prompt: `Clip ${n}: a lighthouse keeper's day, scene ${n}`,
    model: n % 13 === 0 ? 'sora-2-pro' : 'sora-2',
    size: n % 7 === 0 ? '1280x720' : '720x1280',
    seconds: n % 5 === 0 ? '8' : '4',
  };
}

function planned(n: number, kindAt: (n: number) => Kind): PlannedJob {
  const kind = kindAt(n);
  const request = plainRequest(n);
  if (kind === 'moderation') request.prompt = `A street brawl, take ${n} ${MODERATION}`;
  if (kind === 'render-fail') request.prompt = `A collapsing bridge, take ${n} ${RENDER_FAIL}`;
  return { kind, request };
}

const IDENTICAL_JOBS: PlannedJob[] = Array.from({ length: 8 }, () => ({
  kind: 'identical',
  request: { ...IDENTICAL },
}));
const API_JOBS: PlannedJob[] = Array.from({ length: 52 }, (_, i) =>
  planned(i + 1, (n) => (n % 13 === 5 ? 'moderation' : n % 13 === 11 ? 'render-fail' : 'plain')),
);
const INBOX_JOBS: PlannedJob[] = Array.from({ length: 10 }, (_, i) =>
  planned(101 + i, (n) => (n === 103 ? 'moderation' : n === 107 ? 'render-fail' : 'plain')),
);
const ALL_PLANNED = [...IDENTICAL_JOBS, ...API_JOBS, ...INBOX_JOBS];

/** The catalogue's price (sora-2 $0.10/s; sora-2-pro $0.30/s at these sizes), in micro-dollars. */
function priceMicroUsd(params: { model: string; seconds: string }): number {
  const perSecond = params.model === 'sora-2-pro' ? 300_000 : 100_000;
  return perSecond * Number(params.seconds);
}

// What the jobs can spend (all but the refused and the failed renders), plus the reservations of
// four jobs in flight: the budget never refuses one, but not by much.
const RENDERABLE_MICRO_USD = ALL_PLANNED.filter(
  (job) => job.kind === 'identical' || job.kind === 'plain',
).reduce((sum, job) => sum + priceMicroUsd(job.request), 0);
const MAX_PRICE_MICRO_USD = Math.max(...ALL_PLANNED.map((job) => priceMicroUsd(job.request)));
const BUDGET_USD = (RENDERABLE_MICRO_USD + LIMIT * MAX_PRICE_MICRO_USD) / 1_000_000;

let stack: LocalStack;
let simulators: Record<Deployment, RunningSimulator>;
let audit: PipelineAudit;
let s3: S3Client;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    // The daily budget counts per UTC day: start far from midnight so the run stays in one.
    clockStartMs: lastNoonUtc(),
    context: {
      'limits:maxConcurrentJobs': String(LIMIT),
      'budget:dailyUsd': BUDGET_USD.toFixed(2),
      // Per minute of the stack's clock: enough for 70 jobs without stalling the run.
      'limits:requestsPerMinute': '120',
    },
    simulator: { seed: 20_261_130, contentTtlSeconds: LONG_TTL_SECONDS },
    // The catalogue's quota only: the simulators enforce none, so their stats show whether the
    // pipeline kept to it.
    simulatorPool: DEPLOYMENTS.map((id) => ({ id, maxConcurrent: DEPLOYMENT_LIMIT })),
    // Two clients of unequal weights share the slots and the budget; the drop folder's jobs are
    // the default client's (a third).
    clients: [...CLIENTS],
    clientSettings: { alice: { weight: 2 }, bob: { weight: 1 } },
    // Never refuse the matrix's bursts of submissions for the clients' request rate.
    clientRate: { requestsPerWindow: 1000 },
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  const [east, west] = DEPLOYMENTS.map((id) => stack.simulators[id]);
  if (!east || !west) throw new Error(`the e2e stack runs simulated deployments ${DEPLOYMENTS}`);
  simulators = { east, west };
  audit = new PipelineAudit(stack);
  s3 = new S3Client({
    endpoint: stack.s3Endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
  });
});

afterAll(async () => {
  audit?.destroy();
  s3?.destroy();
  await stack?.stop();
});

async function api(method: string, path: string, body?: unknown, as?: Client) {
  const caller = as === undefined ? stack.headers : stack.clients[as]?.headers;
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { ...caller, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function submit(request: VideoRequest, as: Client): Promise<string> {
  const { status, body } = await api('POST', '/videos', request, as);
  if (status !== 202) throw new Error(`POST /videos answered ${status}: ${JSON.stringify(body)}`);
  return String(body.id);
}

/** Drops the inbox jobs as one .jsonl and returns their job ids, line by line. */
async function dropInbox(jobs: PlannedJob[]): Promise<string[]> {
  const key = 'inbox/fault-matrix.jsonl';
  await s3.send(
    new PutObjectCommand({
      Bucket: stack.bucket,
      Key: key,
      Body: jobs.map((job) => JSON.stringify(job.request)).join('\n'),
    }),
  );
  await stack.whenEventsIdle();
  const object = await s3.send(
    new GetObjectCommand({ Bucket: stack.bucket, Key: 'inbox-results/fault-matrix.jsonl.json' }),
  );
  const report = JSON.parse((await object.Body?.transformToString()) ?? '{}') as {
    results: { jobId?: string; error?: unknown }[];
  };
  return report.results.map((line) => {
    if (!line.jobId) throw new Error(`inbox line refused: ${JSON.stringify(line)}`);
    return line.jobId;
  });
}

/** What the fault driver did, to tell which jobs each fault hit. */
interface FaultLog {
  /** Per deployment, its provider job indexes (creation order) whose create response was dropped. */
  droppedCreates: Record<Deployment, number[]>;
  /** Content expired at completion for the provider jobs of [from, to) on one deployment. */
  expiredWindow: { deployment: Deployment; from: number; to: number };
  /** 429 answers of the window of one create a minute (on `RATE_LIMITED`). */
  rateLimited: number;
  serverErrorBursts: Record<Deployment, number>;
  /** Jobs resumed by a new execution while `CUT_DOWNLOADS`'s downloads were being cut. */
  resumedAfterCutDownloads: Job[];
  steps: string[];
}

/** Where each fault of the matrix is injected (besides the 5xx bursts, which alternate). */
const INITIAL_DROPS: Record<Deployment, number> = { east: 2, west: 1 };
const RATE_LIMITED: Deployment = 'west';
const EXPIRING: Deployment = 'east';
const CUT_DOWNLOADS: Deployment = 'west';

/** What the pool's deployments have seen and done, each one's and summed. */
interface PoolStats {
  of: Record<Deployment, SimulatorStats>;
  /** Every provider job of the pool, with the deployment it was created on. */
  videos: (VideoSnapshot & { deployment: Deployment })[];
  creates: number;
  serverErrors: number;
  droppedCreateResponses: number;
}

function poolStats(): PoolStats {
  const of = { east: simulators.east.stats, west: simulators.west.stats };
  const sum = (pick: (stats: SimulatorStats) => number) =>
    DEPLOYMENTS.reduce((total, id) => total + pick(of[id]), 0);
  return {
    of,
    videos: DEPLOYMENTS.flatMap((id) =>
      of[id].videos.map((video) => ({ ...video, deployment: id })),
    ),
    creates: sum((stats) => stats.creates),
    serverErrors: sum((stats) => stats.serverErrors),
    droppedCreateResponses: sum((stats) => stats.droppedCreateResponses),
  };
}

/** Provider jobs created over the pool so far: the fault schedule's clock. */
const poolCreates = () => simulators.east.stats.creates + simulators.west.stats.creates;

const untilCreates = (count: number) =>
  waitFor(`${count} provider jobs created`, () => poolCreates() >= count || undefined, {
    timeoutMs: 60_000,
  });

/**
 * The most provider jobs queued or in progress at one instant over the pool, from their
 * intervals (as each simulator computes its own `maxConcurrentJobs`; a job deleted before its
 * end counts to its end here, which can only make the figure larger).
 */
function maxConcurrentOver(videos: readonly VideoSnapshot[]): number {
  // At equal instants an end comes before a start: back-to-back jobs never overlap.
  const events = videos
    .flatMap((video): [number, number][] => [
      [video.createdAtMs, 1],
      [video.endsAtMs, -1],
    ])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let active = 0;
  let max = 0;
  for (const [, delta] of events) {
    active += delta;
    max = Math.max(max, active);
  }
  return max;
}

/**
 * 5xx for the next three requests to one deployment, whoever sends them (never enough to spend
 * a task's retries; a create refused so fails over to the other deployment).
 */
async function serverErrorBurst(log: FaultLog, deployment: Deployment): Promise<void> {
  const simulator = simulators[deployment];
  simulator.configure({ failNextRequests: 3 });
  await waitFor(
    `the 5xx burst on ${deployment} answered`,
    () => simulator.knobs.failNextRequests === 0 || undefined,
    { timeoutMs: 30_000 },
  );
  log.serverErrorBursts[deployment] += 1;
  log.steps.push(`5xx burst on ${deployment} at create ${poolCreates()}`);
}

/**
 * Injects the faults in turn as the provider jobs get created (the pool's create count is the
 * schedule), while the jobs flow. Windows are opened and closed synchronously with a read of a
 * deployment's create count, so which provider jobs were created inside one is known exactly.
 */
async function injectFaults(log: FaultLog): Promise<void> {
  await untilCreates(12);
  // 429 with Retry-After on one deployment: one create a minute, until two creates were refused
  // (each refused job fails over).
  const limited = simulators[RATE_LIMITED];
  const limitedBefore = limited.stats.rateLimited;
  limited.configure({ requestsPerMinute: 1 });
  await waitFor(
    `two 429 answers from ${RATE_LIMITED}`,
    () => limited.stats.rateLimited >= limitedBefore + 2 || undefined,
    { timeoutMs: 30_000, everyMs: 2 },
  );
  limited.configure({ requestsPerMinute: null });
  log.rateLimited = limited.stats.rateLimited - limitedBefore;
  log.steps.push(`429 window on ${RATE_LIMITED} closed at create ${poolCreates()}`);

  await untilCreates(20);
  await serverErrorBurst(log, 'east');

  // Content that expires the instant the render completes, for the next four provider jobs of
  // one deployment.
  await untilCreates(26);
  const expiring = simulators[EXPIRING];
  expiring.configure({ contentTtlSeconds: 0 });
  const expiredFrom = expiring.stats.creates;
  await waitFor(
    `4 creates with expiring content on ${EXPIRING}`,
    () => (expiring.stats.creates >= expiredFrom + 4 ? true : undefined),
    { timeoutMs: 30_000, everyMs: 1 },
  );
  expiring.configure({ contentTtlSeconds: LONG_TTL_SECONDS });
  log.expiredWindow = { deployment: EXPIRING, from: expiredFrom, to: expiring.stats.creates };
  log.steps.push(`expiry window on ${EXPIRING} ${expiredFrom}..${log.expiredWindow.to}`);

  await untilCreates(34);
  await serverErrorBurst(log, 'west');

  // Two more lost create responses, one on each deployment, of jobs with distinct requests.
  await untilCreates(38);
  for (const id of DEPLOYMENTS) {
    log.droppedCreates[id].push(simulators[id].stats.creates);
    simulators[id].configure({ dropNextCreateResponses: 1 });
  }
  await waitFor(
    'two more create responses dropped',
    () => (poolStats().droppedCreateResponses >= 5 ? true : undefined),
    { timeoutMs: 30_000 },
  );
  log.steps.push(`create responses dropped at ${JSON.stringify(log.droppedCreates)}`);

  // One deployment's downloads cut after 1000 bytes until some job's download retries are spent
  // and a new execution resumed it (then the cut stops, and the resumed download succeeds).
  await untilCreates(44);
  const resumedBefore = new Set(
    [...(await audit.jobs()).values()].filter((job) => job.resumeCount).map((job) => job.jobId),
  );
  const cut = simulators[CUT_DOWNLOADS];
  cut.configure({ dropConnectionAfterBytes: 1000 });
  const resumed = await waitFor(
    'a job resumed after its downloads were cut',
    async () => {
      const jobs = [...(await audit.jobs()).values()].filter(
        (job) => job.resumeCount && !resumedBefore.has(job.jobId),
      );
      return jobs.length > 0 ? jobs : undefined;
    },
    { timeoutMs: 30_000, everyMs: 5 },
  );
  cut.configure({ dropConnectionAfterBytes: null });
  log.resumedAfterCutDownloads = resumed.filter((job) => job.providerStatus === 'completed');
  log.steps.push(
    `downloads cut on ${CUT_DOWNLOADS} until ${resumed.map((job) => `${job.jobId}@${job.deployment}`).join(', ')} resumed`,
  );

  await untilCreates(52);
  await serverErrorBurst(log, 'east');
}

/** Samples the limits while the jobs run: slots in use and money committed against the budget. */
function watchLimits(): { stop(): Promise<void>; maxInUse: number; overBudget: string[] } {
  const watch = { maxInUse: 0, overBudget: [] as string[], stop: async () => {} };
  let running = true;
  const loop = (async () => {
    while (running) {
      const { body } = await api('GET', '/usage');
      const usage = body as {
        budget: { limitUsd: number; reservedUsd: number; spentUsd: number };
        concurrency: { inUse: number };
      };
      watch.maxInUse = Math.max(watch.maxInUse, usage.concurrency.inUse);
      const committed = usage.budget.reservedUsd + usage.budget.spentUsd;
      if (committed > usage.budget.limitUsd + 1e-9) {
        watch.overBudget.push(`${committed} > ${usage.budget.limitUsd}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  watch.stop = async () => {
    running = false;
    await loop;
  };
  return watch;
}

/** Resolves with every job once all `count` are terminal; on timeout names the ones that are not. */
async function allTerminal(count: number, timeoutMs: number): Promise<Map<string, Job>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await audit.jobs();
    const open = [...jobs.values()].filter((job) => !isTerminal(job.status));
    if (jobs.size >= count && open.length === 0) return jobs;
    if (Date.now() > deadline) {
      const states = open.map(
        (job) =>
          `${job.jobId} ${job.status} deferred=${job.deferred}/${job.deferredReason ?? '-'} provider=${job.providerJobId ?? '-'}/${job.providerStatus ?? '-'} execution=${job.executionName ?? '-'} resumes=${job.resumeCount ?? 0}`,
      );
      throw new Error(`${open.length} of ${jobs.size} jobs not terminal:\n${states.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The job's outcome as `STATUS/code`, expired content under one name whichever step saw it. */
function outcomeOf(job: Job): string {
  if (job.status !== 'FAILED') return job.status;
  const code = job.error?.code ?? '-';
  return `FAILED/${/expired/i.test(code) ? 'expired' : code}`;
}

describe('70 jobs through a limit of 4 and a budget, under provider faults', () => {
  it('end as their faults dictate, with each provider job created once and held once, the limit kept, the money exact and S3 exact', async () => {
    const started = Date.now();
    const log: FaultLog = {
      droppedCreates: {
        east: Array.from({ length: INITIAL_DROPS.east }, (_, i) => i),
        west: Array.from({ length: INITIAL_DROPS.west }, (_, i) => i),
      },
      expiredWindow: { deployment: EXPIRING, from: 0, to: 0 },
      rateLimited: 0,
      serverErrorBursts: { east: 0, west: 0 },
      resumedAfterCutDownloads: [],
      steps: [],
    };
    const watch = watchLimits();
    const kinds = new Map<string, Kind>();

    // The first three creates over the pool lose their response (two on east, one on west): all
    // three are identical requests, and so are the five sent with them.
    for (const id of DEPLOYMENTS) {
      simulators[id].configure({ dropNextCreateResponses: INITIAL_DROPS[id] });
    }
    // One client's: twins are adopted only between one client's identical requests.
    for (const job of IDENTICAL_JOBS) kinds.set(await submit(job.request, 'alice'), job.kind);
    await waitFor('three create responses dropped', () =>
      poolStats().droppedCreateResponses >= 3 ? true : undefined,
    );
    const faults = injectFaults(log);
    faults.catch(() => {});
    for (const [index, job] of API_JOBS.entries()) {
      kinds.set(await submit(job.request, CLIENTS[index % 2] ?? 'alice'), job.kind);
      if (index === 25) {
        const inboxIds = await dropInbox(INBOX_JOBS);
        for (const [line, jobId] of inboxIds.entries()) {
          kinds.set(jobId, INBOX_JOBS[line]?.kind ?? 'plain');
        }
      }
    }
    await faults;
    const jobs = await allTerminal(ALL_PLANNED.length, 75_000);
    await stack.stepFunctions.whenIdle();
    await watch.stop();
    const table: TableSnapshot = await audit.snapshot();
    const stats = poolStats();
    const objects = await audit.objects('videos/');
    const elapsedSeconds = (Date.now() - started) / 1000;

    // --- the run went as planned: every fault was injected --------------------------------
    expect(jobs.size).toBe(70);
    expect([...jobs.values()].filter((job) => job.source === 'inbox')).toHaveLength(10);
    expect({
      east: stats.of.east.droppedCreateResponses,
      west: stats.of.west.droppedCreateResponses,
    }).toEqual({ east: INITIAL_DROPS.east + 1, west: INITIAL_DROPS.west + 1 });
    expect(
      DEPLOYMENTS.flatMap((id) =>
        log.droppedCreates[id]
          .slice(0, INITIAL_DROPS[id])
          .map((i) => stats.of[id].videos[i]?.prompt),
      ),
    ).toEqual(Array(3).fill(IDENTICAL.prompt));
    expect(log.rateLimited).toBeGreaterThanOrEqual(2);
    expect(log.serverErrorBursts).toEqual({ east: 2, west: 1 });
    for (const id of DEPLOYMENTS) {
      expect(stats.of[id].serverErrors).toBeGreaterThanOrEqual(3 * log.serverErrorBursts[id]);
    }
    expect(log.expiredWindow.to - log.expiredWindow.from).toBeGreaterThanOrEqual(4);
    expect(log.resumedAfterCutDownloads.length).toBeGreaterThanOrEqual(1);
    // Only the cut deployment's downloads failed: the resumed jobs are its own.
    expect(log.resumedAfterCutDownloads.map((job) => job.deployment)).toEqual(
      log.resumedAfterCutDownloads.map(() => CUT_DOWNLOADS),
    );
    // Both deployments served the matrix.
    for (const id of DEPLOYMENTS) expect(stats.of[id].creates).toBeGreaterThan(0);

    // --- every job terminal, with the outcome its fault dictates --------------------------
    // A provider job's place: its deployment and its index there (creation order).
    const videoPlace = new Map(
      DEPLOYMENTS.flatMap((id) =>
        stats.of[id].videos.map((video, index) => [video.id, { deployment: id, index }] as const),
      ),
    );
    const expectedOutcome = (job: Job): string => {
      const kind = kinds.get(job.jobId);
      if (kind === 'moderation') return 'FAILED/moderation_blocked';
      if (kind === 'render-fail') return `FAILED/${renderFailure.code}`;
      const place = job.providerJobId === undefined ? undefined : videoPlace.get(job.providerJobId);
      const { deployment, from, to } = log.expiredWindow;
      if (place?.deployment === deployment && place.index >= from && place.index < to) {
        return 'FAILED/expired';
      }
      return 'COMPLETED';
    };
    const outcomes = Object.fromEntries(
      [...jobs.values()].map((job) => [job.jobId, outcomeOf(job)]),
    );
    const expected = Object.fromEntries(
      [...jobs.values()].map((job) => [job.jobId, expectedOutcome(job)]),
    );
    expect(outcomes).toEqual(expected);
    // (A render failure in the expiry window fails as a render failure: it has no content.)
    const expiring = stats.of[log.expiredWindow.deployment].videos
      .slice(log.expiredWindow.from, log.expiredWindow.to)
      .filter((video) => !video.prompt.includes(RENDER_FAIL));
    expect(expiring.length).toBeGreaterThanOrEqual(1);
    expect(Object.values(outcomes).filter((o) => o === 'FAILED/expired')).toHaveLength(
      expiring.length,
    );
    // The API tells the same story.
    for (const job of jobs.values()) {
      // An admin's token would do; the job's own client is who the API answers.
      const owner = CLIENTS.find((name) => name === job.client);
      const { body } = await api('GET', `/videos/${job.jobId}`, undefined, owner);
      expect([body.status, (body.error as { code?: string } | undefined)?.code]).toEqual([
        job.status,
        job.error?.code,
      ]);
    }

    // --- at most one provider create per job over the pool (exactly one unless refused by
    // moderation): none created twice on one deployment, nor once on each -----------------
    const createsByKey = countBy(stats.videos, (video) => String(video.idempotencyKey));
    expect(duplicates(createsByKey)).toEqual({});
    const keyOwners = [...jobs.values()]
      .filter((job) => kinds.get(job.jobId) !== 'moderation')
      .map((job) => `sora-pipeline-${job.jobId}`)
      .sort();
    expect([...createsByKey.keys()].sort()).toEqual(keyOwners);
    expect(stats.creates).toBe(stats.videos.length);
    // Video ids are unique over the pool (each simulator draws its own), so an id names one.
    expect(duplicates(countBy(stats.videos, (video) => video.id))).toEqual({});

    // --- each provider job held by exactly one job, none forgotten, none orphaned ---------
    const claimed = table.ledger.filter((entry) => entry.state === 'claimed');
    expect(table.ledger.filter((entry) => entry.state !== 'claimed')).toEqual([]);
    expect(claimed.map((entry) => entry.providerJobId).sort()).toEqual(
      stats.videos.map((video) => video.id).sort(),
    );
    expect(duplicates(countBy(claimed, (entry) => String(entry.jobId)))).toEqual({});
    const withProviderJob = [...jobs.values()].filter((job) => job.providerJobId !== undefined);
    expect(duplicates(countBy(withProviderJob, (job) => String(job.providerJobId)))).toEqual({});
    expect(
      Object.fromEntries(withProviderJob.map((job) => [job.providerJobId, job.jobId])),
    ).toEqual(Object.fromEntries(claimed.map((entry) => [entry.providerJobId, entry.jobId])));
    // Each job holds a video of the deployment it records: created, polled and downloaded
    // there, never adopted from another one.
    expect(
      Object.fromEntries(
        withProviderJob.map((job) => [
          job.jobId,
          videoPlace.get(String(job.providerJobId))?.deployment,
        ]),
      ),
    ).toEqual(Object.fromEntries(withProviderJob.map((job) => [job.jobId, job.deployment])));
    // Swapped adoptions are harmless only between identical requests: a job holds a video of
    // its own request.
    const videoById = new Map(stats.videos.map((video) => [video.id, video]));
    for (const job of withProviderJob) {
      const video = videoById.get(String(job.providerJobId)) as VideoSnapshot;
      expect([video.prompt, video.model, video.size, video.seconds]).toEqual([
        job.prompt,
        job.model,
        job.size,
        job.seconds,
      ]);
    }

    // --- the pool never ran more jobs than the limit, nor a deployment more than its own;
    // every slot given back ----------------------------------------------------------------
    expect(maxConcurrentOver(stats.videos)).toBeLessThanOrEqual(LIMIT);
    for (const id of DEPLOYMENTS) {
      expect(stats.of[id].maxConcurrentJobs, `${id}'s most jobs at once`).toBeLessThanOrEqual(
        DEPLOYMENT_LIMIT,
      );
    }
    expect(watch.maxInUse).toBeLessThanOrEqual(LIMIT);
    expect(table.holders).toEqual([]);
    expect([...table.clientHolders.values()].flat()).toEqual([]);
    expect([...table.deploymentHolders.values()].flat()).toEqual([]);

    // --- money: spent is exactly what the provider rendered, never over the budget --------
    const rendered = stats.videos.filter((video) => video.status === 'completed');
    const renderedMicroUsd = rendered.reduce((sum, video) => sum + priceMicroUsd(video), 0);
    const sum = (pick: (day: TableSnapshot['budgetDays'][number]) => number) =>
      table.budgetDays.reduce((total, day) => total + pick(day), 0);
    expect(watch.overBudget).toEqual([]);
    expect({
      spent: sum((day) => day.spentMicroUsd),
      reserved: sum((day) => day.reservedMicroUsd),
      orphaned: sum((day) => day.orphanedMicroUsd),
    }).toEqual({ spent: renderedMicroUsd, reserved: 0, orphaned: 0 });
    for (const day of table.budgetDays) {
      expect(day.spentMicroUsd).toBeLessThanOrEqual(BUDGET_USD * 1_000_000);
    }
    // Each client's part is what its own jobs rendered; together, the deployment's.
    const renderedBy = (client: string) =>
      [...jobs.values()]
        .filter((job) => (job.client ?? 'default') === client)
        .filter((job) => videoById.get(String(job.providerJobId))?.status === 'completed')
        .reduce((total, job) => total + priceMicroUsd(job), 0);
    const clientParts = Object.fromEntries(
      table.budgetClientDays.map((part) => [
        part.client,
        { spent: part.spentMicroUsd, reserved: part.reservedMicroUsd },
      ]),
    );
    expect(clientParts).toEqual(
      Object.fromEntries(
        ['alice', 'bob', 'default'].map((client) => [
          client,
          { spent: renderedBy(client), reserved: 0 },
        ]),
      ),
    );
    const budgetStates = Object.fromEntries(
      [...jobs.values()].map((job) => [
        job.jobId,
        `${table.budgetJobs.get(job.jobId)?.state}/${table.budgetJobs.get(job.jobId)?.spentMicroUsd ?? 0}`,
      ]),
    );
    const expectedBudgetStates = Object.fromEntries(
      [...jobs.values()].map((job) => {
        const video = videoById.get(String(job.providerJobId));
        return [
          job.jobId,
          video?.status === 'completed' ? `spent/${priceMicroUsd(job)}` : 'released/0',
        ];
      }),
    );
    expect(budgetStates).toEqual(expectedBudgetStates);

    // --- S3: exactly the completed jobs' objects, the provider's bytes --------------------
    const completed = [...jobs.values()].filter((job) => job.status === 'COMPLETED');
    const expectedKeys = completed.flatMap((job) =>
      [job.result?.key, job.result?.thumbnailKey, job.result?.spritesheetKey].filter(
        (key): key is string => key !== undefined,
      ),
    );
    expect(objects.map((object) => object.key).sort()).toEqual(expectedKeys.sort());
    const objectByKey = new Map(objects.map((object) => [object.key, object.bytes]));
    const providerHash = new Map<string, string>();
    for (const job of completed) {
      // Asked of the job's own deployment: the others have never heard of its video.
      const simulator = simulators[job.deployment as Deployment];
      const response = await fetch(`${simulator.baseURL}/videos/${job.providerJobId}/content`, {
        headers: { authorization: `Bearer ${simulator.knobs.apiKey}` },
      });
      providerHash.set(job.jobId, sha256Hex(Buffer.from(await response.arrayBuffer())));
    }
    expect(
      Object.fromEntries(
        completed.map((job) => {
          const bytes = objectByKey.get(String(job.result?.key)) ?? Buffer.alloc(0);
          return [job.jobId, [sha256Hex(bytes), bytes.length]];
        }),
      ),
    ).toEqual(
      Object.fromEntries(
        completed.map((job) => [job.jobId, [providerHash.get(job.jobId), job.result?.bytes]]),
      ),
    );
    expect(completed.every((job) => job.result?.sha256 === providerHash.get(job.jobId))).toBe(true);

    const failures = countBy(
      [...jobs.values()].filter((job) => job.error),
      (job) => String(job.error?.code),
    );
    console.info(
      `fault matrix: ${jobs.size} jobs, ${completed.length} completed, failed ${JSON.stringify(Object.fromEntries(failures))}, ${stats.creates} creates (east ${stats.of.east.creates}, west ${stats.of.west.creates}), at most ${maxConcurrentOver(stats.videos)} at once (east ${stats.of.east.maxConcurrentJobs}, west ${stats.of.west.maxConcurrentJobs}), ${elapsedSeconds.toFixed(1)} s; ${log.steps.join('; ')}`,
    );
  }, 120_000);
});
