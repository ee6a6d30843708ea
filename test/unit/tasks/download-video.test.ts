import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../../../functions/shared/jobs/job.ts';
import {
  ProviderContentExpiredError,
  ProviderTransientError,
} from '../../../functions/shared/provider/provider-errors.ts';
import { VideoStorage } from '../../../functions/shared/storage/video-storage.ts';
import { createDownloadVideoHandler } from '../../../functions/tasks/download-video.ts';
import type { TaskProvider } from '../../../functions/tasks/task-runtime.ts';
import { simulatedContent, type Variant } from '../../../infra/local/simulator/content.ts';
import { inMemoryTaskLimits } from '../../support/in-memory-limits.ts';
import { aJob } from '../../support/job-fixtures.ts';
import { startTaskWorld, type TaskWorld } from './task-world.ts';

const bucket = 'videos-bucket';
const s3 = new S3Client({
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
const s3Mock = mockClient(s3);
// What the simulator serves for aJob()'s 720x1280 4 s video.
const media = (variant: Variant) => simulatedContent(variant, '720x1280', '4');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let world: TaskWorld;
let sampleMp4: Buffer;

beforeEach(async () => {
  world = await startTaskWorld();
  sampleMp4 = media('video');
  s3Mock.reset();
  s3Mock.on(PutObjectCommand).resolves({});
});

/** A job whose provider job the poll step has seen completed. */
const completedProviderJob = (overrides: Partial<Job> = {}) =>
  world.seedJobWithProviderJob(overrides, 'completed');

afterEach(async () => {
  s3Mock.reset();
  await world.close();
});

function handler(
  storage: Pick<VideoStorage, 'putVideo' | 'putImage' | 'findVideo'> = videoStorage(),
  provider: TaskProvider = world.provider,
) {
  return createDownloadVideoHandler({
    store: world.store,
    provider: async () => provider,
    storage,
    clock: world.clock,
    limits: inMemoryTaskLimits(),
  });
}

function videoStorage(): VideoStorage {
  return new VideoStorage({ s3, bucket });
}

describe('download-video', () => {
  it('stores the video served by the provider and records the job COMPLETED', async () => {
    const job = await completedProviderJob();
    world.advance(300);

    const result = await handler()({ jobId: job.jobId });

    expect(result).toEqual({
      bucket,
      key: `videos/${job.jobId}/video.mp4`,
      bytes: sampleMp4.length,
      sha256: sha256(sampleMp4),
    });
    const after = await world.store.get(job.jobId);
    expect(after).toMatchObject({
      status: 'COMPLETED',
      completedAt: world.clock().toISOString(),
      result: {
        ...result,
        contentType: 'video/mp4',
        thumbnailKey: `videos/${job.jobId}/thumbnail.webp`,
        spritesheetKey: `videos/${job.jobId}/spritesheet.jpg`,
      },
    });
  });

  it('deletes the provider copy once the video is stored, when the provider keeps one (Bedrock)', async () => {
    const job = await completedProviderJob();
    world.advance(300);
    const discarded: string[] = [];
    const movingProvider: TaskProvider = {
      create: (request) => world.provider.create(request),
      remix: (id, request) => world.provider.remix(id, request),
      retrieve: (id) => world.provider.retrieve(id),
      findCreatedJob: (criteria) => world.provider.findCreatedJob(criteria),
      downloadContent: (id, variant) => world.provider.downloadContent(id, variant),
      delete: (id) => world.provider.delete(id),
      discardContent: async (id) => {
        discarded.push(id);
        throw new Error('S3 refused the delete');
      },
    };

    const result = await handler(videoStorage(), movingProvider)({ jobId: job.jobId });

    expect(discarded).toEqual([job.providerJobId]);
    // A copy left behind expires by the bucket's rule: the job is complete either way.
    expect(result.key).toBe(`videos/${job.jobId}/video.mp4`);
    expect((await world.store.get(job.jobId))?.status).toBe('COMPLETED');
  });

  it('stores the thumbnail and spritesheet with their image types', async () => {
    const job = await completedProviderJob();
    world.advance(300);
    const thumbnail = media('thumbnail');

    await handler()({ jobId: job.jobId });

    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Key: `videos/${job.jobId}/thumbnail.webp`,
      ContentType: 'image/webp',
      Metadata: { 'job-id': job.jobId, sha256: sha256(thumbnail) },
    });
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Key: `videos/${job.jobId}/spritesheet.jpg`,
      ContentType: 'image/jpeg',
    });
  });

  it('completes the job without previews when storing them fails', async () => {
    const job = await completedProviderJob();
    world.advance(300);
    const real = videoStorage();
    const noPreviews: Pick<VideoStorage, 'putVideo' | 'putImage' | 'findVideo'> = {
      putVideo: (jobId, content) => real.putVideo(jobId, content),
      findVideo: (jobId) => real.findVideo(jobId),
      putImage: async () => {
        throw new Error('preview storage unavailable');
      },
    };

    await handler(noPreviews)({ jobId: job.jobId });

    const after = await world.store.get(job.jobId);
    expect(after?.status).toBe('COMPLETED');
    expect(after?.result?.thumbnailKey).toBeUndefined();
    expect(after?.result?.spritesheetKey).toBeUndefined();
  });

  it('refuses expired content before downloading anything', async () => {
    const job = await completedProviderJob();
    world.advance(300 + 3600);

    const result = handler()({ jobId: job.jobId });

    await expect(result).rejects.toThrow(ProviderContentExpiredError);
    expect(s3Mock).not.toHaveReceivedAnyCommand();
    expect((await world.store.get(job.jobId))?.status).toBe('IN_PROGRESS');
  });

  it('fails a truncated download as transient, leaving no object and the job open', async () => {
    const job = await completedProviderJob();
    world.advance(300);
    world.sim.configure({ truncateContentBytes: 1000 });

    const result = handler()({ jobId: job.jobId });

    await expect(result).rejects.toThrow(ProviderTransientError);
    expect(s3Mock).not.toHaveReceivedCommandWith(PutObjectCommand, {
      Key: `videos/${job.jobId}/video.mp4`,
    });
    expect((await world.store.get(job.jobId))?.status).toBe('IN_PROGRESS');
  });

  it('retries later when the provider does not report the video completed yet', async () => {
    const job = await completedProviderJob();
    world.advance(10);

    const result = handler()({ jobId: job.jobId });

    await expect(result).rejects.toMatchObject({
      name: 'ProviderTransientError',
      code: 'video_not_ready',
    });
  });

  it('answers with the recorded result for a COMPLETED job, without downloading again', async () => {
    const recorded = {
      bucket,
      key: 'videos/job_done/video.mp4',
      bytes: 42,
      sha256: 'b'.repeat(64),
      contentType: 'video/mp4',
    };
    world.store.seed(aJob({ jobId: 'job_done', status: 'COMPLETED', result: recorded }));

    const result = await handler()({ jobId: 'job_done' });

    expect(result).toEqual({
      bucket,
      key: recorded.key,
      bytes: 42,
      sha256: recorded.sha256,
    });
    expect(world.sim.stats.requests).toBe(0);
    expect(s3Mock).not.toHaveReceivedAnyCommand();
  });
});
