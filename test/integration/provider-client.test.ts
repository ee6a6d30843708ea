import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseProviderConfig } from '../../functions/shared/provider/provider-config.ts';
import { ProviderNotFoundError } from '../../functions/shared/provider/provider-errors.ts';
import type { ProviderVideo } from '../../functions/shared/provider/provider-video.ts';
import { VideoProvider } from '../../functions/shared/provider/video-provider.ts';
import { simulatedContent, type Variant } from '../../infra/local/simulator/content.ts';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';

// The provider client against the real simulator: the happy paths of every call.

const API_KEY = 'sk-sim-provider-client-flow';

let simulator: RunningSimulator;
let provider: VideoProvider;

beforeAll(async () => {
  // Speed 1000: a 4 s clip that takes about a minute renders in about 60 ms.
  simulator = await startSimulator({ apiKey: API_KEY, speed: 1000 });
  provider = new VideoProvider(
    parseProviderConfig({ baseUrl: simulator.baseURL, apiKey: API_KEY, timeoutMs: 5_000 }),
  );
});

afterAll(async () => {
  await simulator.close();
});

async function untilDone(id: string): Promise<ProviderVideo> {
  return vi.waitFor(
    async () => {
      const video = await provider.retrieve(id);
      if (video.status !== 'completed' && video.status !== 'failed') {
        throw new Error(`still ${video.status}`);
      }
      return video;
    },
    { timeout: 10_000, interval: 20 },
  );
}

async function digest(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** What downloading a variant of a 1280x720 4 s video must yield: type, length, bytes, hash. */
function expectedContent(variant: Variant, contentType: string) {
  const data = simulatedContent(variant, '1280x720', '4');
  return {
    contentType,
    length: data.length,
    bytes: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
  };
}

describe('VideoProvider against the simulator', () => {
  it('creates a job, polls it to completion and downloads every variant byte for byte', async () => {
    // Prepare
    const request = {
      prompt: 'a lighthouse in a storm',
      model: 'sora-2',
      size: '1280x720',
      seconds: '4',
      idempotencyKey: 'job-flow-1',
    };

    // Act
    const created = await provider.create(request);
    const done = await untilDone(created.id);
    const downloads: Record<string, unknown> = {};
    for (const variant of ['video', 'thumbnail', 'spritesheet'] as const) {
      const content = await provider.downloadContent(created.id, variant);
      downloads[variant] = {
        contentType: content.contentType,
        length: content.contentLength,
        ...(await digest(content.stream)),
      };
    }

    // Assess
    expect(created).toMatchObject({ status: 'queued', progress: 0, ...pick(request) });
    expect(done).toMatchObject({ id: created.id, status: 'completed', progress: 100 });
    expect(done.completedAt).toBeGreaterThanOrEqual(done.createdAt);
    expect(done.expiresAt).toBeGreaterThan(done.completedAt ?? 0);
    const sent = simulator.stats.videos.find((video) => video.id === created.id);
    expect(sent?.idempotencyKey).toBe('job-flow-1');
    expect(downloads).toEqual({
      video: expectedContent('video', 'video/mp4'),
      thumbnail: expectedContent('thumbnail', 'image/webp'),
      spritesheet: expectedContent('spritesheet', 'image/jpeg'),
    });
  });

  it('pages through the listing with the cursor, in both orders', async () => {
    // Prepare: a simulator of its own, so the listing holds only this test's jobs.
    const own = await startSimulator({ apiKey: API_KEY, speed: 1000 });
    try {
      const client = new VideoProvider(
        parseProviderConfig({ baseUrl: own.baseURL, apiKey: API_KEY }),
      );
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const video = await client.create({
          prompt: `clip ${i}`,
          model: 'sora-2',
          size: '720x1280',
          seconds: '4',
          idempotencyKey: `job-list-${i}`,
        });
        ids.push(video.id);
      }

      // Act
      const pages = async (order: 'asc' | 'desc') => {
        const seen: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await client.list({ order, limit: 2, after });
          seen.push(page.videos.map((video) => video.id));
          if (!page.hasMore) return seen;
          after = page.lastId;
        }
      };
      const newestFirst = await pages('desc');
      const oldestFirst = await pages('asc');

      // Assess
      expect(newestFirst).toEqual([ids.slice(3).reverse(), ids.slice(1, 3).reverse(), [ids[0]]]);
      expect(oldestFirst).toEqual([ids.slice(0, 2), ids.slice(2, 4), [ids[4]]]);
    } finally {
      await own.close();
    }
  });

  it('remixes a completed video into a new job that records its source', async () => {
    // Prepare
    const source = await provider.create({
      prompt: 'a red kite over hills',
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
      idempotencyKey: 'job-remix-source',
    });
    await untilDone(source.id);

    // Act
    const remix = await provider.remix(source.id, {
      prompt: 'the same kite at night',
      idempotencyKey: 'job-remix-1',
    });
    const done = await untilDone(remix.id);

    // Assess
    expect(remix.id).not.toBe(source.id);
    expect(done).toMatchObject({
      status: 'completed',
      prompt: 'the same kite at night',
      remixedFromVideoId: source.id,
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
    });
    expect(simulator.stats.videos.find((video) => video.id === remix.id)?.idempotencyKey).toBe(
      'job-remix-1',
    );
  });

  it('deletes a video, after which it is not found', async () => {
    // Prepare
    const video = await provider.create({
      prompt: 'a paper boat',
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
      idempotencyKey: 'job-delete',
    });
    await untilDone(video.id);

    // Act
    const result = await provider.delete(video.id);

    // Assess
    expect(result).toEqual({ id: video.id, deleted: true });
    await expect(provider.retrieve(video.id)).rejects.toBeInstanceOf(ProviderNotFoundError);
    await expect(provider.downloadContent(video.id)).rejects.toBeInstanceOf(ProviderNotFoundError);
  });
});

function pick(request: { prompt: string; model: string; size: string; seconds: string }) {
  const { prompt, model, size, seconds } = request;
  return { prompt, model, size, seconds };
}
