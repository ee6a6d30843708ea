/**
 * The download path against a bare upload of the same bytes.
 *
 * 1. Streams padded videos of growing size from the provider simulator into S3 (s3rver in a
 *    child process) through the production `VideoProvider` + `VideoStorage`, and prints, per
 *    size, the peak live memory (heap + buffers, collected before every sample). Memory should
 *    stay flat whatever the size: a few 8 MiB multipart parts.
 * 2. At the largest size, runs pairs of (production path, bare `fetch` -> lib-storage `Upload`
 *    with the same part size and queue size, no checks, no hash), in alternating order, each in
 *    a fresh child process (so one run's heap never counts in the next one's RSS), and prints
 *    each one's throughput and RSS growth (peak RSS sampled every 20 ms, no forced GC while it
 *    runs), then the ratios production / bare, median and min over the pairs.
 *
 *   node bench/download-memory.ts [--pairs N] [sizeMiB ...]  (default: 5 pairs; 16 64 256 1024)
 *
 * Targets (issue 10): throughput >= 0.9x the bare upload, RSS growth <= 1.1x.
 * The simulator's content lifetime is scaled up with its speed, so a slow (loaded) machine
 * never sees the content expire mid-run.
 */
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Upload } from '@aws-sdk/lib-storage';
import { parseProviderConfig } from '../functions/shared/provider/provider-config.ts';
import { VideoProvider } from '../functions/shared/provider/video-provider.ts';
import {
  DEFAULT_PART_SIZE_BYTES,
  DEFAULT_QUEUE_SIZE,
  VideoStorage,
} from '../functions/shared/storage/video-storage.ts';
import { startSimulator } from '../infra/local/simulator/simulator.ts';
import { s3rverClient, startS3LocalProcess } from '../test/support/s3-local-process.ts';

const MiB = 1024 * 1024;
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** What a child run needs to reach the simulator's video and the bucket. */
interface ChildTask {
  path: 'production' | 'bare';
  baseURL: string;
  apiKey: string;
  videoId: string;
  s3Endpoint: string;
  bucket: string;
  key: string;
}

