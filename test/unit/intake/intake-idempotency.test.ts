import { describe, expect, it } from 'vitest';
import {
  intakeIdempotencyKey,
  normalizeETag,
} from '../../../functions/shared/intake/intake-idempotency.ts';

const entry = { bucket: 'videos', key: 'inbox/a.jsonl', version: 'v1', line: 3 };

describe('intakeIdempotencyKey', () => {
  it('is the same for the same entry of the same object version (a redelivered event)', () => {
    expect(intakeIdempotencyKey({ ...entry })).toBe(intakeIdempotencyKey(entry));
  });

  it('differs by bucket, key, version and line, and is 64 hex characters whatever the key length', () => {
    const keys = [
      intakeIdempotencyKey(entry),
      intakeIdempotencyKey({ ...entry, bucket: 'other' }),
      intakeIdempotencyKey({ ...entry, key: `inbox/${'x'.repeat(1000)}.jsonl` }),
      intakeIdempotencyKey({ ...entry, version: 'v2' }),
      intakeIdempotencyKey({ ...entry, line: 4 }),
    ];

    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{64}$/);
  });

  it('cannot be confused by separators inside the parts', () => {
    const a = intakeIdempotencyKey({ bucket: 'b', key: 'inbox/x', version: 'y', line: 1 });
    const b = intakeIdempotencyKey({ bucket: 'b', key: 'inbox/x","y', version: '', line: 1 });

    expect(a).not.toBe(b);
  });
});

describe('normalizeETag', () => {
  it('strips the quotes of an HTTP ETag so it matches the event form', () => {
    expect(normalizeETag('"abc-2"')).toBe('abc-2');
    expect(normalizeETag('abc')).toBe('abc');
    expect(normalizeETag('""')).toBeUndefined();
    expect(normalizeETag(undefined)).toBeUndefined();
  });
});
