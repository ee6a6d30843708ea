import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDocumentClient } from '../../functions/shared/aws/dynamodb-client.ts';
import { startDynamoDbLocal as startJava } from '../../infra/local/dynamodb-local.ts';
import { jobsTableDefinition } from './jobs-table-definition.ts';

export interface DynamoDbLocal {
  endpoint: string;
  client: DynamoDBClient;
  /** The pipeline's own document client (dynamodb-client.ts), pointed at this instance. */
  documents: DynamoDBDocumentClient;
  /** Creates the jobs table (same definition as CDK) and returns its name. */
  createJobsTable(tableName: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The pipeline's document client (dynamodb-client.ts: its retries, timeouts and marshalling) for
 * a local DynamoDB endpoint, with fake credentials; `maxAttempts` overrides its retries.
 */
export function localDocuments(
  endpoint: string,
  options: { maxAttempts?: number } = {},
): DynamoDBDocumentClient {
  return createDynamoDocumentClient({
    ...options,
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/**
 * Starts DynamoDB Local in memory on a free 127.0.0.1 port, as the local stack does
 * (infra/local/dynamodb-local.ts: the JVM flags that halve its start-up CPU, a watchdog that ends
 * java with this process), and resolves once it answers.
 */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const java = await startJava();
  const { endpoint } = java;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const documents = localDocuments(endpoint, { maxAttempts: 1 });
  return {
    endpoint,
    client,
    documents,
    async createJobsTable(tableName) {
      await client.send(new CreateTableCommand(jobsTableDefinition(tableName)));
      return tableName;
    },
    async stop() {
      documents.destroy();
      client.destroy();
      await java.stop();
    },
  };
}
