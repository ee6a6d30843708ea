import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderTransientError } from '../../../functions/shared/provider/provider-errors.ts';
import {
  InvalidContentError,
  StorageError,
} from '../../../functions/shared/storage/storage-errors.ts';
import {
  type ContentSource,
  mediaKeys,
  VideoStorage,
} from '../../../functions/shared/storage/video-storage.ts';

const MiB = 1024 * 1024;
const bucket = 'videos-bucket';
const jobId = 'job_123';
const key = mediaKeys(jobId).video;

const s3 = new S3Client({
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
const s3Mock = mockClient(s3);

function fakeMp4(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) % 251;
  bytes.writeUInt32BE(24, 0);
  bytes.write('ftypisom', 4, 'latin1');
  return bytes;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Serves `bytes` in 64 KiB chunks; `contentLength` defaults to the real length. */
function source(
  bytes: Buffer,
  options: { contentLength?: number; failWith?: Error; contentType?: string } = {},
): ContentSource & { destroyed: () => boolean; delivered: () => number } {
  const { failWith } = options;
  let delivered = 0;
  async function* chunks() {
    for (let offset = 0; offset < bytes.length; offset += 64 * 1024) {
      const chunk = bytes.subarray(offset, offset + 64 * 1024);
      delivered += chunk.length;
      yield chunk;
    }
    if (failWith) throw failWith;
  }
  const stream = Readable.from(chunks(), { objectMode: false });
  return {
    stream,
    contentLength: 'contentLength' in options ? options.contentLength : bytes.length,
    contentType: options.contentType ?? 'video/mp4',
    destroyed: () => stream.destroyed,
    delivered: () => delivered,
  };
}

function storage(): VideoStorage {
  return new VideoStorage({ s3, bucket, partSizeBytes: 5 * MiB, queueSize: 2 });
}

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
    message: `${name} (${status})`,
  });
}

beforeEach(() => {
  s3Mock.reset();
  s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
  s3Mock.on(UploadPartCommand).callsFake((input: { PartNumber?: number }) => ({
    ETag: `"etag-${input.PartNumber}"`,
  }));
  s3Mock.on(CompleteMultipartUploadCommand).resolves({});
  s3Mock.on(PutObjectCommand).resolves({});
  s3Mock.on(AbortMultipartUploadCommand).resolves({});
});

afterEach(() => {
  s3Mock.reset();
});