if (process.argv[2] === '--child') {
  const result = await childRun(JSON.parse(process.argv[3] ?? '{}') as ChildTask);
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

const args = process.argv.slice(2);
const pairsAt = args.indexOf('--pairs');
const pairs = pairsAt === -1 ? 5 : Number(args[pairsAt + 1]);
const sizes = args.filter((_, index) => index !== pairsAt && index !== pairsAt + 1).map(Number);
const sizesMiB = sizes.length > 0 ? sizes : [16, 64, 256, 1024];
if (
  sizesMiB.some((size) => !Number.isFinite(size) || size <= 0) ||
  !Number.isInteger(pairs) ||
  pairs < 1
) {
  console.error(
    'usage: node bench/download-memory.ts [--pairs N] [sizeMiB ...] (positive numbers)',
  );
  process.exit(2);
}
const SPEED = 10_000;

const liveBytes = () => {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
};

const bucket = 'bench-videos';
const apiKey = 'sk-bench-download-memory';
const s3Local = await startS3LocalProcess([bucket]);
// An hour of real time to download in, whatever the speed (the TTL is divided by it).
const simulator = await startSimulator({
  apiKey,
  speed: SPEED,
  seed: 1,
  contentTtlSeconds: 3600 * SPEED,
});
const s3 = s3rverClient(s3Local.endpoint);
const provider = new VideoProvider(
  parseProviderConfig({ baseUrl: simulator.baseURL, apiKey, timeoutMs: 60_000 }),
);
const storage = new VideoStorage({ s3, bucket });

console.log('size MiB | peak live memory MiB | seconds | MiB/s');
try {
  for (const [index, sizeMiB] of sizesMiB.entries()) {
    const video = await renderedVideo(index, sizeMiB);
    collectGarbage();
    const baseline = liveBytes();
    let peak = baseline;
    const sampler = setInterval(() => {
      collectGarbage();
      peak = Math.max(peak, liveBytes());
    }, 25);
    const started = performance.now();
    const stored = await storage.putVideo(
      `bench_${index}`,
      await provider.downloadContent(video.id),
    );
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const mib = stored.bytes / MiB;
    console.log(
      `${mib.toFixed(0).padStart(8)} | ${((peak - baseline) / MiB).toFixed(1).padStart(20)} | ${seconds.toFixed(2).padStart(7)} | ${(mib / seconds).toFixed(0).padStart(5)}`,
    );
  }
  await comparePairs(Math.max(...sizesMiB));
} finally {
  s3.destroy();
  await simulator.close();
  await s3Local.stop();
}

async function renderedVideo(index: number, sizeMiB: number) {
  simulator.configure({ contentSizeBytes: Math.round(sizeMiB * MiB) });
  const video = await provider.create({
    prompt: `bench ${index}`,
    model: 'sora-2',
    size: '720x1280',
    seconds: '4',
    idempotencyKey: `bench-${index}`,
  });
  while ((await provider.retrieve(video.id)).status !== 'completed') {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return video;
}

interface Run {
  mibPerSecond: number;
  rssGrowthMiB: number;
}

/** Runs `transfer` with RSS sampled every 20 ms (no forced GC while it runs). */
async function measured(transfer: () => Promise<number>): Promise<Run> {
  collectGarbage();
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const started = performance.now();
  const bytes = await transfer();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { mibPerSecond: bytes / MiB / seconds, rssGrowthMiB: (peak - before) / MiB };
}

async function comparePairs(sizeMiB: number): Promise<void> {
  const video = await renderedVideo(sizesMiB.length, sizeMiB);
  const inChild = (path: ChildTask['path'], run: number) =>
    new Promise<Run>((resolve, reject) => {
      const task: ChildTask = {
        path,
        baseURL: simulator.baseURL,
        apiKey,
        videoId: video.id,
        s3Endpoint: s3Local.endpoint,
        bucket,
        key: `${path}_${run}/video.mp4`,
      };
      execFile(
        process.execPath,
        [new URL(import.meta.url).pathname, '--child', JSON.stringify(task)],
        { maxBuffer: 1024 * 1024 },
        (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as Run)),
      );
    });
  const production = (run: number) => inChild('production', run);
  const bare = (run: number) => inChild('bare', run);

  console.log(
    `\n${pairs} pairs at ${sizeMiB} MiB (order alternates): production path vs bare fetch -> Upload`,
  );
  console.log('pair | production MiB/s | bare MiB/s | production RSS+ MiB | bare RSS+ MiB');
  const throughput: number[] = [];
  const oursRss: number[] = [];
  const theirsRss: number[] = [];
  for (let pair = 0; pair < pairs; pair += 1) {
    let ours: Run;
    let theirs: Run;
    if (pair % 2 === 0) {
      ours = await production(pair);
      theirs = await bare(pair);
    } else {
      theirs = await bare(pair);
      ours = await production(pair);
    }
    throughput.push(ours.mibPerSecond / theirs.mibPerSecond);
    oursRss.push(ours.rssGrowthMiB);
    theirsRss.push(theirs.rssGrowthMiB);
    console.log(
      `${String(pair + 1).padStart(4)} | ${ours.mibPerSecond.toFixed(0).padStart(16)} | ${theirs.mibPerSecond.toFixed(0).padStart(10)} | ${ours.rssGrowthMiB.toFixed(0).padStart(19)} | ${theirs.rssGrowthMiB.toFixed(0).padStart(13)}`,
    );
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
  console.log(
    `throughput production / bare, per pair: median ${median(throughput).toFixed(2)}x, min ${Math.min(...throughput).toFixed(2)}x (target >= 0.9x)`,
  );
  // Peak RSS depends on when the collector runs, so growth is compared median to median (and
  // min to min) rather than pair by pair.
  console.log(
    `RSS growth production / bare: median ${(median(oursRss) / median(theirsRss)).toFixed(2)}x, min ${(Math.min(...oursRss) / Math.min(...theirsRss)).toFixed(2)}x (target <= 1.1x)`,
  );
}

/** One transfer in this (child) process: the production path or the bare upload. */
async function childRun(task: ChildTask): Promise<Run> {
  const client = s3rverClient(task.s3Endpoint);
  try {
    if (task.path === 'production') {
      const videoProvider = new VideoProvider(
        parseProviderConfig({ baseUrl: task.baseURL, apiKey: task.apiKey, timeoutMs: 60_000 }),
      );
      const videoStorage = new VideoStorage({ s3: client, bucket: task.bucket });
      return await measured(async () => {
        const stored = await videoStorage.putVideo(
          task.key.split('/')[0] ?? 'job',
          await videoProvider.downloadContent(task.videoId),
        );
        return stored.bytes;
      });
    }
    return await measured(async () => {
      const response = await fetch(`${task.baseURL}/videos/${task.videoId}/content`, {
        headers: { authorization: `Bearer ${task.apiKey}` },
      });
      if (!response.ok || !response.body) throw new Error(`content: HTTP ${response.status}`);
      await new Upload({
        client,
        params: {
          Bucket: task.bucket,
          Key: task.key,
          Body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
          ContentType: 'video/mp4',
        },
        partSize: DEFAULT_PART_SIZE_BYTES,
        queueSize: DEFAULT_QUEUE_SIZE,
      }).done();
      return Number(response.headers.get('content-length'));
    });
  } finally {
    client.destroy();
  }
}
