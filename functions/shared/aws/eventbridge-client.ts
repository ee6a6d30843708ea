import { createdOnFirstUse } from './aws-client.ts';
import { AwsJsonClient } from './aws-json-api.ts';

export const EVENTBRIDGE_SERVICE = {
  traceName: 'EventBridge',
  signingName: 'events',
  hostPrefix: 'events',
  endpointId: 'EVENTBRIDGE',
  targetPrefix: 'AWSEvents',
  jsonVersion: '1.1',
} as const;

/** EventBridge over its JSON API (aws-json-api.ts): PutEvents is the pipeline's only call. */
export const eventBridge = createdOnFirstUse(() => new AwsJsonClient(EVENTBRIDGE_SERVICE));
