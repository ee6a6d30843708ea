import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import {
  JobAlreadyTerminalError,
  JobNotFoundError,
  ValidationError,
} from '../../../functions/shared/jobs/job-errors.ts';
import {
  ProviderAmbiguousCreateError,
  ProviderRejectedError,
  ProviderTransientError,
} from '../../../functions/shared/provider/provider-errors.ts';
import {
  createCreateProviderJobHandler,
  isDefiniteRefusal,
  providerIdempotencyKey,
} from '../../../functions/tasks/create-provider-job.ts';
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

function seedJob(overrides: Partial<Job> = {}): Job {
  const now = world.clock().toISOString();
  const job = aJob({ createdAt: now, updatedAt: now, ...overrides });
  world.store.seed(job);
  return job;
}

function handler() {
  return createCreateProviderJobHandler({
    store: world.store,
    provider: async () => world.provider,
    clock: world.clock,
    limits: inMemoryTaskLimits({ store: world.store, clock: world.clock }),
  });
}

async function stored(jobId: string): Promise<Job> {
  const job = await world.store.get(jobId);
  if (!job) throw new Error(`job ${jobId} vanished`);
  return job;
}

describe('create-provider-job', () => {
  it('creates one provider job with an idempotency key derived from the job id and records it', async () => {
    const job = seedJob();

    const state = await handler()({ jobId: job.jobId });

    const [video] = world.sim.stats.videos;
    expect(world.sim.stats.creates).toBe(1);
    expect(video).toMatchObject({
      prompt: job.prompt,
      model: job.model,
      size: job.size,
      seconds: job.seconds,
      idempotencyKey: providerIdempotencyKey(job.jobId),
    });
    const after = await stored(job.jobId);
    expect(after).toMatchObject({
      status: 'IN_PROGRESS',
      providerJobId: video?.id,
      providerStatus: 'queued',
      createAttemptedAt: world.clock().toISOString(),
    });
    expect(state).toMatchObject({ status: 'queued', progress: 0, pollCount: 0, error: null });
  });

  it('plans the first wait from the expected generation time', async () => {
    const job = seedJob({ model: 'sora-2', seconds: '12' });
    const short = seedJob({ jobId: 'job_short', model: 'sora-2', seconds: '4' });

    const long = await handler()({ jobId: job.jobId });
    const quick = await handler()({ jobId: short.jobId });

    expect(Number.isInteger(long.waitSeconds)).toBe(true);
    expect(quick.waitSeconds).toBeGreaterThanOrEqual(2);
    expect(long.waitSeconds).toBeGreaterThan(quick.waitSeconds);
  });

  it('sends nothing when the job already has a provider job', async () => {
    const job = seedJob({
      status: 'IN_PROGRESS',
      createAttemptedAt: world.clock().toISOString(),
      providerJobId: 'video_existing',
      providerStatus: 'in_progress',
      progress: 40,
    });

    const state = await handler()({ jobId: job.jobId });

    expect(world.sim.stats.requests).toBe(0);
    expect(state).toMatchObject({ status: 'in_progress', progress: 40, pollCount: 0 });
  });

  it('adopts the provider job an earlier unanswered create started instead of paying twice', async () => {
    const job = seedJob({ status: 'IN_PROGRESS', createAttemptedAt: world.clock().toISOString() });
    world.advance(1);
    const earlier = await world.provider.create({
      prompt: job.prompt,
      model: job.model,
      size: job.size,
      seconds: job.seconds,
      idempotencyKey: providerIdempotencyKey(job.jobId),
    });
    world.advance(5);

    const state = await handler()({ jobId: job.jobId });

    expect(world.sim.stats.creates).toBe(1);
    expect((await stored(job.jobId)).providerJobId).toBe(earlier.id);
    expect(state.pollCount).toBe(0);
  });

  it('creates when an earlier attempt left no job at the provider', async () => {
    const job = seedJob({ status: 'IN_PROGRESS', createAttemptedAt: world.clock().toISOString() });

    await handler()({ jobId: job.jobId });

    expect(world.sim.stats.creates).toBe(1);
    expect((await stored(job.jobId)).providerJobId).toBe(world.sim.stats.videos[0]?.id);
  });

  it('does not adopt a provider job with a different prompt', async () => {
    const job = seedJob({ status: 'IN_PROGRESS', createAttemptedAt: world.clock().toISOString() });
    const other = await world.provider.create({
      prompt: 'something else entirely',
      model: job.model,
      size: job.size,
      seconds: job.seconds,
      idempotencyKey: 'someone-else',
    });

    await handler()({ jobId: job.jobId });

    expect(world.sim.stats.creates).toBe(2);
    expect((await stored(job.jobId)).providerJobId).not.toBe(other.id);
  });

  it('recovers from a create whose response was lost with exactly one paid job', async () => {
    const job = seedJob();
    world.sim.configure({ dropNextCreateResponses: 1 });

    const first = handler()({ jobId: job.jobId });
    await expect(first).rejects.toThrow(ProviderAmbiguousCreateError);
    const afterFirst = await stored(job.jobId);
    const retried = await handler()({ jobId: job.jobId });

    expect(afterFirst.createAttemptedAt).toBeDefined();
    expect(afterFirst.providerJobId).toBeUndefined();
    expect(world.sim.stats.creates).toBe(1);
    expect((await stored(job.jobId)).providerJobId).toBe(world.sim.stats.videos[0]?.id);
    expect(retried.status).toBe('queued');
  });

  it('takes a create refused by a provider outage (a definite refusal) back to the queue: no provider job, no failure', async () => {
    const job = seedJob();
    world.sim.configure({ failNextRequests: 1 });

    const result = await handler()({ jobId: job.jobId, stateMachineArn: 'arn:sm' });

    expect(result.status).toBe('deferred');
    expect(await stored(job.jobId)).toMatchObject({
      status: 'QUEUED',
      deferred: true,
      deferredReason: 'failover',
    });
    expect((await stored(job.jobId)).providerJobId).toBeUndefined();
  });

  it('lets a moderation refusal surface as ProviderRejectedError with the provider code', async () => {
    const job = seedJob({ prompt: 'please render [moderation-block] this' });

    const result = handler()({ jobId: job.jobId });

    await expect(result).rejects.toThrow(ProviderRejectedError);
    await expect(result).rejects.toMatchObject({ code: 'moderation_blocked' });
  });

  it('refuses to work on a FAILED job, without calling the provider', async () => {
    const job = seedJob({
      status: 'FAILED',
      error: { code: 'moderation_blocked', message: 'no', retryable: false },
    });

    const result = handler()({ jobId: job.jobId });

    await expect(result).rejects.toThrow(JobAlreadyTerminalError);
    expect(world.sim.stats.requests).toBe(0);
  });

  it('gives back the slot and reservation it took when the job is cancelled before the create', async () => {
    const job = seedJob();
    const limits = inMemoryTaskLimits();
    // Cancelled (the API's cancel settled it: nothing held yet) right after the step read it.
    const cancelFirst = async (jobId: string, at: string) => {
      await world.store.recordCancelled(jobId, at);
      return world.store.markCreateAttempt(jobId, at);
    };
    const store = new Proxy(world.store, {
      get(target, property) {
        if (property === 'markCreateAttempt') return cancelFirst;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const create = createCreateProviderJobHandler({
      store,
      provider: async () => world.provider,
      clock: world.clock,
      limits,
    });

    const result = create({ jobId: job.jobId, stateMachineArn: 'arn:machine' });

    await expect(result).rejects.toThrow(JobAlreadyTerminalError);
    expect(world.sim.stats.creates).toBe(0);
    expect(limits.semaphore.holds(job.jobId)).toBe(false);
    expect(limits.handOffs).toEqual(['arn:machine']);
    const day = world.clock().toISOString().slice(0, 10);
    expect(await limits.budget.usage(day)).toMatchObject({ reservedUsd: 0 });
  });

  it('answers completed for a COMPLETED job, without calling the provider', async () => {
    const job = seedJob({ status: 'COMPLETED', providerJobId: 'video_done', progress: 100 });

    const state = await handler()({ jobId: job.jobId });

    expect(state).toMatchObject({ status: 'completed', progress: 100 });
    expect(world.sim.stats.requests).toBe(0);
  });

  it('fails with JobNotFoundError for an unknown job', async () => {
    const result = handler()({ jobId: 'job_missing' });

    await expect(result).rejects.toThrow(JobNotFoundError);
  });

  it('rejects input without a job id, naming the field', async () => {
    const result = handler()({ id: 'job_1' });

    await expect(result).rejects.toThrow(ValidationError);
    await expect(result).rejects.toMatchObject({ field: 'jobId' });
  });
});

describe('isDefiniteRefusal: what a create may fail over on', () => {
  const transient = (status: number | undefined, code = 'server_error') =>
    new ProviderTransientError('x', { code, providerMessage: 'x', status, operation: 'create' });
  const rejected = (status: number) =>
    new ProviderRejectedError('x', {
      code: 'x',
      providerMessage: 'x',
      status,
      operation: 'create',
    });

  it('is an answered 5xx, a 408 or a connection never made, and a 401/403', () => {
    expect(isDefiniteRefusal(transient(503))).toBe(true);
    expect(isDefiniteRefusal(transient(408, 'request_timeout'))).toBe(true);
    expect(isDefiniteRefusal(transient(undefined, 'connection_refused'))).toBe(true);
    expect(isDefiniteRefusal(rejected(401))).toBe(true);
    expect(isDefiniteRefusal(rejected(403))).toBe(true);
  });

  it('is not a 409 (our create still in flight), a remix source not ready, an ambiguous create or a request refused for itself', () => {
    expect(isDefiniteRefusal(transient(409, 'conflict'))).toBe(false);
    expect(isDefiniteRefusal(transient(400, 'video_not_ready'))).toBe(false);
    expect(
      isDefiniteRefusal(
        new ProviderAmbiguousCreateError('x', {
          code: 'timeout',
          providerMessage: 'x',
          operation: 'create',
        }),
      ),
    ).toBe(false);
    expect(isDefiniteRefusal(rejected(400))).toBe(false);
  });
});
