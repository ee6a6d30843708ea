import { pipeline, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { loggableError } from '../observability/loggable-error.ts';
import { logger } from '../observability/observability.ts';
import { ProviderError } from '../provider/provider-errors.ts';
import { type InspectedContent, inspectContent, MP4_SIGNATURE } from './content-inspector.ts';
import { InvalidContentError, StorageError } from './storage-errors.ts';

/**
 * Puts generated media into S3: the MP4 streamed through a multipart upload (memory bounded by
 * part size x queue size, whatever the video's size), the small images in one request. Every
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

  async #streamUpload(
    key: string,
    content: ContentSource,
    contentType: string,
    jobId: string,
  ): Promise<InspectedContent> {
    const inspector = inspectContent({
      expectedLength: content.contentLength,
      signature: MP4_SIGNATURE,
    });
    // A failure anywhere destroys both streams, which cancels the provider's HTTP body.
    const body = pipeline(content.stream, inspector.stream, () => undefined);
    const upload = new Upload({
      client: this.#s3,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        Metadata: { [METADATA_JOB_ID]: jobId },
      },
      partSize: this.#partSizeBytes,
      queueSize: this.#queueSize,
      // Aborting is done here, so a failed abort cannot mask the reason the upload failed.
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (error) {
      // Stop reading the provider: S3 may have failed while the body was still flowing.
      content.stream.destroy();
      body.destroy();
      await this.#abortQuietly(key, upload.uploadId);
      if (error instanceof InvalidContentError || error instanceof ProviderError) throw error;
      throw asStorageError(error, `uploading s3://${this.bucket}/${key}`);
    }
    return inspector.result();
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

function asStorageError(error: unknown, doing: string): Error {
  if (error instanceof StorageError) return error;
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new StorageError(`S3 failed ${doing}: ${detail}`, { cause: error });
}
