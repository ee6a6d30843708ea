import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { tracer } from '../observability/observability.ts';
import { AWS_MAX_ATTEMPTS, createdOnFirstUse } from './aws-client.ts';

/** The EventBridge client (see aws-client.ts). */
export const eventBridge = createdOnFirstUse(() =>
  tracer.captureAWSv3Client(new EventBridgeClient({ maxAttempts: AWS_MAX_ATTEMPTS })),
);
