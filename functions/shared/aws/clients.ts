/**
 * AWS SDK clients, created once per module load (one per Lambda container), never per
 * invocation. Endpoints come from the standard `AWS_ENDPOINT_URL_*` variables, which is how the
 * local stack points the same code at DynamoDB Local, s3rver and its own endpoint.
 *
 * Each client is captured by the tracer, so its calls are subsegments of the invocation's trace
 * in Lambda; elsewhere the tracer is disabled and returns the client untouched.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '../observability/observability.ts';

// A few SDK retries on AWS calls are safe: none of them starts a paid provider job.
const maxAttempts = 3;

// The document client shares the captured client's middleware stack, hence its tracing.
export const dynamoDb = DynamoDBDocumentClient.from(
  tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts })),
  { marshallOptions: { removeUndefinedValues: true } },
);

// Path-style keeps s3rver (http://127.0.0.1:PORT/bucket/key) and AWS on the same code path.
export const s3 = tracer.captureAWSv3Client(
  new S3Client({ maxAttempts, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) }),
);

export const sfn = tracer.captureAWSv3Client(new SFNClient({ maxAttempts }));

export const secretsManager = tracer.captureAWSv3Client(new SecretsManagerClient({ maxAttempts }));

export const eventBridge = tracer.captureAWSv3Client(new EventBridgeClient({ maxAttempts }));
