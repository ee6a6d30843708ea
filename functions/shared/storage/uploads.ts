import { createHash } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ValidationError } from '../jobs/job-errors.ts';
import { inspectImage, MAX_REFERENCE_IMAGE_BYTES } from '../media/reference-image.ts';
import { clientUploadsPrefix, uploadKeyProblem } from './upload-keys.ts';

/** Reads an uploaded reference image; undefined when there is no such object. */
export type ReadUpload = (key: string) => Promise<Uint8Array | undefined>;

/**
 * Reads objects under `uploads/` in the videos bucket, at most one byte more than a reference
 * image may have (so an oversized one is told apart without reading it whole). A key that is not
 * a plain name under `uploads/` (upload-keys.ts) is never sent to S3.
 */
export function createUploadReader(s3: S3Client, bucket: string): ReadUpload {
  return async (key) => {
    if (uploadKeyProblem(key) !== undefined) return undefined;
    try {
      const output = await s3.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: `bytes=0-${MAX_REFERENCE_IMAGE_BYTES}`,
        }),
      );
      return output.Body === undefined ? undefined : await output.Body.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        return undefined;
      }
      throw error;
    }
  };
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
};

/** Stores an image sent by `client` and answers its key. */
export type StoreUpload = (bytes: Uint8Array, client: string) => Promise<string>;

/**
 * Stores an image sent with a request under its client's prefix,
 * `uploads/<client>/sha256-<hash>.<ext>`: named by its content, so a retried request stores
 * nothing new, and in the client's own uploads, so no other client can use it or learn that the
 * same image was sent. Only an image (by its bytes) is stored; whether it fits the request is
 * checked when the job is submitted.
 */
export function createUploadStore(s3: S3Client, bucket: string): StoreUpload {
  return async (bytes, client) => {
    const info = inspectImage(bytes);
    if (info === undefined) {
      throw new ValidationError(
        'input_reference',
        'input_reference: must be a JPEG, PNG or WebP image',
      );
    }
    const hash = createHash('sha256').update(bytes).digest('hex');
    const key = `${clientUploadsPrefix(client)}sha256-${hash}.${EXTENSIONS[info.contentType] ?? 'img'}`;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: bytes,
        ContentType: info.contentType,
      }),
    );
    return key;
  };
}
