import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { tracer } from '../observability/observability.ts';
import {
  AWS_MAX_ATTEMPTS,
  createdOnFirstUse,
  hostedClientConfig,
  QUICK_CALL_TIMEOUTS,
  retrySettings,
} from './aws-client.ts';

/**
 * The EventBridge client (see aws-client.ts): PutEvents of job events is its only call. Three
 * tries: an event that still fails is logged and counted, never fails the change it reports
 * (job-events.ts), so more tries would only hold the invocation longer.
 */
export const eventBridge = createdOnFirstUse(() =>
  tracer.captureAWSv3Client(
    new EventBridgeClient({
      ...retrySettings(AWS_MAX_ATTEMPTS),
      requestHandler: QUICK_CALL_TIMEOUTS,
      ...hostedClientConfig('EVENTBRIDGE'),
    }),
  ),
);
