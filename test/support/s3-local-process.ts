/**
 * Runs s3rver in a child process, so a test can measure its own memory without counting the
 * emulator's. Prints one JSON line `{"endpoint": "..."}` when ready; stops on SIGTERM.
 * Usage: node test/support/s3-local-process.ts <bucket> [<bucket> ...]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { startS3Local } from '../../infra/local/s3-local.ts';

export interface S3LocalProcess {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * An S3 client of s3rver: its fixed credentials, path-style URLs, and checksums only where an
 * operation requires them (s3rver refuses a streamed body sent aws-chunked with a checksum
 * trailer).
 */
export function s3rverClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

/** Starts this file as a child process and waits for its endpoint. */
export async function startS3LocalProcess(buckets: string[]): Promise<S3LocalProcess> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...buckets], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`s3rver child exited with ${String(code)} before it was ready`);
  });
  const ready = (async () => {
    for await (const line of lines) return JSON.parse(line) as { endpoint: string };
    throw new Error('s3rver child closed its output before it was ready');
  })();
  const { endpoint } = await Promise.race([ready, exited]);
  exited.catch(() => undefined);
  return {
    endpoint,
    async stop() {
      if (child.exitCode !== null) return;
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      await gone;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s3 = await startS3Local({ buckets: process.argv.slice(2) });
  process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint })}\n`);
  process.once('SIGTERM', () => {
    void s3.stop().then(() => process.exit(0));
  });
}
