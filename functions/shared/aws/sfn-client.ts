import { SFNClient } from '@aws-sdk/client-sfn';
import { tracer } from '../observability/observability.ts';
import { AWS_MAX_ATTEMPTS, createdOnFirstUse, hostedClientConfig } from './aws-client.ts';

/** The Step Functions client (see aws-client.ts). */
export const sfn = createdOnFirstUse(() =>
  tracer.captureAWSv3Client(
    new SFNClient({ maxAttempts: AWS_MAX_ATTEMPTS, ...hostedClientConfig('SFN') }),
  ),
);
