import { createHash } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { jobKey } from '../../functions/shared/jobs/jobs-table.ts';
import type { LocalStack } from '../../infra/local/local-stack.ts';
import type { ExecutionRecord } from '../../infra/local/local-step-functions.ts';

/** What a test needs to drive the local stack from outside, as a client and as an inspector. */
export interface StackClient {
  /** An HTTP call to the API, authenticated unless `headers` says otherwise. */
  api(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: unknown }>;
  submit(request: Record<string, unknown>): Promise<string>;
  /** Resolves when the execution of `jobId` ends (at once if it already has). */
  executionEnd(jobId: string): Promise<ExecutionRecord>;
  executionCount(): number;
  jobRecord(jobId: string): Promise<Record<string, unknown> | undefined>;
  /**
   * The jobs' records once every one has ended (COMPLETED, FAILED or CANCELLED), whichever
   * execution ended them: a job whose create was refused goes on in a later execution.
   */
  jobsEnded(jobIds: readonly string[], timeoutMs?: number): Promise<Record<string, unknown>[]>;
  /** Any item of the jobs table by its key (limits, breakers). */
  item(key: Record<string, string>): Promise<Record<string, unknown> | undefined>;
  /** The jobs recorded in the table (its limits items not counted). */
  jobCount(): Promise<number>;
  objectBytes(key: string): Promise<Buffer>;
  objectKeys(prefix: string): Promise<string[]>;
}

export const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export function stackClient(stack: LocalStack): StackClient {
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: stack.dynamodbEndpoint, region: 'us-east-1', credentials }),
  );
  const s3 = new S3Client({
    endpoint: stack.s3Endpoint,
    region: 'us-east-1',
    credentials,
    forcePathStyle: true,
  });

  const api: StackClient['api'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = options.headers ?? { ...stack.headers };
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  };

  return {
    api,
    async submit(request) {
      const { status, body } = await api('POST', '/videos', { body: request });
      if (status !== 202)
        throw new Error(`POST /videos answered ${status}: ${JSON.stringify(body)}`);
      return (body as { id: string }).id;
    },
    executionEnd(jobId) {
      return new Promise((resolve) => {
        const off = stack.stepFunctions.onExecutionEnd((record) => {
          if (record.name !== jobId) return;
          off();
          resolve(record);
        });
        const [current] = stack.stepFunctions
          .listExecutions({ stateMachineArn: stack.stateMachineArn })
          .executions.filter((record) => record.name === jobId && record.status !== 'RUNNING');
        if (current) {
          off();
          resolve(current);
        }
      });
    },
    executionCount() {
      return stack.stepFunctions.listExecutions({
        stateMachineArn: stack.stateMachineArn,
        maxResults: 1000,
      }).executions.length;
    },
    async jobRecord(jobId) {
      const { Item } = await dynamo.send(
        new GetCommand({ TableName: stack.table, Key: jobKey(jobId) }),
      );
      return Item;
    },
    async jobsEnded(jobIds, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const records = await Promise.all(jobIds.map((jobId) => this.jobRecord(jobId)));
        const ended = records.every((record) =>
          ['COMPLETED', 'FAILED', 'CANCELLED'].includes(String(record?.status)),
        );
        if (ended) return records.map((record) => record ?? {});
        if (Date.now() > deadline) {
          throw new Error(`jobs not ended: ${records.map((r) => r?.status).join(', ')}`);
        }
        // One read per job: not so often that the reads take the CPU the jobs run on.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async item(key) {
      const { Item } = await dynamo.send(
        new GetCommand({ TableName: stack.table, Key: key, ConsistentRead: true }),
      );
      return Item;
    },
    async jobCount() {
      const { Count } = await dynamo.send(
        // Jobs only: the table also holds limits items, such as the per-client request
        // counters every API request writes.
        new ScanCommand({
          TableName: stack.table,
          Select: 'COUNT',
          FilterExpression: 'sk = :job',
          ExpressionAttributeValues: { ':job': 'JOB' },
        }),
      );
      return Count ?? 0;
    },
    async objectBytes(key) {
      const object = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
      return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    },
    async objectKeys(prefix) {
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: prefix }),
      );
      return (listed.Contents ?? []).map((object) => object.Key ?? '');
    },
  };
}

/** The headers a named client of the stack sends (`--clients`); a missing name is a test bug. */
export function clientHeaders(
  stack: Pick<LocalStack, 'clients'>,
  name: string,
): Record<string, string> {
  const headers = stack.clients[name]?.headers;
  if (!headers) throw new Error(`the stack has no client ${name}`);
  return { ...headers };
}

/** Resolves once `condition` holds, checking every few ms; fails after `timeoutMs`. */
export async function eventually(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
