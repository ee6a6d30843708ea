import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CONTENT_LINK_TTL_SECONDS, type ContentLink } from './content-link.ts';

/** Presigned S3 GET links to objects of `bucket`, valid CONTENT_LINK_TTL_SECONDS. */
export function createContentLink(s3: S3Client, bucket: string): ContentLink {
  return (key) =>
    getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: CONTENT_LINK_TTL_SECONDS,
    });
}
