import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../../functions/shared/jobs/job.ts';
import { utcDay } from '../../functions/shared/limits/limits-table.ts';
import { parseProviderConfig } from '../../functions/shared/provider/provider-config.ts';
import { ProviderTransientError } from '../../functions/shared/provider/provider-errors.ts';
import { VideoProvider } from '../../functions/shared/provider/video-provider.ts';
import {
  InvalidContentError,
  StorageError,
} from '../../functions/shared/storage/storage-errors.ts';
import {
  DEFAULT_PART_SIZE_BYTES,
  VideoStorage,
} from '../../functions/shared/storage/video-storage.ts';
import { createDownloadVideoHandler } from '../../functions/tasks/download-video.ts';
import { planContent } from '../../infra/local/simulator/content.ts';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';
import { InMemoryJobStore } from '../support/in-memory-job-store.ts';
import { inMemoryTaskLimits } from '../support/in-memory-limits.ts';
import { aJob } from '../support/job-fixtures.ts';
import {
  type S3LocalProcess,
  s3rverClient,
  startS3LocalProcess,
} from '../support/s3-local-process.ts';

// The download step against real parts: the provider simulator serving a padded MP4 and s3rver
// storing it, with the production storage code in between.

const MiB = 1024 * 1024;
/** What streaming may hold at once: a few 8 MiB multipart parts and their buffers. */
const MEMORY_BOUND_BYTES = 50 * MiB;
// Two and a half times the bound: holding the video whole could not hide under it.
const VIDEO_BYTES = 128 * MiB;
const SMALL_VIDEO_BYTES = 10 * MiB;
const API_KEY = 'sk-sim-download-integration-0123456789';
const bucket = 'videos';

// s3rver runs in a child process so the memory measured here is the download's alone.
let s3Local: S3LocalProcess;
let sim: RunningSimulator;
let s3: S3Client;
let provider: VideoProvider;
let nowMs = Date.parse('2026-03-01T10:00:00.000Z');
const clock = () => new Date(nowMs);
let store: InMemoryJobStore;
let jobCounter = 0;

beforeAll(async () => {
  s3Local = await startS3LocalProcess([bucket]);
  sim = await startSimulator({ apiKey: API_KEY, seed: 11, now: () => nowMs });
  s3 = s3rverClient(s3Local.endpoint);
  provider = new VideoProvider(
    parseProviderConfig({ baseUrl: sim.baseURL, apiKey: API_KEY, timeoutMs: 10_000 }),
  );
});

afterAll(async () => {
  s3?.destroy();
  await sim?.close();
  await s3Local?.stop();
});

beforeEach(() => {
  store = new InMemoryJobStore({ now: clock });
  sim.configure({
    contentSizeBytes: VIDEO_BYTES,
    truncateContentBytes: null,
    dropConnectionAfterBytes: null,
  });
});

/** A job whose provider job has finished rendering. */
async function finishedJob(): Promise<Job> {
  jobCounter += 1;
  const now = clock().toISOString();
  const base = aJob({ jobId: `job_download_${jobCounter}`, createdAt: now, updatedAt: now });
  const video = await provider.create({
    prompt: base.prompt,
    model: base.model,
    size: base.size,
    seconds: base.seconds,
    idempotencyKey: `key-${base.jobId}`,
  });
  nowMs += 300_000;
  const job: Job = {
    ...base,
    status: 'IN_PROGRESS',
    createAttemptedAt: now,
    providerJobId: video.id,
    providerStatus: 'completed',
    progress: 100,
  };
  store.seed(job);
  return job;
}

function handler() {
  return createDownloadVideoHandler({
    store,
    provider: async () => provider,
    storage: new VideoStorage({ s3, bucket }),
    clock,
    limits: inMemoryTaskLimits(),
  });
}

async function keysUnder(jobId: string): Promise<string[]> {
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: `videos/${jobId}/` }),
  );
  return (listed.Contents ?? []).map((object) => object.Key ?? '');
}

async function sha256OfObject(key: string): Promise<{ sha256: string; bytes: number }> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of object.Body as Readable) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** What the simulator serves for aJob()'s video padded to `size`, hashed without a download. */
function servedSha256(size: number): string {
  const hash = createHash('sha256');
  for (const chunk of planContent(aJob(), 'video', size).chunks()) hash.update(chunk);
  return hash.digest('hex');
}

