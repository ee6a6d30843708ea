import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseProviderConfig } from '../../functions/shared/provider/provider-config.ts';
import { VideoProvider } from '../../functions/shared/provider/video-provider.ts';
import { simulatedContent } from '../../infra/local/simulator/content.ts';
import { type RunningSimulator, startSimulator } from '../../infra/local/simulator/simulator.ts';

// A large download must flow through in chunks: memory stays flat whatever the video size.

const API_KEY = 'sk-sim-provider-client-streaming';
const VIDEO_BYTES = 50 * 1024 * 1024;
const SAMPLE_EVERY_BYTES = 5 * 1024 * 1024;

// A forced collection before each sample makes the figure "live memory", not "not yet collected".
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function liveBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

let simulator: RunningSimulator;
let provider: VideoProvider;

beforeAll(async () => {
  simulator = await startSimulator({ apiKey: API_KEY, speed: 1000, contentSizeBytes: VIDEO_BYTES });
  provider = new VideoProvider(
    parseProviderConfig({ baseUrl: simulator.baseURL, apiKey: API_KEY }),
  );
});

afterAll(async () => {
  await simulator.close();
});

describe('VideoProvider.downloadContent streaming', () => {
  it('streams a 50 MB video with flat memory and never reads the body whole', async () => {
    // Prepare
    const video = await provider.create({
      prompt: 'a long slow pan across a city',
      model: 'sora-2',
      size: '720x1280',
      seconds: '4',
      idempotencyKey: 'job-big',
    });
    await vi.waitFor(
      async () => expect((await provider.retrieve(video.id)).status).toBe('completed'),
      { timeout: 10_000, interval: 20 },
    );
    const sample = simulatedContent('video', '720x1280', '4');
    const wholeBodyReads = (['arrayBuffer', 'blob', 'bytes', 'text'] as const).map((method) =>
      vi.spyOn(Response.prototype, method),
    );
    const baseline = liveBytes();

    // Act
    let peak = 0;
    let received = 0;
    let nextSample = SAMPLE_EVERY_BYTES;
    let head = Buffer.alloc(0);
    let chunks = 0;
    let wholeBodyReadCalls: number[] = [];
    try {
      const content = await provider.downloadContent(video.id);
      expect(content.contentLength).toBe(VIDEO_BYTES);
      for await (const chunk of content.stream) {
        const bytes = chunk as Buffer;
        if (head.length < sample.length) {
          head = Buffer.concat([head, bytes.subarray(0, sample.length - head.length)]);
        }
        received += bytes.length;
        chunks += 1;
        if (received >= nextSample) {
          peak = Math.max(peak, liveBytes() - baseline);
          nextSample += SAMPLE_EVERY_BYTES;
        }
      }
      // Read the counts before mockRestore(), which empties them.
      wholeBodyReadCalls = wholeBodyReads.map((spy) => spy.mock.calls.length);
    } finally {
      for (const spy of wholeBodyReads) spy.mockRestore();
    }

    // Assess
    expect(received).toBe(VIDEO_BYTES);
    expect(head.equals(sample)).toBe(true);
    expect(chunks).toBeGreaterThan(100);
    // Measured: 0.5-11 MB (socket and stream buffers, the in-process simulator's included);
    // holding the body would cost 50 MB.
    expect(peak).toBeLessThan(20 * 1024 * 1024);
    expect(wholeBodyReadCalls).toEqual(wholeBodyReads.map(() => 0));
  });
});
