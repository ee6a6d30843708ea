import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '../observability/observability.ts';
import { AWS_MAX_ATTEMPTS, createdOnFirstUse } from './aws-client.ts';

/** The DynamoDB document client (see aws-client.ts). */
export const dynamoDb = createdOnFirstUse(() =>
  // The document client shares the captured client's middleware stack, hence its tracing.
  DynamoDBDocumentClient.from(
    tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts: AWS_MAX_ATTEMPTS })),
    { marshallOptions: { removeUndefinedValues: true } },
  ),
);
