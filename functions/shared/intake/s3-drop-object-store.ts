import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { DropObjectStore, DroppedObject, ReadResult } from './ingest-object.ts';
import { normalizeETag } from './intake-idempotency.ts';
import type { IntakeReport } from './intake-report.ts';

/**
 * The drop folder on S3. Reads exactly the version the event names (by version id, or by ETag with
 * If-Match in an unversioned bucket) so a quick overwrite is never processed under the old
 * version's idempotency keys; reads at most `maxBytes`, whatever the object claims to be.
 */
export function createS3DropObjectStore(s3: S3Client): DropObjectStore {
  return {
    async read(object: DroppedObject, maxBytes: number): Promise<ReadResult> {
      const eTag = normalizeETag(object.eTag);
      let output: GetObjectCommandOutput;
      try {
        output = await s3.send(
          new GetObjectCommand({
            Bucket: object.bucket,
            Key: object.key,
            ...(object.versionId ? { VersionId: object.versionId } : {}),
            ...(!object.versionId && eTag ? { IfMatch: `"${eTag}"` } : {}),
          }),
        );
      } catch (error) {
        if (error instanceof S3ServiceException) {
          const status = error.$metadata.httpStatusCode;
          if (status === 404 || error.name === 'NoSuchKey' || error.name === 'NoSuchVersion') {
            return { kind: 'gone' };
          }
          if (status === 412 || error.name === 'PreconditionFailed') return { kind: 'superseded' };
        }
        throw error;
      }
      const body = nodeStream(output.Body);
      const readETag = normalizeETag(output.ETag);
      // An emulator that ignores If-Match still tells the versions apart by ETag.
      if (!object.versionId && eTag && readETag && readETag !== eTag) {
        body?.destroy?.();
        return { kind: 'superseded' };
      }
      if (output.ContentLength !== undefined && output.ContentLength > maxBytes) {
        body?.destroy?.();
        return { kind: 'too-large', bytes: output.ContentLength };
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      for await (const chunk of body ?? []) {
        total += chunk.byteLength;
        if (total > maxBytes) {
          body?.destroy?.();
          return { kind: 'too-large', bytes: output.ContentLength ?? total };
        }
        chunks.push(chunk);
      }
      const result: ReadResult = { kind: 'read', bytes: Buffer.concat(chunks) };
      if (output.VersionId !== undefined && output.VersionId !== 'null') {
        result.versionId = output.VersionId;
      }
      if (readETag !== undefined) result.eTag = readETag;
      return result;
    },

    async putReport(bucket: string, key: string, report: IntakeReport): Promise<void> {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: `${JSON.stringify(report, null, 2)}\n`,
          ContentType: 'application/json',
        }),
      );
    },
  };
}

type ByteStream = AsyncIterable<Uint8Array> & { destroy?: () => void };

/** The SDK's body in Node.js: a Readable, iterated chunk by chunk. */
function nodeStream(body: unknown): ByteStream | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'object' && Symbol.asyncIterator in body) return body as ByteStream;
  throw new TypeError('S3 object body is not a Node.js stream');
}
