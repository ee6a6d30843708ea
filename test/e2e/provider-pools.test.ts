import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type DeploymentHealthRecord,
  FAILURES_TO_OPEN,
  stateAt,
} from '../../functions/shared/admission/deployment-health.ts';
import { deploymentHealthKey } from '../../functions/shared/limits/limits-table.ts';
import { providerIdempotencyKey } from '../../functions/tasks/create-provider-job.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import type { RunningSimulator } from '../../infra/local/simulator/simulator.ts';
import { lastNoonUtc } from '../support/clock-start.ts';
import { type StackClient, stackClient } from './local-stack-client.ts';

// Issue 24 on the local stack: one model served by two simulated deployments. "broken" answers
// 503 to everything; "healthy" takes at most 2 jobs at once. Every job must complete on the
// healthy one, never more than 2 at once there, and the broken one is taken out after a few
// refusals. Then "broken" is repaired and "healthy" loses create responses: a job whose create
// went unanswered is never created on the other deployment. One stack per process: the second
// case runs on the first one's stack, counting only its own jobs.
const SPEED = 50;
const JOBS = 8;

let stack: LocalStack;
let client: StackClient;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    clockStartMs: lastNoonUtc(),
    context: { 'limits:maxConcurrentJobs': '4', 'limits:requestsPerMinute': '600' },
    simulatorPool: [
      { id: 'broken', knobs: { unavailable: true }, maxConcurrent: 2 },
      { id: 'healthy', knobs: { maxConcurrentJobs: 2 } },
    ],
    clientRate: { requestsPerWindow: 1000 },
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  client = stackClient(stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** The breaker item of a deployment (deployment-health.ts). */
async function health(id: string): Promise<Record<string, unknown> | undefined> {
  return client.item(deploymentHealthKey(id));
}

function simulator(id: string): RunningSimulator {
  const running = stack.simulators[id];
  if (!running) throw new Error(`no simulated deployment ${id}`);
  return running;
}

interface Video {
  id: string;
  status: string;
  deployment?: string;
  error?: { code: string };
}

const isFinished = (video: Video) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(video.status);

/** Reads until `done` holds, every `everyMs` (less often for many API calls at once). */
async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

describe('a model served by a pool of two deployments', () => {
  it('completes every job on the healthy deployment when the other answers 503 to everything, within its limit, taking the broken one out', async () => {
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i += 1) {
      ids.push(await client.submit({ prompt: `A lighthouse, clip ${i + 1}`, seconds: '4' }));
    }
    const done = await until(
      () =>
        Promise.all(
          ids.map(async (id) => (await client.api('GET', `/videos/${id}`)).body as Video),
        ),
      (videos) => videos.every(isFinished),
      250,
    );

    expect(
      done.map((video) => `${video.status}/${video.error?.code ?? '-'}/${video.deployment}`),
    ).toEqual(Array(JOBS).fill('COMPLETED/-/healthy'));
    const healthy = simulator('healthy').stats;
    const broken = simulator('broken').stats;
    // Created once each, all on the healthy one, never more than its limit at once (no 429).
    expect(healthy.creates).toBe(JOBS);
    expect(healthy.maxConcurrentJobs).toBeLessThanOrEqual(2);
    expect(healthy.rateLimited).toBe(0);
    expect(broken.creates).toBe(0);
    // Taken out after a few refusals: its breaker opened.
    // (A 503 is answered before the simulator counts a create request: its 503s are the creates
    // sent there.)
    expect(broken.serverErrors).toBeGreaterThanOrEqual(FAILURES_TO_OPEN);
    const breaker = await health('broken');
    expect(breaker?.openedAt).toEqual(expect.any(String));

    // Probed later: once its cool-down has passed, one job is sent there to try it, refused,
    // and completes on the healthy one all the same.
    await until(
      () => health('broken'),
      (record) => Date.parse(String(record?.openUntil)) <= stack.clock.nowMs(),
    );
    const before = simulator('broken').stats.serverErrors;
    const probe = await client.submit({ prompt: 'A lighthouse, the probe', seconds: '4' });
    const probed = await until(
      async () => (await client.api('GET', `/videos/${probe}`)).body as Video,
      isFinished,
    );
    expect(probed).toMatchObject({ status: 'COMPLETED', deployment: 'healthy' });
    expect(simulator('broken').stats.serverErrors).toBe(before + 1);
  }, 180_000);

  it('with dropped create responses on one deployment, creates no job on two deployments: one provider job per job', async () => {
    const DROPPED = 3;
    // Both deployments healthy: "broken" answers again, and its breaker (open after the first
    // case) is closed by the probe that finds it so.
    simulator('broken').configure({ unavailable: false });
    await until(
      () => health('broken'),
      (record) =>
        stateAt(record as DeploymentHealthRecord | undefined, new Date(stack.clock.nowMs())) !==
        'open',
    );
    const ids = ['healthy', 'broken'] as const;
    const createsBefore = Object.fromEntries(ids.map((id) => [id, simulator(id).stats.creates]));
    const droppedBefore = simulator('healthy').stats.droppedCreateResponses;
    // The next creates sent to "healthy" start their job there, then lose the answer: each such
    // job is reconciled there, never failed over to "broken".
    simulator('healthy').configure({ dropNextCreateResponses: DROPPED });

    const jobIds: string[] = [];
    for (let i = 0; i < JOBS; i += 1) {
      jobIds.push(
        await client.submit({ prompt: `A harbour at dusk, clip ${i + 1}`, seconds: '4' }),
      );
    }
    const done = await until(
      () =>
        Promise.all(
          jobIds.map(async (id) => (await client.api('GET', `/videos/${id}`)).body as Video),
        ),
      (videos) => videos.every(isFinished),
      250,
    );
    expect(done.map((video) => `${video.status}/${video.error?.code ?? '-'}`)).toEqual(
      Array(JOBS).fill('COMPLETED/-'),
    );
    // The fault happened: every dropped answer was a create of this case's jobs.
    expect(simulator('healthy').stats.droppedCreateResponses - droppedBefore).toBe(DROPPED);

    // As many provider jobs as jobs over the pool: no job created twice, nor on both.
    const createdHere = (id: (typeof ids)[number]) =>
      simulator(id).stats.creates - (createsBefore[id] ?? 0);
    expect(createdHere('healthy') + createdHere('broken')).toBe(JOBS);
    // Both deployments took jobs: an unanswered create could have been sent to the other one.
    expect(Math.min(createdHere('healthy'), createdHere('broken'))).toBeGreaterThan(0);
    const keyHomes = new Map<string, string[]>();
    for (const id of ids) {
      for (const video of simulator(id).stats.videos) {
        const key = String(video.idempotencyKey);
        keyHomes.set(key, [...(keyHomes.get(key) ?? []), `${id}/${video.id}`]);
      }
    }
    // Each job's key was sent with exactly one create, and its job holds that video on the
    // deployment it records (poll and download went there: it completed).
    const holdings = await Promise.all(
      jobIds.map(async (jobId, index) => {
        const record = await client.jobRecord(jobId);
        return {
          created: keyHomes.get(providerIdempotencyKey(jobId)),
          held: `${record?.deployment}/${record?.providerJobId}`,
          shown: done[index]?.deployment,
        };
      }),
    );
    expect(holdings).toEqual(
      holdings.map(({ held }) => ({ created: [held], held, shown: held.split('/')[0] })),
    );
    // The repaired deployment's probe succeeded: closed, in use again.
    expect((await health('broken'))?.state).toBe('closed');
  }, 180_000);
});
