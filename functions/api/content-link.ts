import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** A short-lived GET link to an object of the videos bucket. */
export type ContentLink = (key: string) => Promise<string>;

/**
 * Links live five minutes: long enough to start a download (S3 checks the expiry when the
 * request starts, not while it streams), short enough that a leaked link is soon useless.
 */
export const CONTENT_LINK_TTL_SECONDS = 300;

export function createContentLink(s3: S3Client, bucket: string): ContentLink {
  return (key) =>
    getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: CONTENT_LINK_TTL_SECONDS,
    });
}
