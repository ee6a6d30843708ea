import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { logger } from '../../../functions/shared/observability/observability.ts';
import { parseProviderConfig } from '../../../functions/shared/provider/provider-config.ts';
import { VideoProvider } from '../../../functions/shared/provider/video-provider.ts';
import { VideoStorage } from '../../../functions/shared/storage/video-storage.ts';
import { createAdmitJobHandler } from '../../../functions/tasks/admit-job.ts';
import { createCreateProviderJobHandler } from '../../../functions/tasks/create-provider-job.ts';
import { createDownloadVideoHandler } from '../../../functions/tasks/download-video.ts';
import { createPollProviderJobHandler } from '../../../functions/tasks/poll-provider-job.ts';
import { createRecordFailureHandler } from '../../../functions/tasks/record-failure.ts';
import type { TaskProvider } from '../../../functions/tasks/task-runtime.ts';
import { inMemoryTaskLimits } from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { recordingExecutions } from '../../support/recording-executions.ts';
import { startTaskWorld, type TaskWorld } from '../tasks/task-world.ts';

// The task handlers log through the shared Powertools logger: its info-and-above methods are
// replaced by a recorder, so what would reach CloudWatch is searched for the prompt and the key.

const API_KEY = 'sk-log-secrecy-4f9a2c7e1b3d5f8a';
const PROMPT = 'Confidential storyboard: the Falcon-9 launch teaser for Q3';

const s3 = new S3Client({
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
const s3Mock = mockClient(s3);

let world: TaskWorld;
let logged: { level: string; args: unknown[] }[];

beforeEach(async () => {
  world = await startTaskWorld({ apiKey: API_KEY });
  logged = [];
  for (const level of ['info', 'warn', 'error', 'critical'] as const) {
    vi.spyOn(logger, level).mockImplementation((...args: unknown[]) => {
      logged.push({ level, args });
    });
  }
  s3Mock.on(PutObjectCommand).resolves({});
});

afterEach(async () => {
  vi.restoreAllMocks();
  s3Mock.reset();
  await world.close();
});

/** Everything logged at info or above, errors with their own fields, stacks and causes. */
function loggedText(): string {
  return JSON.stringify(logged, (_key, value: unknown) =>
    value instanceof Error
      ? {
          ...value,
          name: value.name,
          message: value.message,
          stack: value.stack,
          cause: value.cause,
        }
      : value,
  );
}

function providerWithKey(apiKey: string): TaskProvider {
  return new VideoProvider(
    parseProviderConfig({ baseUrl: world.sim.baseURL, apiKey, timeoutMs: 5_000, maxRetries: 0 }),
  );
}

function steps(provider: TaskProvider = providerWithKey(API_KEY)) {
  const deps = {
    store: world.store,
    provider: async () => provider,
    clock: world.clock,
    limits: inMemoryTaskLimits({ store: world.store, clock: world.clock }),
  };
  return {
    admit: createAdmitJobHandler(deps),
    create: createCreateProviderJobHandler(deps),
    poll: createPollProviderJobHandler(deps),
    download: createDownloadVideoHandler({
      ...deps,
      storage: new VideoStorage({ s3, bucket: 'b' }),
    }),
    recordFailure: createRecordFailureHandler({
      ...deps,
      executionsOf: () => recordingExecutions(),
    }),
  };
}

function seedJob(prompt = PROMPT) {
  const now = world.clock().toISOString();
  const job = aJob({ prompt, createdAt: now, updatedAt: now });
  world.store.seed(job);
  return job;
}

describe('task handler logs', () => {
  it('carry neither the prompt nor the provider key through a whole generation', async () => {
    const job = seedJob();
    const { admit, create, poll, download } = steps();

    await admit({ jobId: job.jobId });
    await create({ jobId: job.jobId });
    world.advance(600);
    const polled = await poll({ jobId: job.jobId });
    await download({ jobId: job.jobId });

    expect(polled.status).toBe('completed');
    expect(logged.length).toBeGreaterThan(3);
    expect(loggedText()).not.toContain(PROMPT);
    expect(loggedText()).not.toContain(API_KEY);
  });

  it('carry neither when the provider refuses the prompt', async () => {
    const prompt = `${PROMPT} [moderation-block]`;
    const job = seedJob(prompt);
    const { create, recordFailure } = steps();

    const failure = await create({ jobId: job.jobId }).catch((error: unknown) => error);
    await recordFailure({
      jobId: job.jobId,
      error: { Error: 'ProviderRejectedError', Cause: String(failure) },
    });

    expect(logged.map((line) => line.level)).toContain('warn');
    expect(loggedText()).toContain('moderation_blocked');
    expect(loggedText()).not.toContain(PROMPT);
    expect(loggedText()).not.toContain(API_KEY);
  });

  it('do not carry a key the provider refuses', async () => {
    const wrongKey = 'sk-wrong-key-7d1e9b3a5c2f4e6d';
    const job = seedJob();
    const { create } = steps(providerWithKey(wrongKey));

    // A 401 is this deployment's key refusing: the job goes back to the queue for another.
    await expect(create({ jobId: job.jobId })).resolves.toMatchObject({ status: 'deferred' });

    expect(loggedText()).toContain('invalid_api_key');
    expect(loggedText()).not.toContain(wrongKey);
    expect(loggedText()).not.toContain(PROMPT);
  });
});
