import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

/**
 * The port DynamoDB Local is given is found free seconds before java binds it; the local stack
 * starts its other servers meanwhile, and one of them can take it (a CI run failed so: the
 * stack's AWS endpoint answered the readiness probe, then refused CreateTable). Here an HTTP
 * server holds the first port handed out, answering every request as that endpoint did.
 */
let taken: Server;
let takenPort = 0;
const handedOut: number[] = [];

vi.mock('../../infra/local/ports.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../infra/local/ports.ts')>();
  return {
    ...original,
    findFreePort: async () => {
      const port = handedOut.length === 0 ? takenPort : await original.findFreePort();
      handedOut.push(port);
      return port;
    },
  };
});

const { startDynamoDbLocal } = await import('../../infra/local/dynamodb-local.ts');

describe('DynamoDB Local on a port another server took first', () => {
  beforeAll(async () => {
    taken = createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ __type: 'UnknownOperationException', message: 'Unsupported' }));
    });
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    takenPort = (taken.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  });

  it('is not taken for ready by the other server, and starts again on another port', async () => {
    // A cache of its own: the class-data archive is written by the JVM that served, not by the
    // one that could not bind (an archive of its boot alone, which a CI run kept).
    const archiveCacheDir = await mkdtemp(join(tmpdir(), 'dynamodb-local-port-'));
    const dynamoDb = await startDynamoDbLocal({ archiveCacheDir });
    try {
      if (existsSync('/proc/self')) {
        const line = (await readFile(`/proc/${dynamoDb.pid}/cmdline`, 'utf8')).split('\0');
        expect(line.some((arg) => arg.startsWith('-XX:ArchiveClassesAtExit='))).toBe(true);
      }
      expect(handedOut[0]).toBe(takenPort);
      expect(handedOut).toHaveLength(2);
      expect(dynamoDb.port).toBe(handedOut[1]);
      const client = new DynamoDBClient({
        endpoint: dynamoDb.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const answer = await client.send(new ListTablesCommand({}));
      client.destroy();
      expect(answer.TableNames).toEqual([]);
    } finally {
      await dynamoDb.stop();
    }
    // Then kept, with no claim left: the next start maps it.
    const [key = ''] = await readdir(archiveCacheDir);
    expect((await readdir(join(archiveCacheDir, key))).sort()).toEqual([
      'DynamoDBLocal.jar',
      'DynamoDBLocal_lib',
      'classes.jsa',
    ]);
    await rm(archiveCacheDir, { recursive: true, force: true });
  }, 120_000);
});
