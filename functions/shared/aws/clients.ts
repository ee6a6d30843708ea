/**
 * AWS SDK clients, created once per module load (one per Lambda container), never per
 * invocation. Endpoints come from the standard `AWS_ENDPOINT_URL_*` variables, which is how the
 * local stack points the same code at DynamoDB Local, s3rver and its own endpoint.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

// A few SDK retries on AWS calls are safe: none of them starts a paid provider job.
const maxAttempts = 3;

export const dynamoDb = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts }), {
  marshallOptions: { removeUndefinedValues: true },
});

// Path-style keeps s3rver (http://127.0.0.1:PORT/bucket/key) and AWS on the same code path.
export const s3 = new S3Client({
  maxAttempts,
  forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3),
});

export const sfn = new SFNClient({ maxAttempts });

export const secretsManager = new SecretsManagerClient({ maxAttempts });
