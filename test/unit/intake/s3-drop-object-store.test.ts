import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createS3DropObjectStore } from '../../../functions/shared/intake/s3-drop-object-store.ts';

const s3 = new S3Client({ region: 'us-east-1' });
const mock = mockClient(s3);
const store = createS3DropObjectStore(s3);

// In Node.js the SDK hands out the HTTP response stream; a Readable is what the code iterates.
const body = (...chunks: string[]) =>
  Readable.from(
    chunks.map((chunk) => Buffer.from(chunk)),
  ) as unknown as GetObjectCommandOutput['Body'];

beforeEach(() => {
  mock.reset();
});

describe('read', () => {
  it('reads the exact version the event names', async () => {
    mock.on(GetObjectCommand).resolves({ Body: body('A fox'), VersionId: 'v1', ETag: '"e1"' });

    const result = await store.read({ bucket: 'b', key: 'inbox/a.txt', versionId: 'v1' }, 100);

    expect(result).toEqual({
      kind: 'read',
      bytes: Buffer.from('A fox'),
      versionId: 'v1',
      eTag: 'e1',
    });
    expect(mock).toHaveReceivedCommandWith(GetObjectCommand, {
      Bucket: 'b',
      Key: 'inbox/a.txt',
      VersionId: 'v1',
    });
  });

  it('reads by If-Match on the ETag in an unversioned bucket', async () => {
    mock.on(GetObjectCommand).resolves({ Body: body('x'), ETag: '"e1"' });

    await store.read({ bucket: 'b', key: 'inbox/a.txt', eTag: 'e1' }, 100);

    expect(mock).toHaveReceivedCommandWith(GetObjectCommand, { IfMatch: '"e1"' });
  });

  it('calls an object overwritten since the event superseded (412, or another ETag)', async () => {
    mock
      .on(GetObjectCommand)
      .rejectsOnce(
        new S3ServiceException({
          name: 'PreconditionFailed',
          $fault: 'client',
          $metadata: { httpStatusCode: 412 },
        }),
      )
      .resolves({ Body: body('new'), ETag: '"e2"' });

    const object = { bucket: 'b', key: 'inbox/a.txt', eTag: 'e1' };

    await expect(store.read(object, 100)).resolves.toEqual({ kind: 'superseded' });
    await expect(store.read(object, 100)).resolves.toEqual({ kind: 'superseded' });
  });

  it('calls an object deleted since the event gone', async () => {
    mock.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} }));

    await expect(store.read({ bucket: 'b', key: 'inbox/a.txt' }, 100)).resolves.toEqual({
      kind: 'gone',
    });
  });

  it('refuses to read more than the limit, by Content-Length or by counting', async () => {
    mock
      .on(GetObjectCommand)
      .resolvesOnce({ Body: body('x'), ContentLength: 101 })
      .resolves({ Body: body('a'.repeat(60), 'b'.repeat(60)) });

    const byLength = await store.read({ bucket: 'b', key: 'inbox/a.txt' }, 100);
    const byCounting = await store.read({ bucket: 'b', key: 'inbox/a.txt' }, 100);

    expect(byLength).toEqual({ kind: 'too-large', bytes: 101 });
    expect(byCounting).toEqual({ kind: 'too-large', bytes: 120 });
  });

  it('passes other S3 errors through, so the event is retried', async () => {
    const denied = new S3ServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
    });
    mock.on(GetObjectCommand).rejects(denied);

    await expect(store.read({ bucket: 'b', key: 'inbox/a.txt' }, 100)).rejects.toBe(denied);
  });
});

describe('putReport', () => {
  it('writes the report as JSON under the given key', async () => {
    mock.on(PutObjectCommand).resolves({});
    const report = {
      source: { bucket: 'b', key: 'inbox/a.txt' },
      processedAt: '2026-01-01T00:00:00.000Z',
      totals: { entries: 0, accepted: 0, rejected: 0 },
      results: [],
    };

    await store.putReport('b', 'inbox-results/a.txt.json', report);

    expect(mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'b',
      Key: 'inbox-results/a.txt.json',
      ContentType: 'application/json',
      Body: `${JSON.stringify(report, null, 2)}\n`,
    });
  });
});
