import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { MAX_REFERENCE_IMAGE_BYTES, UPLOADS_PREFIX } from '../media/reference-image.ts';

/** Reads an uploaded reference image; undefined when there is no such object. */
export type ReadUpload = (key: string) => Promise<Uint8Array | undefined>;

/**
 * Reads objects under `uploads/` in the videos bucket, at most one byte more than a reference
 * image may have (so an oversized one is told apart without reading it whole).
 */
export function createUploadReader(s3: S3Client, bucket: string): ReadUpload {
  return async (key) => {
    if (!key.startsWith(UPLOADS_PREFIX)) return undefined;
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
