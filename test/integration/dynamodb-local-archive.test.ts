import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DYNAMODB_LOCAL_RELEASE,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from '../../infra/local/dynamodb-local.ts';
import { archivedLaunch } from '../../infra/local/dynamodb-local-archive.ts';

/**
 * DynamoDB Local's class-data-sharing archive (dynamodb-local-archive.ts): the first JVM writes
 * it as it stops, the next ones map it, only one JVM writes at a time, and a cache that cannot be
 * used costs only the speed. Each test has its own cache directory, never the project's.
 */
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dynamodb-local-archive-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** java's command line, from /proc. */
async function commandLine(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
}

/** Whether java has the archive mapped into memory: the JVM accepted it and reads classes from it. */
async function mapsArchive(pid: number, archive: string): Promise<boolean> {
  return (await readFile(`/proc/${pid}/maps`, 'utf8')).includes(archive);
}

async function answers(dynamoDb: RunningDynamoDbLocal, table?: string): Promise<string[]> {
  const client = new DynamoDBClient({
    endpoint: dynamoDb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    if (table) {
      await client.send(
        new CreateTableCommand({
          TableName: table,
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    }
    return (await client.send(new ListTablesCommand({}))).TableNames ?? [];
  } finally {
    client.destroy();
  }
}

/** The one key directory of a cache (a cache holds one per release and java). */
async function keyDir(cache: string): Promise<string> {
  const entries = await readdir(cache);
  expect(entries).toHaveLength(1);
  return join(cache, entries[0] ?? '');
}

describe.skipIf(!existsSync('/proc/self'))('DynamoDB Local boots from a class-data archive', () => {
  // One test, two JVMs: a JVM start (and the archive's writing) is the costly part here. That
  // only one JVM writes at a time is the claim's test below.
  it('the first JVM on a cache writes the archive as it stops; the next one maps it and answers', {
    timeout: 120_000,
  }, async () => {
    const cache = join(root, 'archive');

    const first = await startDynamoDbLocal({ archiveCacheDir: cache });
    let firstLine: string[] = [];
    let created: string[] = [];
    try {
      firstLine = await commandLine(first.pid);
      created = await answers(first, 'warmed');
    } finally {
      await first.stop();
    }
    const dir = await keyDir(cache);
    const archive = join(dir, 'classes.jsa');

    expect(created).toEqual(['warmed']);
    // It runs the cache's copy of the jar, and writes the archive at exit.
    expect(firstLine).toContain(join(dir, 'DynamoDBLocal.jar'));
    expect(firstLine.some((arg) => arg.startsWith('-XX:ArchiveClassesAtExit='))).toBe(true);
    // Every JVM the stack starts keeps its telemetry to itself.
    expect(firstLine).toContain('-disableTelemetry');
    // Kept under its name, with no claim or partial file left beside it.
    expect((await readdir(dir)).sort()).toEqual([
      'DynamoDBLocal.jar',
      'DynamoDBLocal_lib',
      'classes.jsa',
    ]);

    const next = await startDynamoDbLocal({ archiveCacheDir: cache });
    try {
      expect(await commandLine(next.pid)).toContain(`-XX:SharedArchiveFile=${archive}`);
      expect(await mapsArchive(next.pid, archive)).toBe(true);
      expect(await answers(next)).toEqual([]);
    } finally {
      await next.stop();
    }
  });

  it('a cache that cannot be written costs only the speed: the release jar runs as it is', async () => {
    const cache = join(root, 'not-a-directory');
    await writeFile(cache, 'a file where the cache directory would be');

    const dynamoDb = await startDynamoDbLocal({ archiveCacheDir: cache });
    try {
      const line = await commandLine(dynamoDb.pid);
      // The release's own jar (run from the package, relative to it), not a copy in the cache.
      expect(line[line.indexOf('-jar') + 1]).toMatch(/\/dynamodb_local_[^/]+\/DynamoDBLocal\.jar$/);
      expect(line.some((arg) => arg.includes('Archive'))).toBe(false);
      expect(await answers(dynamoDb)).toEqual([]);
    } finally {
      await dynamoDb.stop();
    }
  });
});

describe('the claim to write the archive', () => {
  it('is held by one launch at a time, given back when its JVM exits, and taken over from a process that is gone', async () => {
    const cache = join(root, 'claims');

    const first = await archivedLaunch(DYNAMODB_LOCAL_RELEASE, cache);
    const second = await archivedLaunch(DYNAMODB_LOCAL_RELEASE, cache);
    expect(first?.jvmOptions.some((option) => option.includes('ArchiveClassesAtExit'))).toBe(true);
    expect(second?.jvmOptions).toEqual([]);
    // No JVM ran: nothing was written, and the claim is free again.
    await first?.exited({ served: true });
    const dir = await keyDir(cache);
    expect(await readdir(dir)).not.toContain('classes.jsa.claim');

    // A process that claimed and died: its claim and its partial archive go.
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    await writeFile(join(dir, 'classes.jsa.claim'), String(gone.pid));
    await writeFile(join(dir, `classes.jsa.${gone.pid}.tmp`), 'partial');
    const third = await archivedLaunch(DYNAMODB_LOCAL_RELEASE, cache);
    expect(third?.jvmOptions.some((option) => option.includes('ArchiveClassesAtExit'))).toBe(true);
    expect(await readdir(dir)).not.toContain(`classes.jsa.${gone.pid}.tmp`);
    // Its JVM wrote an archive but never served (it could not bind its port): not kept.
    await writeFile(join(dir, `classes.jsa.${process.pid}.tmp`), 'boot classes only');
    await third?.exited({ served: false });
    expect((await readdir(dir)).sort()).toEqual(['DynamoDBLocal.jar', 'DynamoDBLocal_lib']);
  });
});
