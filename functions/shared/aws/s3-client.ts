import { S3Client } from '@aws-sdk/client-s3';
import { tracer } from '../observability/observability.ts';
import {
  AWS_MAX_ATTEMPTS,
  createdOnFirstUse,
  hostedChecksumConfig,
  hostedClientConfig,
} from './aws-client.ts';

/** The S3 client (see aws-client.ts). */
export const s3 = createdOnFirstUse(() => {
  const hosted = hostedClientConfig('S3');
  return tracer.captureAWSv3Client(
    new S3Client({
      maxAttempts: AWS_MAX_ATTEMPTS,
      ...hosted,
      ...hostedChecksumConfig(),
      // Path-style keeps s3rver (http://127.0.0.1:PORT/bucket/key) and AWS on the same code path.
      forcePathStyle: Boolean('endpoint' in hosted || process.env.AWS_ENDPOINT_URL_S3),
    }),
  );
});
