import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobAlreadyTerminalError } from '../../../functions/shared/jobs/job-errors.ts';
import { ProviderNotFoundError } from '../../../functions/shared/provider/provider-errors.ts';
import { createPollProviderJobHandler } from '../../../functions/tasks/poll-provider-job.ts';
import { ProviderJobMissingError } from '../../../functions/tasks/task-errors.ts';
import { inMemoryTaskLimits } from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { startTaskWorld, type TaskWorld } from './task-world.ts';

let world: TaskWorld;

beforeEach(async () => {
  world = await startTaskWorld();
});

afterEach(async () => {
  await world.close();
});

function handler() {
  return createPollProviderJobHandler({
    store: world.store,
    provider: async () => world.provider,
    clock: world.clock,
    limits: inMemoryTaskLimits(),
  });
}

describe('poll-provider-job', () => {
  it('reports and records the provider progress and counts the poll', async () => {
    const job = await world.seedJobWithProviderJob();
    world.advance(30);

    const state = await handler()({ jobId: job.jobId, pollCount: 3 });

    expect(state.status).toBe('in_progress');
    expect(state.progress).toBeGreaterThan(0);
    expect(state.pollCount).toBe(4);
    expect(state.error).toBeNull();
    expect(await world.store.get(job.jobId)).toMatchObject({
      providerStatus: 'in_progress',
      progress: state.progress,
      pollCount: 4,
    });
  });

  it('counts from the stored poll count when the input carries none', async () => {
    const job = await world.seedJobWithProviderJob({ pollCount: 7 });
    world.advance(10);

    const state = await handler()({ jobId: job.jobId });

    expect(state.pollCount).toBe(8);
  });

  it('waits less as the job nears completion', async () => {
    const job = await world.seedJobWithProviderJob();
    world.advance(20);
    const early = await handler()({ jobId: job.jobId, pollCount: 0 });
    world.advance(35);

    const late = await handler()({ jobId: job.jobId, pollCount: early.pollCount });

    expect(late.progress).toBeGreaterThan(early.progress);
    expect(late.waitSeconds).toBeLessThan(early.waitSeconds);
    expect(Number.isInteger(late.waitSeconds)).toBe(true);
  });

  it('reports completed once the provider has finished', async () => {
    const job = await world.seedJobWithProviderJob();
    world.advance(300);

    const state = await handler()({ jobId: job.jobId, pollCount: 5 });

    expect(state).toMatchObject({ status: 'completed', progress: 100, pollCount: 6, error: null });
  });

  it('hands the provider failure reason to the state machine', async () => {
    const job = await world.seedJobWithProviderJob({
      prompt: 'a scene that will [render-fail] halfway',
    });
    world.advance(300);

    const state = await handler()({ jobId: job.jobId, pollCount: 2 });

    expect(state.status).toBe('failed');
    expect(state.error).toEqual({
      code: 'video_generation_failed',
      message: expect.stringContaining('failed'),
    });
    expect((await world.store.get(job.jobId))?.providerStatus).toBe('failed');
  });

  it('lets a provider 404 surface as ProviderNotFoundError', async () => {
    const now = world.clock().toISOString();
    const job = aJob({
      createdAt: now,
      updatedAt: now,
      status: 'IN_PROGRESS',
      providerJobId: 'video_unknown000000000000000000',
    });
    world.store.seed(job);

    const result = handler()({ jobId: job.jobId });

    await expect(result).rejects.toThrow(ProviderNotFoundError);
  });

  it('fails clearly when the job never got a provider job', async () => {
    const job = aJob({ status: 'IN_PROGRESS' });
    world.store.seed(job);

    const result = handler()({ jobId: job.jobId });

    await expect(result).rejects.toThrow(ProviderJobMissingError);
  });

  it('answers completed for a COMPLETED job without calling the provider', async () => {
    world.store.seed(aJob({ status: 'COMPLETED', providerJobId: 'video_done', progress: 100 }));

    const state = await handler()({ jobId: aJob().jobId, pollCount: 9 });

    expect(state).toMatchObject({ status: 'completed', pollCount: 10 });
    expect(world.sim.stats.requests).toBe(0);
  });

  it('refuses to poll for a FAILED job', async () => {
    world.store.seed(aJob({ status: 'FAILED', providerJobId: 'video_gone' }));

    const result = handler()({ jobId: aJob().jobId });

    await expect(result).rejects.toThrow(JobAlreadyTerminalError);
  });

  it('rejects a negative poll count', async () => {
    const result = handler()({ jobId: 'job_1', pollCount: -1 });

    await expect(result).rejects.toMatchObject({ name: 'ValidationError', field: 'pollCount' });
  });
});
