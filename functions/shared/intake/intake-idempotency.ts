import { createHash } from 'node:crypto';

/**
 * The idempotency key of one entry of a dropped file: a hash of bucket, key, object version (the
 * version id, or the ETag in an unversioned bucket) and line number. S3 delivers events at least
 * once; a redelivery hashes to the same keys and gets the same jobs back, while a new upload of
 * the same name (a new version) is new work. Hashed so any key length fits the store's limits.
 */
export function intakeIdempotencyKey(entry: {
  bucket: string;
  key: string;
  version: string;
  line: number;
}): string {
  const material = JSON.stringify([
    'intake-v1',
    entry.bucket,
    entry.key,
    entry.version,
    entry.line,
  ]);
  return createHash('sha256').update(material).digest('hex');
}

/** An ETag as S3 events carry it: without the quotes HTTP headers put around it. */
export function normalizeETag(eTag: string | undefined): string | undefined {
  if (eTag === undefined) return undefined;
  const bare = eTag.replace(/^"|"$/g, '');
  return bare === '' ? undefined : bare;
}

/**
 * The batch id every job of one dropped file (one version of one object) shares, for
 * `GET /videos?batch=` and `POST /batches/{id}/cancel`: stable across redeliveries.
 */
export function intakeBatchId(origin: { bucket: string; key: string; version: string }): string {
  const material = JSON.stringify(['batch-v1', origin.bucket, origin.key, origin.version]);
  return `batch_${createHash('sha256').update(material).digest('hex').slice(0, 24)}`;
}

/** The batch ids `intakeBatchId` makes. */
export const BATCH_ID_PATTERN = /^batch_[0-9a-f]{24}$/;
