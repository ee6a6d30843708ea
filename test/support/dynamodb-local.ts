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

/** The DynamoDB Local of this process, started on first use outside a test run (a bench). */
let shared: Promise<RunningDynamoDbLocal> | undefined;

/**
 * DynamoDB Local in memory on 127.0.0.1, as the local stack starts it
 * (infra/local/dynamodb-local.ts: the JVM flags and class-data archive that cut its start-up CPU,
 * a watchdog that ends java with its parent). In a test run it is the run's one instance
 * (test/global-dynamodb.ts); elsewhere (a bench) this process starts one on first use. Each
 * caller makes tables of its own names, so one JVM serves them all instead of one per file
 * (2-4 CPU-seconds each). `stop()` closes this caller's clients, not the JVM.
 */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const endpoint = (await endpointOfTheRun()) ?? (await ownInstance()).endpoint;
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

/** The run's DynamoDB Local, inside vitest (which sets VITEST in its workers). */
async function endpointOfTheRun(): Promise<string | undefined> {
  if (!process.env.VITEST) return undefined;
  const { inject } = await import('vitest');
  return inject('dynamoDbEndpoint');
}

function ownInstance(): Promise<RunningDynamoDbLocal> {
  shared ??= startJava().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

/** Stops this process's DynamoDB Local: for a script that goes on or must exit (a bench). */
export async function stopSharedDynamoDbLocal(): Promise<void> {
  const running = shared;
  shared = undefined;
  await (await running?.catch(() => undefined))?.stop();
}
