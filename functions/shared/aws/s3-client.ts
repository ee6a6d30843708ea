import { S3Client } from '@aws-sdk/client-s3';
import { tracer } from '../observability/observability.ts';
import { AWS_MAX_ATTEMPTS, createdOnFirstUse } from './aws-client.ts';

/** The S3 client (see aws-client.ts). */
export const s3 = createdOnFirstUse(() =>
  tracer.captureAWSv3Client(
    new S3Client({
      maxAttempts: AWS_MAX_ATTEMPTS,
      // Path-style keeps s3rver (http://127.0.0.1:PORT/bucket/key) and AWS on the same code path.
      forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3),
    }),
  ),
);
