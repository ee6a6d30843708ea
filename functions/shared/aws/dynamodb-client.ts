import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '../observability/observability.ts';
import {
  createdOnFirstUse,
  hostedClientConfig,
  QUICK_CALL_TIMEOUTS,
  retrySettings,
} from './aws-client.ts';

// Four tries, the SDK's own default for DynamoDB (it answers in milliseconds, so a retry costs
// little) kept on purpose: every write of the stores is safe to send again. A retried
// conditional write that meets its own first write (its answer was lost) is recognised and
// answered as written (dynamo-job-store.ts), and a transaction carries a ClientRequestToken the
// SDK draws once per call and keeps across its retries, so DynamoDB applies it once.
const DYNAMODB_MAX_ATTEMPTS = 4;

/**
 * A document client on a DynamoDB client with the pipeline's settings (retries, timeouts,
 * tracing); `config` adds to them (tests point it at DynamoDB Local). Plain values in and out;
 * an undefined attribute is left out of the item rather than refused.
 */
export function createDynamoDocumentClient(
  config: DynamoDBClientConfig = {},
): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    ...retrySettings(DYNAMODB_MAX_ATTEMPTS),
    requestHandler: QUICK_CALL_TIMEOUTS,
    ...hostedClientConfig('DYNAMODB'),
    ...config,
  });
  // The document client shares the captured client's middleware stack, hence its tracing.
  return DynamoDBDocumentClient.from(tracer.captureAWSv3Client(client), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/** The DynamoDB document client (see aws-client.ts). */
export const dynamoDb = createdOnFirstUse(() => createDynamoDocumentClient());
