import * as z from 'zod/mini';
import '../shared/schema-messages.ts';
import type { DroppedObject } from '../shared/intake/ingest-object.ts';

const recordSchema = z.object({
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string().check(z.minLength(1)) }),
    object: z.object({
      key: z.string().check(z.minLength(1)),
      size: z.optional(z.int().check(z.nonnegative())),
      eTag: z.optional(z.string()),
      versionId: z.optional(z.string()),
    }),
  }),
});

const eventSchema = z.object({ Records: z.array(z.unknown()) });

export interface ParsedS3Event {
  objects: DroppedObject[];
  /** Records that are not object-created records of the expected shape. */
  skipped: number;
}

/**
 * The created objects of an S3 notification event. Keys arrive URL-encoded with `+` for spaces
 * (`inbox/my+prompt.txt`); they are decoded here. Other records (removals, test events, anything
 * malformed) are counted and skipped: retrying them could never help.
 */
export function parseS3Event(event: unknown): ParsedS3Event {
  const parsed = eventSchema.safeParse(event);
  if (!parsed.success) return { objects: [], skipped: 1 };
  const objects: DroppedObject[] = [];
  let skipped = 0;
  for (const raw of parsed.data.Records) {
    const record = recordSchema.safeParse(raw);
    const key = record.success ? decodeS3EventKey(record.data.s3.object.key) : undefined;
    if (!record.success || !record.data.eventName.startsWith('ObjectCreated:') || !key) {
      skipped += 1;
      continue;
    }
    const { bucket, object } = record.data.s3;
    const dropped: DroppedObject = { bucket: bucket.name, key };
    if (object.size !== undefined) dropped.size = object.size;
    if (object.eTag) dropped.eTag = object.eTag;
    if (object.versionId) dropped.versionId = object.versionId;
    objects.push(dropped);
  }
  return { objects, skipped };
}

/** S3 event keys are form-encoded: `+` is a space, the rest percent-encoded UTF-8. */
export function decodeS3EventKey(key: string): string | undefined {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The inverse, as S3 encodes keys in its events (the local stack builds events with it). */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}
