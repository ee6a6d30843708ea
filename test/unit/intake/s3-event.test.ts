import { describe, expect, it } from 'vitest';
import {
  decodeS3EventKey,
  encodeS3EventKey,
  parseS3Event,
} from '../../../functions/intake/s3-event.ts';

function record(key: string, extra: Record<string, unknown> = {}, eventName = 'ObjectCreated:Put') {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    eventName,
    s3: { bucket: { name: 'videos' }, object: { key, size: 12, ...extra } },
  };
}

describe('parseS3Event', () => {
  it('returns the created objects with decoded keys, size, ETag and version id', () => {
    const event = {
      Records: [record('inbox/my+prompt%C3%A9.txt', { eTag: 'abc', versionId: 'v1' })],
    };

    expect(parseS3Event(event)).toEqual({
      objects: [
        { bucket: 'videos', key: 'inbox/my prompté.txt', size: 12, eTag: 'abc', versionId: 'v1' },
      ],
      skipped: 0,
    });
  });

  it('skips removals, malformed records and keys that do not decode', () => {
    const event = {
      Records: [
        record('inbox/a.txt', {}, 'ObjectRemoved:Delete'),
        { eventName: 'ObjectCreated:Put' },
        record('inbox/%E0%A4%A.txt'),
        record('inbox/b.txt'),
      ],
    };

    const parsed = parseS3Event(event);

    expect(parsed.skipped).toBe(3);
    expect(parsed.objects.map((object) => object.key)).toEqual(['inbox/b.txt']);
  });

  it('treats something that is not an S3 event as one skipped record', () => {
    expect(parseS3Event({ Event: 's3:TestEvent' })).toEqual({ objects: [], skipped: 1 });
  });
});

describe('S3 event key encoding', () => {
  it('round-trips keys with spaces, plus signs, slashes and non-ASCII characters', () => {
    const key = 'inbox/team a/c++ & more/été.jsonl';

    const encoded = encodeS3EventKey(key);

    expect(encoded).toBe('inbox/team+a/c%2B%2B+%26+more/%C3%A9t%C3%A9.jsonl');
    expect(decodeS3EventKey(encoded)).toBe(key);
  });
});
