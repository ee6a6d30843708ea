import { describe, expect, it } from 'vitest';
import {
  dropFileFormat,
  MAX_DROP_FILE_BYTES,
  MAX_DROP_FILE_ENTRIES,
  parseDropFile,
} from '../../../functions/shared/intake/drop-file.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('parseDropFile', () => {
  it('reads a .txt file as one prompt, trimmed', () => {
    const parsed = parseDropFile('fox.txt', utf8('\n  A fox in the snow \r\n'));

    expect(parsed).toEqual({
      format: 'txt',
      entries: [{ line: 1, request: { prompt: 'A fox in the snow' } }],
    });
  });

  it('reads a .json file as one request object', () => {
    const parsed = parseDropFile('a.json', utf8('{"prompt":"A boat","seconds":8}'));

    expect(parsed).toEqual({
      format: 'json',
      entries: [{ line: 1, request: { prompt: 'A boat', seconds: 8 } }],
    });
  });

  it('reports a .json file that is not JSON as an entry error naming body', () => {
    const parsed = parseDropFile('a.json', utf8('{"prompt":'));

    expect(parsed).toEqual({
      format: 'json',
      entries: [{ line: 1, error: { field: 'body', message: 'body: is not valid JSON' } }],
    });
  });

  it('reads a .jsonl file line by line, numbering lines from 1 and skipping blank ones', () => {
    const text = '{"prompt":"one"}\r\n\n   \n{"prompt":\n{"prompt":"five"}\n';

    const parsed = parseDropFile('batch.jsonl', utf8(text));

    expect(parsed).toEqual({
      format: 'jsonl',
      entries: [
        { line: 1, request: { prompt: 'one' } },
        { line: 4, error: { field: 'body', message: 'body: is not valid JSON' } },
        { line: 5, request: { prompt: 'five' } },
      ],
    });
  });

  it('recognises extensions case-insensitively and refuses unknown ones', () => {
    expect(dropFileFormat('A.JSONL')).toBe('jsonl');
    expect(dropFileFormat('notes.md')).toBeUndefined();
    expect(dropFileFormat('dir.json/file')).toBeUndefined();
    expect(parseDropFile('notes.md', utf8('x'))).toEqual({
      problem: { field: 'file', message: expect.stringContaining('.txt') },
    });
  });

  it('reports a file that is not valid UTF-8 instead of guessing', () => {
    const parsed = parseDropFile('a.txt', new Uint8Array([0x41, 0xff, 0xfe, 0x42]));

    expect(parsed).toEqual({
      format: 'txt',
      problem: { field: 'file', message: 'the file is not valid UTF-8 text' },
    });
  });

  it('reports a file over the size limit without decoding it', () => {
    const parsed = parseDropFile('big.jsonl', new Uint8Array(MAX_DROP_FILE_BYTES + 1));

    expect(parsed).toMatchObject({ problem: { field: 'file', message: /at most 5242880 bytes/ } });
  });

  it('reports a .jsonl file with no requests, and one with too many, as file problems', () => {
    const many = `${'{"prompt":"x"}\n'.repeat(MAX_DROP_FILE_ENTRIES + 1)}`;

    expect(parseDropFile('empty.jsonl', utf8('\n \n'))).toMatchObject({
      problem: { field: 'file', message: /no requests/ },
    });
    expect(parseDropFile('many.jsonl', utf8(many))).toMatchObject({
      problem: { field: 'file', message: /at most 1000 per file/ },
    });
  });
});
