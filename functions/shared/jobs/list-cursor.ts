import { ValidationError } from './job-errors.ts';

/**
 * The opaque `cursor` of a job list page: the index position of the page's last item (DynamoDB's
 * LastEvaluatedKey), as base64url JSON. Decoding checks its shape so a tampered or foreign
 * cursor is a 400 naming `cursor`, never a DynamoDB error.
 */

export type CursorKey = Record<string, string>;

const MAX_CURSOR_LENGTH = 2048;

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor that must hold exactly `attributes` (all strings) and, for `partition`, the
 * partition being listed (a cursor from a list by status cannot continue another list).
 */
export function decodeCursor(
  cursor: string,
  attributes: readonly string[],
  partition: { attribute: string; value: string },
): CursorKey {
  const invalid = () => new ValidationError('cursor', 'cursor is not a cursor of this list');
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[\w-]+$/.test(cursor)) {
    throw invalid();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new ValidationError('cursor', 'cursor is not a cursor of this list', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid();
  const entries = Object.entries(parsed);
  const key: CursorKey = {};
  for (const [name, value] of entries) {
    if (!attributes.includes(name) || typeof value !== 'string' || value === '') throw invalid();
    key[name] = value;
  }
  if (entries.length !== attributes.length || key[partition.attribute] !== partition.value) {
    throw invalid();
  }
  return key;
}
