import { decodeUtf8 } from '../jobs/prompt-text.ts';

/**
 * Turns the bytes of a dropped file into entries, each a video request (not yet validated) or
 * the reason it is not one. Nothing here throws for bad content: a file that cannot be read at
 * all is a `FileProblem`, a bad line an entry with an error, and the rest of the file still counts.
 *
 * - `.txt`: one prompt, the whole file trimmed.
 * - `.json`: one request, the same JSON object as the body of `POST /videos`.
 * - `.jsonl`: one request per line; blank lines are skipped, lines are numbered from 1.
 */

/** Files above this are reported, not read: a prompt file is a few KiB, a batch a few hundred. */
export const MAX_DROP_FILE_BYTES = 5 * 1024 * 1024;

/** Entries per file; a larger batch is refused whole (split it) rather than half-submitted. */
export const MAX_DROP_FILE_ENTRIES = 1000;

export type DropFileFormat = 'txt' | 'json' | 'jsonl';

export interface EntryError {
  /** The request field at fault (as the HTTP API names it), or `line` / `body` for the entry. */
  field: string;
  message: string;
}

export type DropEntry = { line: number; request: unknown } | { line: number; error: EntryError };

/** Why a whole file yields no entries. */
export interface FileProblem {
  field: 'file';
  message: string;
}

export type ParsedDropFile =
  | { format: DropFileFormat; entries: DropEntry[] }
  | { format?: DropFileFormat; problem: FileProblem };

const FORMATS: Record<string, DropFileFormat> = {
  '.txt': 'txt',
  '.json': 'json',
  '.jsonl': 'jsonl',
};

/** The format a file name asks for (by extension, case-insensitive). */
export function dropFileFormat(name: string): DropFileFormat | undefined {
  const dot = name.lastIndexOf('.');
  if (dot < 0 || name.lastIndexOf('/') > dot) return undefined;
  return FORMATS[name.slice(dot).toLowerCase()];
}

export function parseDropFile(name: string, bytes: Uint8Array): ParsedDropFile {
  const format = dropFileFormat(name);
  if (format === undefined) {
    return problem(
      undefined,
      `"${name}" has no supported extension: use .txt (one prompt), .json (one request) or .jsonl (one request per line)`,
    );
  }
  if (bytes.byteLength > MAX_DROP_FILE_BYTES) {
    return problem(format, tooLargeMessage(bytes.byteLength));
  }
  const text = decodeUtf8(bytes);
  if (text === undefined) return problem(format, 'the file is not valid UTF-8 text');
  switch (format) {
    case 'txt':
      return { format, entries: [{ line: 1, request: { prompt: text.trim() } }] };
    case 'json':
      return { format, entries: [parseJsonEntry(1, text)] };
    case 'jsonl':
      return parseJsonLines(text);
  }
}

export function tooLargeMessage(bytes: number): string {
  return `the file is ${bytes} bytes; at most ${MAX_DROP_FILE_BYTES} bytes are read (split it)`;
}

function parseJsonLines(text: string): ParsedDropFile {
  const entries: DropEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    entries.push(parseJsonEntry(index + 1, line));
  }
  if (entries.length === 0)
    return problem('jsonl', 'the file has no requests (every line is blank)');
  if (entries.length > MAX_DROP_FILE_ENTRIES) {
    return problem(
      'jsonl',
      `the file has ${entries.length} requests; at most ${MAX_DROP_FILE_ENTRIES} per file (split it)`,
    );
  }
  return { format: 'jsonl', entries };
}

function parseJsonEntry(line: number, text: string): DropEntry {
  if (text.trim() === '')
    return { line, error: { field: 'body', message: 'body: must be a JSON object' } };
  try {
    return { line, request: JSON.parse(text) };
  } catch {
    return { line, error: { field: 'body', message: 'body: is not valid JSON' } };
  }
}

function problem(format: DropFileFormat | undefined, message: string): ParsedDropFile {
  const result: ParsedDropFile = { problem: { field: 'file', message } };
  if (format !== undefined) result.format = format;
  return result;
}
