import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Job } from '../../functions/shared/jobs/job.ts';
import { waitSecondsFor } from '../../functions/tasks/task-runtime.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/local-stack.ts';
import {
  toVideoObject,
  type VideoRecord,
  type VideoSnapshot,
} from '../../infra/local/simulator/video-store.ts';
import { type StackClient, stackClient } from './local-stack-client.ts';

// One clock on the local stack: at --speed 50 the pipeline, the emulated AWS services and the
// simulator all read a clock running 50 times the wall clock, so a job behaves as it would at x1
// (the same waits, the same number of polls, the same recorded durations), only 50 times faster.
// Its own file: one local stack per process.
const SPEED = 50;

let stack: LocalStack;
let client: StackClient;

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: null,
    dynamoDbEndpoint: inject('dynamoDbEndpoint'),
    speed: SPEED,
    // Same seed, same queue and render times.
    simulator: { seed: 20_260_924 },
    scheduleTimer: false,
    logLevel: process.env.E2E_LOG_LEVEL ?? 'SILENT',
  });
  client = stackClient(stack);
  // Handlers load on first use (real work, at real speed: 50 times longer on the stack's clock),
  // so the measured job runs on a warm stack, as most jobs do.
  await client.executionEnd(await client.submit({ prompt: 'Warming up', seconds: '4' }));
});

afterAll(async () => {
  await stack?.stop();
});

const ms = (iso: unknown) => Date.parse(String(iso));

/**
 * The polls the pipeline makes at x1 for this provider job: its wait policy (`waitSecondsFor`)
 * replayed against the simulator's timeline for the job, with no time lost between steps.
 */
function pollsAtRealSpeed(job: Job, video: VideoSnapshot): number {
  const record = {
    ...video,
    renderMs: video.endsAtMs - video.startsAtMs,
    outcome: 'completed',
    expiresAtMs: null,
    deletedAtMs: null,
  } as VideoRecord;
  const seen = (at: number) => toVideoObject(record, at);
  const created = video.createdAtMs;
  const iso = (at: number) => new Date(at).toISOString();
  let state: Job = {
    ...job,
    createdAt: iso(created),
    createAttemptedAt: iso(created),
    updatedAt: iso(created),
    progress: 0,
    pollCount: 0,
  };
  delete state.providerJobId;
  // The create step answers the first wait, then records the provider job.
  let at = created + 1000 * waitSecondsFor(state, { progress: 0, pollCount: 0 }, new Date(created));
  state = { ...state, providerJobId: video.id };
  for (let pollCount = 1; pollCount <= 200; pollCount += 1) {
    const { status, progress } = seen(at);
    if (status === 'completed') return pollCount;
    const wait = waitSecondsFor(state, { progress, pollCount }, new Date(at));
    state = { ...state, progress, pollCount, updatedAt: iso(at) };
    at += 1000 * wait;
  }
  throw new Error('the replay never saw the job complete');
}

describe('one clock at --speed 50', () => {
  it('records the job on the clock the simulator runs on, speed x the wall clock, with the polls of a x1 run', async () => {
    const realStart = Date.now();
    const jobId = await client.submit({ prompt: 'A kite over the dunes', seconds: '12' });
    const execution = await client.executionEnd(jobId);
    const realElapsed = Date.now() - realStart;
    const job = (await client.jobRecord(jobId)) as unknown as Job;
    const video = stack.simulator?.stats.videos.find((each) => each.id === job.providerJobId);
    if (!video) throw new Error('the simulator has no video for the job');

    expect(execution.status).toBe('SUCCEEDED');
    // The simulator's timeline is in simulated time: about two minutes of queue and render for a
    // 12 s clip, as at x1, not 1/50th of it.
    const rendering = video.endsAtMs - video.createdAtMs;
    expect(rendering).toBeGreaterThan(100_000);
    expect(rendering).toBeLessThan(160_000);
    // The job's times and the simulator's are on one clock: the create happens between submit
    // and the provider job's creation, the completion after the render ends.
    const createdAt = ms(job.createdAt);
    const completedAt = ms(job.completedAt);
    expect(createdAt).toBeLessThanOrEqual(video.createdAtMs);
    // The bounds allow for a loaded machine: each real second of handler work is 50 s here.
    expect(video.createdAtMs - createdAt).toBeLessThan(30_000);
    expect(completedAt).toBeGreaterThanOrEqual(video.endsAtMs);
    expect(completedAt - video.endsAtMs).toBeLessThan(60_000);
    // ... and that clock runs speed x the wall clock (the recorded span fits in the real one).
    const span = completedAt - createdAt;
    expect(span).toBeLessThanOrEqual(realElapsed * SPEED + 1_000);
    expect(span).toBeGreaterThan(realElapsed * SPEED * 0.5);
    // The execution's dates (DescribeExecution) are on the same clock.
    expect(execution.startDate.getTime()).toBeGreaterThanOrEqual(createdAt);
    expect(execution.stopDate?.getTime()).toBeGreaterThanOrEqual(completedAt);
    // The wait policy saw the job progress at its simulated pace, so it polled about as often as
    // at x1 (on the wall clock it would see 50 times the pace, shorten every wait to the minimum
    // and poll several times as often). A little less is expected: the handlers' own run time,
    // real work at real speed, lasts 50 times longer on the stack's clock, so each poll sees a
    // little more progress than at x1.
    const atRealSpeed = pollsAtRealSpeed(job, video);
    expect(job.pollCount).toBeLessThanOrEqual(atRealSpeed + 1);
    expect(job.pollCount).toBeGreaterThanOrEqual(atRealSpeed - 3);
  });
});
