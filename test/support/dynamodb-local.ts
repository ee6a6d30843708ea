import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoDocumentClient } from '../../functions/shared/aws/dynamodb-client.ts';
import {
  type RunningDynamoDbLocal,
  startDynamoDbLocal as startJava,
} from '../../infra/local/dynamodb-local.ts';
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

/** The DynamoDB Local of this test process, started on first use (see startDynamoDbLocal). */
let shared: Promise<RunningDynamoDbLocal> | undefined;

/**
 * DynamoDB Local in memory on a free 127.0.0.1 port, started as the local stack starts it
 * (infra/local/dynamodb-local.ts: the JVM flags and class-data archive that cut its start-up CPU,
 * a watchdog that ends java with this process), once per test process: the integration files
 * share a process per worker (vitest.config.ts), and each makes tables of its own names, so one
 * JVM serves them all instead of one per file (about 2 CPU-seconds each). `stop()` closes this
 * caller's clients; java ends with the process.
 */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  shared ??= startJava().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  const { endpoint } = await shared;
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
    },
  };
}

/** Stops this process's DynamoDB Local: for a script that goes on or must exit (a bench). */
export async function stopSharedDynamoDbLocal(): Promise<void> {
  const running = shared;
  shared = undefined;
  await (await running?.catch(() => undefined))?.stop();
}