// A collector to call between samples, so the peak reflects live memory rather than garbage
// the collector has not got round to (8 MiB part buffers are short-lived).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Live JS memory: heap plus Buffers. RSS would also count pages the allocator keeps. */
function liveBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Samples live memory while `work` runs; returns the peak growth over the start. */
async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  collectGarbage();
  const baseline = liveBytes();
  let peak = baseline;
  const sampler = setInterval(() => {
    // Collecting before every sample makes the peak live memory, not uncollected garbage. Every
    // 100 ms: a buffered video would be held for the whole upload, seconds, and a full collection
    // of this worker's heap is not free (at every 25 ms they were most of the test's CPU time).
    collectGarbage();
    peak = Math.max(peak, liveBytes());
  }, 100);

  try {
    const result = await work();
    peak = Math.max(peak, liveBytes());
    return { result, growth: peak - baseline };
  } finally {
    clearInterval(sampler);
  }
}

// A 128 MiB round trip through two local servers: slow on a loaded two-core machine.
describe('download-video with the simulator and s3rver', { timeout: 120_000 }, () => {
  it('lands a 128 MiB video byte for byte, with memory that does not grow with size', async () => {
    // A first download loads and warms every code path; a small one then gives the baseline.
    sim.configure({ contentSizeBytes: 8 * MiB });
    await handler()({ jobId: (await finishedJob()).jobId });
    sim.configure({ contentSizeBytes: SMALL_VIDEO_BYTES });
    const smallJob = await finishedJob();
    const small = await peakRssGrowth(() => handler()({ jobId: smallJob.jobId }));
    sim.configure({ contentSizeBytes: VIDEO_BYTES });
    const job = await finishedJob();
    const expectedSha = servedSha256(VIDEO_BYTES);

    const { result, growth } = await peakRssGrowth(() => handler()({ jobId: job.jobId }));

    const stored = await sha256OfObject(result.key);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: result.key }));
    console.info(
      `download-video peak live-memory growth: ${(small.growth / MiB).toFixed(1)} MiB for ${SMALL_VIDEO_BYTES / MiB} MiB, ${(growth / MiB).toFixed(1)} MiB for ${VIDEO_BYTES / MiB} MiB`,
    );
    expect(result).toEqual({
      bucket,
      key: `videos/${job.jobId}/video.mp4`,
      bytes: VIDEO_BYTES,
      sha256: expectedSha,
    });
    expect(stored).toEqual({ sha256: expectedSha, bytes: VIDEO_BYTES });
    expect(head.ContentType).toBe('video/mp4');
    expect(head.Metadata).toEqual({ 'job-id': job.jobId });
    expect((await store.get(job.jobId))?.status).toBe('COMPLETED');
    expect(await keysUnder(job.jobId)).toEqual(
      expect.arrayContaining([
        `videos/${job.jobId}/video.mp4`,
        `videos/${job.jobId}/thumbnail.webp`,
        `videos/${job.jobId}/spritesheet.jpg`,
      ]),
    );
    // Streaming holds a few 8 MiB parts whatever the size;
    // buffering the video would hold all 128 MiB of it at once.
    expect(growth).toBeLessThan(MEMORY_BOUND_BYTES);
  });

  it('leaves no object behind when the provider closes the body early', async () => {
    const job = await finishedJob();
    sim.configure({ truncateContentBytes: 20 * MiB });

    const result = handler()({ jobId: job.jobId });

    await expect(result).rejects.toThrow(ProviderTransientError);
    expect(await keysUnder(job.jobId)).toEqual([]);
    expect((await store.get(job.jobId))?.status).toBe('IN_PROGRESS');
  });

  it('leaves no object behind when the provider resets the connection mid-body', async () => {
    const job = await finishedJob();
    sim.configure({ dropConnectionAfterBytes: 12 * MiB });

    const result = handler()({ jobId: job.jobId });

    await expect(result).rejects.toThrow(ProviderTransientError);
    expect(await keysUnder(job.jobId)).toEqual([]);
  });

  it('keeps the slot and reservation through a part S3 refuses mid-upload, then stores and spends on the retry', async () => {
    sim.configure({ contentSizeBytes: 3 * DEFAULT_PART_SIZE_BYTES + MiB });
    const job = await finishedJob();
    const day = utcDay(new Date(job.createdAt));
    const limits = inMemoryTaskLimits();
    await limits.semaphore.acquire(job.jobId);
    await limits.budget.reserve(job.jobId, job.estimatedCostUsd, day);
    // The S3 client of the first attempt refuses the second part once, after the first was sent.
    const sent: string[] = [];
    const faulty = s3rverClient(s3Local.endpoint);
    faulty.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { PartNumber?: number };
        sent.push(context.commandName ?? '?');
        if (context.commandName === 'UploadPartCommand' && input.PartNumber === 2) {
          throw Object.assign(new Error('We encountered an internal error.'), {
            name: 'InternalError',
            $metadata: { httpStatusCode: 500 },
          });
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    const attempt = (storage: VideoStorage) =>
      createDownloadVideoHandler({
        store,
        provider: async () => provider,
        storage,
        clock,
        limits,
      })({ jobId: job.jobId });

    const failed = attempt(new VideoStorage({ s3: faulty, bucket }));

    await expect(failed).rejects.toThrow(StorageError);
    // Nothing half-written stays, the upload was aborted, and the job keeps what it holds.
    expect(await keysUnder(job.jobId)).toEqual([]);
    expect(sent).toContain('AbortMultipartUploadCommand');
    expect(sent).not.toContain('CompleteMultipartUploadCommand');
    expect((await store.get(job.jobId))?.status).toBe('IN_PROGRESS');
    expect(await limits.semaphore.holders()).toEqual([job.jobId]);
    expect(await limits.budget.usage(day)).toMatchObject({
      reservedUsd: job.estimatedCostUsd,
      spentUsd: 0,
    });
    faulty.destroy();

    const result = await attempt(new VideoStorage({ s3, bucket }));

    expect(await sha256OfObject(result.key)).toEqual({
      sha256: servedSha256(3 * DEFAULT_PART_SIZE_BYTES + MiB),
      bytes: 3 * DEFAULT_PART_SIZE_BYTES + MiB,
    });
    expect((await store.get(job.jobId))?.status).toBe('COMPLETED');
    expect(await limits.semaphore.holders()).toEqual([]);
    expect(await limits.budget.usage(day)).toMatchObject({
      reservedUsd: 0,
      spentUsd: job.estimatedCostUsd,
    });
  });

  it('refuses a payload that is not an MP4 and stores nothing', async () => {
    const storage = new VideoStorage({ s3, bucket });
    const page = Buffer.from('<!doctype html><title>Gateway error</title>'.repeat(200_000));

    const result = storage.putVideo('job_not_mp4', {
      stream: Readable.from([page], { objectMode: false }),
      contentLength: page.length,
      contentType: 'text/html',
    });

    await expect(result).rejects.toThrow(InvalidContentError);
    expect(await keysUnder('job_not_mp4')).toEqual([]);
  });

  it('adopts the whole video an earlier execution stored once the job resumes, though the content expired', async () => {
    sim.configure({ contentSizeBytes: SMALL_VIDEO_BYTES });
    const job = await finishedJob();
    // The execution that died had stored the video, not recorded it.
    const stored = await new VideoStorage({ s3, bucket }).putVideo(
      job.jobId,
      await provider.downloadContent(job.providerJobId ?? '', 'video'),
    );
    store.seed({ ...job, resumeCount: 1 });
    nowMs += 24 * 3600 * 1000;
    const requestsBefore = sim.stats.requests;

    const result = await handler()({ jobId: job.jobId });

    expect(result).toEqual({
      bucket,
      key: `videos/${job.jobId}/video.mp4`,
      bytes: stored.bytes,
      sha256: stored.sha256,
    });
    expect(await store.get(job.jobId)).toMatchObject({
      status: 'COMPLETED',
      result: { bytes: stored.bytes, sha256: stored.sha256 },
    });
    // No video download: only the preview attempts reached the provider (and found it expired).
    expect(sim.stats.requests - requestsBefore).toBe(2);
  });

  it('downloads again for a resumed job when no whole video is stored', async () => {
    sim.configure({ contentSizeBytes: SMALL_VIDEO_BYTES });
    const job = await finishedJob();
    store.seed({ ...job, resumeCount: 1 });

    const result = await handler()({ jobId: job.jobId });

    expect(result.bytes).toBe(SMALL_VIDEO_BYTES);
    expect(await sha256OfObject(result.key)).toEqual({
      sha256: result.sha256,
      bytes: SMALL_VIDEO_BYTES,
    });
  });
});
