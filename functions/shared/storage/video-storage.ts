import { pipeline, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  ChecksumAlgorithm,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { loggableError } from '../observability/loggable-error.ts';
import { logger } from '../observability/observability.ts';
import { ProviderError } from '../provider/provider-errors.ts';
import {
  checkContent,
  type InspectedContent,
  inspectContent,
  MP4_SIGNATURE,
} from './content-inspector.ts';
import { InvalidContentError, StorageError } from './storage-errors.ts';

/**
 * Puts generated media into S3: the MP4 streamed through a multipart upload (memory bounded by
 * part size x (queue size + 1), whatever the video's size), the small images in one request. Every
 * object is checked (signature, length, sha256) before it counts as stored; an object that fails
 * a check never stays behind.
 */

/** Where a job's media lives in the bucket. */
export function mediaKeys(jobId: string) {
  const prefix = `videos/${jobId}`;
  return {
    video: `${prefix}/video.mp4`,
    thumbnail: `${prefix}/thumbnail.webp`,
    spritesheet: `${prefix}/spritesheet.jpg`,
  };
}

export type ImageVariant = 'thumbnail' | 'spritesheet';

const IMAGE_DEFAULT_CONTENT_TYPE: Record<ImageVariant, string> = {
  thumbnail: 'image/webp',
  spritesheet: 'image/jpeg',
};

/** A body being downloaded, as the provider client hands it over. */
export interface ContentSource {
  stream: Readable;
  /** The announced Content-Length, when there was one. */
  contentLength: number | undefined;
  contentType: string;
}

export interface StoredObject {
  bucket: string;
  key: string;
  bytes: number;
  /** Lowercase hex sha256 of the stored bytes. */
  sha256: string;
  contentType: string;
}

export interface VideoStorageOptions {
  s3: S3Client;
  bucket: string;
  /** Multipart part size (min 5 MiB). */
  partSizeBytes?: number;
  /** Parts uploaded concurrently; with the part size, this bounds memory. */
  queueSize?: number;
  /** Images larger than this are refused (they are read into memory). */
  maxImageBytes?: number;
}

export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 2;
export const DEFAULT_MAX_IMAGE_BYTES = 32 * 1024 * 1024;

// S3 lower-cases user metadata names; these are the stored spellings.
export const METADATA_JOB_ID = 'job-id';
export const METADATA_SHA256 = 'sha256';

export class VideoStorage {
  readonly bucket: string;
  readonly #s3: S3Client;
  readonly #partSizeBytes: number;
  readonly #queueSize: number;
  readonly #maxImageBytes: number;

  constructor(options: VideoStorageOptions) {
    this.bucket = options.bucket;
    this.#s3 = options.s3;
    this.#partSizeBytes = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    this.#queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    this.#maxImageBytes = options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  }

  /**
   * Streams an MP4 into `videos/<jobId>/video.mp4`. Throws InvalidContentError when the payload
   * is not ISO-BMFF, ProviderTransientError when it is shorter or longer than announced (or the
   * provider stream fails), StorageError when S3 fails; in every case no object is left behind.
   */
  async putVideo(jobId: string, content: ContentSource): Promise<StoredObject> {
    const key = mediaKeys(jobId).video;
    const contentType = 'video/mp4';
    // Every check (signature, announced length, byte count) runs while the bytes flow, and a
    // failed check fails the stream before the upload completes, so no object ever appears.
    // The sha256 is recorded with the job in DynamoDB; putting it in the object's metadata would
    // need a self-copy of the whole video after the upload (and read access, and a second
    // version in a versioned bucket), which is not worth it.
    const inspected = await this.#streamUpload(key, content, contentType, jobId);
    return { bucket: this.bucket, key, contentType, ...inspected };
  }

  /**
   * The job's video if a whole one is already stored (an earlier execution uploaded it, then died
   * before recording it): read back and checked as on the way in (ISO-BMFF signature, the
   * object's length), its sha256 computed. An object only ever exists after an upload whose every
   * check passed, so a valid one is adopted rather than downloaded again (the provider's content
   * may have expired meanwhile). Undefined when there is none.
   */
  async findVideo(jobId: string): Promise<StoredObject | undefined> {
    const key = mediaKeys(jobId).video;
    let output: GetObjectCommandOutput;
    try {
      output = await this.#s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (error instanceof NoSuchKey || error instanceof NotFound) return undefined;
      throw asStorageError(error, `reading s3://${this.bucket}/${key}`);
    }
    const body = output.Body as Readable | undefined;
    if (body === undefined) return undefined;
    const inspector = inspectContent({
      expectedLength: output.ContentLength,
      signature: MP4_SIGNATURE,
    });
    try {
      for await (const _chunk of pipeline(body, inspector.stream, () => undefined)) {
        // Only counted and hashed.
      }
    } catch (error) {
      if (error instanceof InvalidContentError) return undefined;
      throw asStorageError(error, `reading s3://${this.bucket}/${key}`);
    }
    return { bucket: this.bucket, key, contentType: 'video/mp4', ...inspector.result() };
  }

  /** Stores a thumbnail or spritesheet (small: read whole, put in one request with its digest). */
  async putImage(
    jobId: string,
    variant: ImageVariant,
    content: ContentSource,
  ): Promise<StoredObject> {
    const key = mediaKeys(jobId)[variant];
    const contentType = content.contentType.startsWith('image/')
      ? content.contentType
      : IMAGE_DEFAULT_CONTENT_TYPE[variant];
    if (content.contentLength !== undefined && content.contentLength > this.#maxImageBytes) {
      content.stream.destroy();
      throw new InvalidContentError(
        `${variant} is ${content.contentLength} bytes, more than the ${this.#maxImageBytes} allowed`,
      );
    }
    const inspector = inspectContent({ expectedLength: content.contentLength });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of pipeline(content.stream, inspector.stream, () => undefined)) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += buffer.length;
      if (size > this.#maxImageBytes) {
        content.stream.destroy();
        throw new InvalidContentError(
          `${variant} is larger than the ${this.#maxImageBytes} bytes allowed`,
        );
      }
      chunks.push(buffer);
    }
    const inspected = inspector.result();
    try {
      await this.#s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: Buffer.concat(chunks),
          ContentLength: inspected.bytes,
          ContentType: contentType,
          Metadata: { [METADATA_JOB_ID]: jobId, [METADATA_SHA256]: inspected.sha256 },
        }),
      );
    } catch (error) {
      throw asStorageError(error, `writing s3://${this.bucket}/${key}`);
    }
    return { bucket: this.bucket, key, contentType, ...inspected };
  }

  /**
   * The multipart upload, written out rather than left to lib-storage's `Upload`: each chunk is
   * checked and hashed as it arrives, then copied once into one of a few part buffers that are
   * reused from part to part. `Upload` concatenated every part into a fresh 8 MiB buffer, and
   * those allocations (and the garbage collections they caused) cost about as much as the sha256
   * itself. Memory: at most `queueSize` parts in flight plus the one being filled.
   */
  async #streamUpload(
    key: string,
    content: ContentSource,
    contentType: string,
    jobId: string,
  ): Promise<InspectedContent> {
    const check = checkContent({
      expectedLength: content.contentLength,
      signature: MP4_SIGNATURE,
    });
    const target = {
      Bucket: this.bucket,
      Key: key,
      ContentType: contentType,
      Metadata: { [METADATA_JOB_ID]: jobId },
    };
    const parts = new PartUploads(this.#s3, target, this.#queueSize);
    let part = parts.buffer(this.#partSizeBytes);
    let filled = 0;
    try {
      for await (const chunk of content.stream as AsyncIterable<Uint8Array>) {
        check.add(chunk);
        let offset = 0;
        while (offset < chunk.byteLength) {
          // A full part is sent once more bytes follow it, so a video of exactly one part size
          // is still a single put.
          if (filled === part.length) {
            await parts.send(part, filled);
            part = parts.buffer(this.#partSizeBytes);
            filled = 0;
          }
          const taken = Math.min(chunk.byteLength - offset, part.length - filled);
          part.set(chunk.subarray(offset, offset + taken), filled);
          filled += taken;
          offset += taken;
        }
      }
      // The whole-content checks pass before the last request, so no object ever appears with
      // bad content.
      const inspected = check.end();
      await parts.finish(part, filled);
      return inspected;
    } catch (error) {
      // Stop reading the provider: S3 may have failed while the body was still flowing.
      content.stream.destroy();
      await parts.settle();
      await this.#abortQuietly(key, parts.uploadId);
      if (error instanceof InvalidContentError || error instanceof ProviderError) throw error;
      throw asStorageError(error, `uploading s3://${this.bucket}/${key}`);
    }
  }

  async #abortQuietly(key: string, uploadId: string | undefined): Promise<void> {
    if (uploadId === undefined) return;
    try {
      await this.#s3.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      );
    } catch (error) {
      // The parts are invisible (no object exists) and a lifecycle rule expires them.
      logger.warn('Could not abort the multipart upload', {
        key,
        uploadId,
        error: loggableError(error),
      });
    }
  }
}

interface UploadTarget {
  Bucket: string;
  Key: string;
  ContentType: string;
  Metadata: Record<string, string>;
}

/**
 * The parts of one multipart upload: started on the first part, at most `queueSize` in flight,
 * their buffers handed back for reuse once S3 has answered. A video that fits in one part is a
 * single PutObject, as lib-storage's `Upload` did.
 */
class PartUploads {
  uploadId: string | undefined;
  readonly #s3: S3Client;
  readonly #target: UploadTarget;
  readonly #queueSize: number;
  readonly #free: Buffer[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #completed: CompletedPart[] = [];
  #partsSent = 0;
  #started: Promise<string> | undefined;
  #failure: { error: unknown } | undefined;

  constructor(s3: S3Client, target: UploadTarget, queueSize: number) {
    this.#s3 = s3;
    this.#target = target;
    this.#queueSize = queueSize;
  }

  /** A free part buffer (reused when one is back from S3). */
  buffer(size: number): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafe(size);
  }

  /** Starts uploading the first `length` bytes of `part`; waits while the queue is full. */
  async send(part: Buffer, length: number): Promise<void> {
    this.#throwIfFailed();
    const uploadId = await this.#start();
    while (this.#inFlight.size >= this.#queueSize) {
      await Promise.race(this.#inFlight);
      this.#throwIfFailed();
    }
    this.#partsSent += 1;
    const partNumber = this.#partsSent;
    const upload = this.#uploadPart(uploadId, partNumber, part, length)
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => this.#inFlight.delete(upload));
    this.#inFlight.add(upload);
  }

  async #uploadPart(
    uploadId: string,
    partNumber: number,
    part: Buffer,
    length: number,
  ): Promise<void> {
    const output = await this.#s3.send(
      new UploadPartCommand({
        Bucket: this.#target.Bucket,
        Key: this.#target.Key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: part.subarray(0, length),
      }),
    );
    if (!output.ETag) throw new Error(`S3 returned no ETag for part ${partNumber}`);
    this.#completed.push({
      PartNumber: partNumber,
      ETag: output.ETag,
      ...(output.ChecksumCRC32 && { ChecksumCRC32: output.ChecksumCRC32 }),
      ...(output.ChecksumCRC32C && { ChecksumCRC32C: output.ChecksumCRC32C }),
      ...(output.ChecksumCRC64NVME && { ChecksumCRC64NVME: output.ChecksumCRC64NVME }),
      ...(output.ChecksumSHA1 && { ChecksumSHA1: output.ChecksumSHA1 }),
      ...(output.ChecksumSHA256 && { ChecksumSHA256: output.ChecksumSHA256 }),
    });
    // S3 has answered, so the request no longer reads the buffer: the next part may reuse it.
    this.#free.push(part);
  }

  /** Sends the last part and completes the upload (or puts the whole video when it is one part). */
  async finish(part: Buffer, length: number): Promise<void> {
    if (this.#started === undefined) {
      await this.#s3.send(
        new PutObjectCommand({
          ...this.#target,
          Body: part.subarray(0, length),
          ContentLength: length,
        }),
      );
      return;
    }
    await this.send(part, length);
    await this.settle();
    this.#throwIfFailed();
    await this.#s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.#target.Bucket,
        Key: this.#target.Key,
        UploadId: await this.#started,
        MultipartUpload: {
          Parts: this.#completed.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0)),
        },
      }),
    );
  }

  /** Waits for every part request still in flight (before an abort, so none lands after it). */
  async settle(): Promise<void> {
    await Promise.all(this.#inFlight);
  }

  #start(): Promise<string> {
    this.#started ??= (async () => {
      // As lib-storage does: with checksums on (the SDK's default), the parts carry CRC32s.
      const checksums = await this.#s3.config.requestChecksumCalculation();
      const output = await this.#s3.send(
        new CreateMultipartUploadCommand({
          ...this.#target,
          ...(checksums === 'WHEN_SUPPORTED' && { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 }),
        }),
      );
      if (!output.UploadId) throw new Error('S3 returned no UploadId');
      this.uploadId = output.UploadId;
      return output.UploadId;
    })();
    return this.#started;
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}

function asStorageError(error: unknown, doing: string): Error {
  if (error instanceof StorageError) return error;
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new StorageError(`S3 failed ${doing}: ${detail}`, { cause: error });
}