describe('VideoStorage.putVideo', () => {
  it('streams a large MP4 in parts and returns its size and sha256', async () => {
    const video = fakeMp4(12 * MiB + 123);

    const stored = await storage().putVideo(jobId, source(video));

    expect(stored).toEqual({
      bucket,
      key,
      bytes: video.length,
      sha256: sha256(video),
      contentType: 'video/mp4',
    });
    expect(s3Mock).toHaveReceivedCommandWith(CreateMultipartUploadCommand, {
      Bucket: bucket,
      Key: 'videos/job_123/video.mp4',
      ContentType: 'video/mp4',
      Metadata: { 'job-id': jobId },
    });
    expect(s3Mock).toHaveReceivedCommandTimes(UploadPartCommand, 3);
    expect(s3Mock).toHaveReceivedCommandWith(CompleteMultipartUploadCommand, {
      UploadId: 'upload-1',
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: '"etag-1"' },
          { PartNumber: 2, ETag: '"etag-2"' },
          { PartNumber: 3, ETag: '"etag-3"' },
        ],
      },
    });
    expect(s3Mock).not.toHaveReceivedCommand(AbortMultipartUploadCommand);
  });

  it('tags the upload with the job id and sends nothing after it completes', async () => {
    const video = fakeMp4(6 * MiB);

    await storage().putVideo(jobId, source(video));

    expect(s3Mock).toHaveReceivedCommandWith(CreateMultipartUploadCommand, {
      Bucket: bucket,
      Key: key,
      ContentType: 'video/mp4',
      Metadata: { 'job-id': jobId },
    });
    // No self-copy to stamp metadata: it would need read access and a second object version.
    expect(s3Mock).not.toHaveReceivedCommand(CopyObjectCommand);
    expect(s3Mock).not.toHaveReceivedCommand(HeadObjectCommand);
  });

  it('uses a single put for a video smaller than one part', async () => {
    const video = fakeMp4(300 * 1024);

    const stored = await storage().putVideo(jobId, source(video));

    expect(stored.bytes).toBe(video.length);
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: bucket, Key: key });
    expect(s3Mock).not.toHaveReceivedCommand(CreateMultipartUploadCommand);
  });

  it('puts a video of exactly one part size in one request', async () => {
    const video = fakeMp4(5 * MiB);

    const stored = await storage().putVideo(jobId, source(video));

    expect(stored.sha256).toBe(sha256(video));
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(s3Mock).not.toHaveReceivedCommand(CreateMultipartUploadCommand);
  });

  it('keeps at most queueSize parts in flight and reuses a part buffer only once S3 answered', async () => {
    // Prepare: parts wait for the test to answer them.
    const video = fakeMp4(20 * MiB);
    const content = source(video);
    const waiting = new Map<number, () => void>();
    const received = new Map<number, Buffer>();
    let answerAtOnce = false;
    let inFlight = 0;
    let maxInFlight = 0;
    s3Mock.on(UploadPartCommand).callsFake(async (input: { PartNumber: number; Body: Buffer }) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (!answerAtOnce) {
        await new Promise<void>((resolve) => waiting.set(input.PartNumber, resolve));
      }
      // What S3 reads is what the buffer holds when it answers.
      received.set(input.PartNumber, Buffer.from(input.Body));
      inFlight -= 1;
      return { ETag: `"etag-${input.PartNumber}"` };
    });

    // Act: parts 1 and 2 in flight and part 3 filled, then part 2 answers first, so part 3 goes
    // out and part 4 is filled while part 1 still waits.
    const result = storage().putVideo(jobId, content);
    await expect.poll(() => waiting.size === 2 && content.delivered() > 15 * MiB).toBe(true);
    waiting.get(2)?.();
    await expect.poll(() => content.delivered()).toBe(20 * MiB);
    answerAtOnce = true;
    for (const answer of waiting.values()) answer();
    const stored = await result;

    // Assess
    expect(stored.sha256).toBe(sha256(video));
    expect(maxInFlight).toBe(2);
    expect([...received.keys()].sort()).toEqual([1, 2, 3, 4]);
    for (const [partNumber, bytes] of received) {
      const start = (partNumber - 1) * 5 * MiB;
      expect(bytes.equals(video.subarray(start, start + 5 * MiB))).toBe(true);
    }
    expect(s3Mock).toHaveReceivedCommandWith(CompleteMultipartUploadCommand, {
      MultipartUpload: {
        Parts: [1, 2, 3, 4].map((n) => ({ PartNumber: n, ETag: `"etag-${n}"` })),
      },
    });
  });

  it('aborts the multipart upload when the body ends before its Content-Length', async () => {
    const video = fakeMp4(11 * MiB);
    const truncated = source(video, { contentLength: 12 * MiB });

    const result = storage().putVideo(jobId, truncated);

    await expect(result).rejects.toThrow(ProviderTransientError);
    await expect(result).rejects.toMatchObject({ code: 'download_truncated' });
    expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, {
      Bucket: bucket,
      Key: key,
      UploadId: 'upload-1',
    });
    expect(s3Mock).not.toHaveReceivedCommand(CompleteMultipartUploadCommand);
    expect(s3Mock).not.toHaveReceivedCommand(CopyObjectCommand);
  });

  it('never writes a short video whose body ends early', async () => {
    const video = fakeMp4(100 * 1024);

    const result = storage().putVideo(jobId, source(video, { contentLength: 200 * 1024 }));

    await expect(result).rejects.toThrow(ProviderTransientError);
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('stops with an error as soon as the body grows past its Content-Length', async () => {
    const video = fakeMp4(11 * MiB);

    const result = storage().putVideo(jobId, source(video, { contentLength: 7 * MiB }));

    await expect(result).rejects.toMatchObject({
      name: 'ProviderTransientError',
      code: 'download_oversized',
    });
    expect(s3Mock).toHaveReceivedCommand(AbortMultipartUploadCommand);
    expect(s3Mock).not.toHaveReceivedCommand(CompleteMultipartUploadCommand);
  });

  it('refuses a payload that is not an MP4 before uploading anything', async () => {
    const html = Buffer.from('<html><body>Access denied</body></html>'.repeat(1000));

    const result = storage().putVideo(jobId, source(html));

    await expect(result).rejects.toThrow(InvalidContentError);
    await expect(result).rejects.toThrow(/ftyp/);
    expect(s3Mock).not.toHaveReceivedCommand(UploadPartCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('refuses an empty body', async () => {
    const result = storage().putVideo(jobId, source(Buffer.alloc(0), { contentLength: 0 }));

    await expect(result).rejects.toThrow(/body is empty/);
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('passes the provider stream error through and aborts when the download breaks off', async () => {
    const dropped = new ProviderTransientError('download: connection reset', {
      code: 'network_error',
      providerMessage: 'connection reset',
      operation: 'download',
    });
    const video = fakeMp4(11 * MiB);

    const result = storage().putVideo(jobId, source(video, { failWith: dropped }));

    await expect(result).rejects.toBe(dropped);
    expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, {
      UploadId: 'upload-1',
    });
  });

  it('keeps the real reason when aborting the upload fails too', async () => {
    s3Mock.on(AbortMultipartUploadCommand).rejects(s3Error('MethodNotAllowed', 405));
    const video = fakeMp4(11 * MiB);

    const result = storage().putVideo(jobId, source(video, { contentLength: 12 * MiB }));

    await expect(result).rejects.toThrow(ProviderTransientError);
  });

  it('reports an S3 failure as a StorageError, aborts and stops reading the provider', async () => {
    s3Mock.on(UploadPartCommand).rejects(s3Error('InternalError', 500));
    const video = source(fakeMp4(20 * MiB));

    const result = storage().putVideo(jobId, video);

    await expect(result).rejects.toThrow(StorageError);
    await expect(result).rejects.toThrow(/InternalError/);
    expect(s3Mock).toHaveReceivedCommand(AbortMultipartUploadCommand);
    expect(video.destroyed()).toBe(true);
  });
});

describe('VideoStorage.putImage', () => {
  it('puts a thumbnail with its content type, length and sha256 metadata', async () => {
    const webp = Buffer.concat([
      Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'),
      Buffer.alloc(500, 1),
    ]);

    const stored = await storage().putImage(
      jobId,
      'thumbnail',
      source(webp, { contentType: 'image/webp' }),
    );

    expect(stored).toEqual({
      bucket,
      key: 'videos/job_123/thumbnail.webp',
      bytes: webp.length,
      sha256: sha256(webp),
      contentType: 'image/webp',
    });
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: bucket,
      Key: 'videos/job_123/thumbnail.webp',
      ContentType: 'image/webp',
      ContentLength: webp.length,
      Metadata: { 'job-id': jobId, sha256: sha256(webp) },
    });
  });

  it('falls back to the variant content type when the provider sends a generic one', async () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(300, 2)]);

    const stored = await storage().putImage(
      jobId,
      'spritesheet',
      source(jpeg, { contentType: 'application/octet-stream' }),
    );

    expect(stored.key).toBe('videos/job_123/spritesheet.jpg');
    expect(stored.contentType).toBe('image/jpeg');
  });

  it('writes nothing when the image body is cut short', async () => {
    const jpeg = Buffer.alloc(1000, 3);

    const result = storage().putImage(jobId, 'spritesheet', source(jpeg, { contentLength: 2000 }));

    await expect(result).rejects.toThrow(ProviderTransientError);
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('refuses an image larger than the limit', async () => {
    const small = new VideoStorage({ s3, bucket, maxImageBytes: 1024 });

    const result = small.putImage(jobId, 'thumbnail', source(Buffer.alloc(4096, 4)));

    await expect(result).rejects.toThrow(InvalidContentError);
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });
});
