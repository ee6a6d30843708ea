/**
 * Streams padded videos of growing size from the provider simulator into S3 (s3rver in a child
 * process) through the production `VideoProvider` + `VideoStorage`, and prints, per size, the
 * peak live memory (heap + buffers, collected before every sample) and the throughput.
 * Memory should stay flat whatever the size: a few 8 MiB multipart parts.
 *
 *   node bench/download-memory.ts [sizeMiB ...]      (default: 16 64 256 1024)
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { S3Client } from '@aws-sdk/client-s3';
import { parseProviderConfig } from '../functions/shared/provider/provider-config.ts';
import { VideoProvider } from '../functions/shared/provider/video-provider.ts';
import { VideoStorage } from '../functions/shared/storage/video-storage.ts';
import { startSimulator } from '../infra/local/simulator/simulator.ts';
import { startS3LocalProcess } from '../test/support/s3-local-process.ts';

const MiB = 1024 * 1024;
const sizes = process.argv.slice(2).map(Number);
const sizesMiB = sizes.length > 0 ? sizes : [16, 64, 256, 1024];
if (sizesMiB.some((size) => !Number.isFinite(size) || size <= 0)) {
  console.error('usage: node bench/download-memory.ts [sizeMiB ...] (positive numbers)');
  process.exit(2);
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const liveBytes = () => {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
};

const bucket = 'bench-videos';
const apiKey = 'sk-bench-download-memory';
const s3Local = await startS3LocalProcess([bucket]);
const simulator = await startSimulator({ apiKey, speed: 10_000, seed: 1 });
const s3 = new S3Client({
  endpoint: s3Local.endpoint,
  forcePathStyle: true,
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
});
const provider = new VideoProvider(
  parseProviderConfig({ baseUrl: simulator.baseURL, apiKey, timeoutMs: 60_000 }),
);
const storage = new VideoStorage({ s3, bucket });

console.log('size MiB | peak live memory MiB | seconds | MiB/s');
try {
  for (const [index, sizeMiB] of sizesMiB.entries()) {
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
} finally {
  s3.destroy();
  await simulator.close();
  await s3Local.stop();
}
