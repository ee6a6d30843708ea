import { createdOnFirstUse } from './aws-client.ts';
import { DynamoDocumentClient } from './dynamodb-documents.ts';

/** The DynamoDB document client (see aws-client.ts and dynamodb-documents.ts). */
export const dynamoDb = createdOnFirstUse(() => new DynamoDocumentClient());
