import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import S3rver from '@20minutes/s3rver';
import { LocalStackError } from './local-errors.ts';
import { portInUse } from './ports.ts';

export interface S3LocalOptions {
  /** Where objects are kept; absent: a temporary directory removed on stop. */
  dataDir?: string;
  /** 0 or absent picks a free port. */
  port?: number;
  /** Buckets created at start (existing ones and their objects are kept). */
  buckets?: string[];
}

export interface RunningS3Local {
  /** http://127.0.0.1:PORT, to be used path-style. */
  endpoint: string;
  port: number;
  /** The s3rver instance (@20minutes/s3rver); its `event` emitter reports object events. */
  server: S3rver;
  stop(): Promise<void>;
}

const SERVICE = 'S3 emulator (s3rver)';

/**
 * Starts s3rver (the maintained fork, @20minutes/s3rver) in-process on 127.0.0.1. Clients must
 * sign with the access key pair S3RVER/S3RVER (the local stack sets those as the process's
 * credentials), use path-style URLs, and send checksums only when required
 * (AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED): with checksums on, the SDK sends a streamed
 * body unsigned and aws-chunked with a checksum trailer, which s3rver refuses (400
 * InvalidArgument; it decodes only signed chunks).
 */
export async function startS3Local(options: S3LocalOptions = {}): Promise<RunningS3Local> {
  const temporary = options.dataDir === undefined;
  const directory = options.dataDir
    ? resolvePath(options.dataDir)
    : await mkdtemp(join(tmpdir(), 'sora-s3-'));
  await mkdir(directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory,
    silent: true,
    vhostBuckets: false,
    // The access key must still be S3RVER, but SigV4 signatures are not compared, as with
    // s3rver 3.7.1 (which never computed them): 5.0.0 does, but builds a bucket-level request's
    // canonical path without the trailing slash the SDK signs (`/bucket/`), so ListObjectsV2 and
    // DeleteObjects would always fail with SignatureDoesNotMatch.
    allowMismatchedSignatures: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  let port: number;
  try {
    ({ port } = await server.run());
  } catch (error) {
    if (temporary) await rm(directory, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw portInUse(options.port ?? 0, SERVICE);
    throw new LocalStackError(
      'emulator-failed',
      `${SERVICE} could not be started: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    server,
    async stop() {
      await server.close();
      if (temporary) await rm(directory, { recursive: true, force: true });
    },
  };
}
