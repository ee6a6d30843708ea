import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import { tracer } from '../../../functions/shared/observability/observability.ts';
import { withObservability } from '../../../functions/shared/observability/with-observability.ts';
import { ProviderRejectedError } from '../../../functions/shared/provider/provider-errors.ts';
import { VideoStorage } from '../../../functions/shared/storage/video-storage.ts';
import { createAdmitJobHandler } from '../../../functions/tasks/admit-job.ts';
import { createCreateProviderJobHandler } from '../../../functions/tasks/create-provider-job.ts';
import { createDownloadVideoHandler } from '../../../functions/tasks/download-video.ts';
import { createPollProviderJobHandler } from '../../../functions/tasks/poll-provider-job.ts';
import { createRecordFailureHandler } from '../../../functions/tasks/record-failure.ts';
import {
  InMemoryConcurrencySemaphore,
  InMemoryRequestRateLimiter,
  InMemorySpendingBudget,
  inMemoryTaskLimits,
} from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingExecutions } from '../../support/recording-executions.ts';
import { startTaskWorld, type TaskWorld } from '../tasks/task-world.ts';
import { capturedMetrics } from './emf-capture.ts';

const s3 = new S3Client({
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
const s3Mock = mockClient(s3);

let world: TaskWorld;
let emf: ReturnType<typeof capturedMetrics>;

beforeEach(async () => {
  world = await startTaskWorld();
  emf = capturedMetrics();
});

afterEach(async () => {
  vi.restoreAllMocks();
  s3Mock.reset();
  await world.close();
});

/** The published metrics as `{ name, value, dimensions }`. */
const published = () =>
  emf.points().map(({ name, value, dimensions }) => ({ name, value, dimensions }));

function seedJob(overrides: Partial<Job> = {}): Job {
  const now = world.clock().toISOString();
  const job = aJob({ createdAt: now, updatedAt: now, ...overrides });
  world.store.seed(job);
  return job;
}

function createStep(limits = inMemoryTaskLimits()) {
  return withObservability(
    'create-provider-job',
    createCreateProviderJobHandler({
      store: world.store,
      provider: async () => world.provider,
      clock: world.clock,
      limits,
    }),
    emf.tools,
  );
}

describe('create-provider-job metrics', () => {
  it('counts the provider job it creates', async () => {
    const job = seedJob();

    await createStep()({ jobId: job.jobId });

    expect(published()).toEqual([{ name: 'ProviderJobsCreated', value: 1, dimensions: {} }]);
  });

  it('counts a provider error by its name, and nothing as created', async () => {
    const job = seedJob({ prompt: 'A cat [moderation-block] on a roof' });

    await expect(createStep()({ jobId: job.jobId })).rejects.toBeInstanceOf(ProviderRejectedError);

    expect(published()).toEqual([
      { name: 'ProviderErrors', value: 1, dimensions: { error: 'ProviderRejectedError' } },
    ]);
  });

  it('counts a wait for the request allowance', async () => {
    const job = seedJob();

    const state = await createStep(
      inMemoryTaskLimits({ rateLimiter: new InMemoryRequestRateLimiter(0) }),
    )({ jobId: job.jobId });

    expect(state.status).toBe('waiting_for_rate_limit');
    expect(published()).toEqual([{ name: 'RateLimitWaits', value: 1, dimensions: {} }]);
  });
});

describe('admit-job metrics', () => {
  function admitStep(overrides: Parameters<typeof inMemoryTaskLimits>[0] = {}) {
    const limits = inMemoryTaskLimits({ store: world.store, clock: world.clock, ...overrides });
    return withObservability(
      'admit-job',
      createAdmitJobHandler({ store: world.store, limits }),
      emf.tools,
    );
  }

  it('counts nothing for a job admitted', async () => {
    const job = seedJob();

    const state = await admitStep()({ jobId: job.jobId });

    expect(state.admission).toBe('admitted');
    expect(published()).toEqual([]);
  });

  it('counts a job parked for a concurrency slot, with the reason', async () => {
    const job = seedJob();

    const state = await admitStep({ semaphore: new InMemoryConcurrencySemaphore(0) })({
      jobId: job.jobId,
    });

    expect(state.admission).toBe('parked');
    expect(published()).toEqual([
      { name: 'JobsDeferred', value: 1, dimensions: { reason: 'capacity' } },
    ]);
  });

  it('counts a job deferred by the daily budget, with the reason', async () => {
    const job = seedJob({ estimatedCostUsd: 0.4 });
    const budget = new InMemorySpendingBudget(1);
    await budget.reserve('job_earlier', 0.8, world.clock().toISOString().slice(0, 10));

    const state = await admitStep({ budget })({ jobId: job.jobId });

    expect(state.admission).toBe('deferred');
    expect(published()).toEqual([
      { name: 'JobsDeferred', value: 1, dimensions: { reason: 'budget' } },
    ]);
  });

  it('counts a job whose start timeout passed', async () => {
    const job = seedJob({
      createdAt: new Date(world.clock().getTime() - 120_000).toISOString(),
      startTimeoutSeconds: 60,
    });

    const state = await admitStep()({ jobId: job.jobId });

    expect(state.admission).toBe('timed_out');
    expect(published()).toEqual([{ name: 'JobsTimedOut', value: 1, dimensions: {} }]);
  });
});

describe('poll-provider-job metrics', () => {
  it('counts a poll skipped for the request allowance', async () => {
    const job = seedJob({
      status: 'IN_PROGRESS',
      providerJobId: 'video_1',
      providerStatus: 'queued',
    });
    const poll = withObservability(
      'poll-provider-job',
      createPollProviderJobHandler({
        store: world.store,
        provider: async () => world.provider,
        clock: world.clock,
        limits: inMemoryTaskLimits({ rateLimiter: new InMemoryRequestRateLimiter(0) }),
      }),
      emf.tools,
    );

    await poll({ jobId: job.jobId });

    expect(published()).toEqual([{ name: 'RateLimitWaits', value: 1, dimensions: {} }]);
  });
});

describe('download-video metrics', () => {
  const bucket = 'videos-bucket';

  beforeEach(async () => {
    s3Mock.on(PutObjectCommand).resolves({});
  });

  /** A job submitted 60 s before its provider job was created, now. */
  /** Submitted a minute ago; its provider job was created now and the poll saw it completed. */
  function jobWithProviderJob(): Promise<Job> {
    const createdAt = new Date(world.clock().getTime() - 60_000).toISOString();
    return world.seedJobWithProviderJob({ createdAt, updatedAt: createdAt }, 'completed');
  }

  function downloadStep() {
    return withObservability(
      'download-video',
      createDownloadVideoHandler({
        store: world.store,
        provider: async () => world.provider,
        storage: new VideoStorage({ s3, bucket }),
        clock: world.clock,
        limits: inMemoryTaskLimits(),
      }),
      emf.tools,
    );
  }

  it('counts the completed job, the bytes stored, and how long the job and the generation took', async () => {
    const job = await jobWithProviderJob();
    world.advance(300);

    const result = await downloadStep()({ jobId: job.jobId });

    expect(emf.points()).toEqual([
      {
        namespace: 'SoraPipeline',
        name: 'JobsCompleted',
        unit: 'Count',
        value: 1,
        dimensions: { source: job.source },
      },
      {
        namespace: 'SoraPipeline',
        name: 'VideoBytesStored',
        unit: 'Bytes',
        value: result.bytes,
        dimensions: {},
      },
      {
        namespace: 'SoraPipeline',
        name: 'JobDuration',
        unit: 'Seconds',
        value: 360,
        dimensions: {},
      },
      {
        namespace: 'SoraPipeline',
        name: 'GenerationDuration',
        unit: 'Seconds',
        value: 300,
        dimensions: {},
      },
      // The total over sources, for the failure-rate alarm.
      { namespace: 'SoraPipeline', name: 'JobsCompleted', unit: 'Count', value: 1, dimensions: {} },
    ]);
  });

  it('does not count a job again when the step is re-driven after completion', async () => {
    const job = await jobWithProviderJob();
    world.advance(300);
    const download = downloadStep();
    await download({ jobId: job.jobId });
    const afterFirst = emf.points().length;

    await download({ jobId: job.jobId });

    expect(emf.points()).toHaveLength(afterFirst);
  });
});

describe('record-failure metrics', () => {
  function recordFailureStep() {
    return withObservability(
      'record-failure',
      createRecordFailureHandler({
        store: world.store,
        clock: world.clock,
        limits: inMemoryTaskLimits(),
        executionsOf: () => recordingExecutions(),
      }),
      emf.tools,
    );
  }

  const providerFailure = {
    Error: 'ProviderJobFailed',
    Cause: { code: 'moderation_blocked', message: 'Blocked after rendering started' },
  };

  it('counts the failed job by its code (and in the total), never its message', async () => {
    const job = seedJob({ status: 'IN_PROGRESS' });

    await recordFailureStep()({ jobId: job.jobId, error: providerFailure });

    expect(published()).toEqual([
      { name: 'JobsFailed', value: 1, dimensions: { code: 'moderation_blocked' } },
      { name: 'JobsFailed', value: 1, dimensions: {} },
    ]);
    expect(JSON.stringify(emf.lines())).not.toContain('Blocked after rendering');
  });

  it('counts nothing for a job that was already terminal', async () => {
    const job = seedJob({ status: 'COMPLETED' });

    await recordFailureStep()({ jobId: job.jobId, error: providerFailure });

    expect(emf.lines()).toEqual([]);
  });
});

describe('tracing of task handlers', () => {
  it('annotates the trace with the job id', async () => {
    const annotate = vi.spyOn(tracer, 'putAnnotation');
    const job = seedJob();

    await createStep()({ jobId: job.jobId });

    expect(annotate).toHaveBeenCalledWith('jobId', job.jobId);
  });
});
