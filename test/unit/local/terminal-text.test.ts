import { describe, expect, it } from 'vitest';
import { printable, printableJson } from '../../../infra/local/terminal-text.ts';

// The prompt of issue 21: clears the line, retitles the window, and prints a fake status in red.
const HOSTILE = '\u001b[2K\r\u001b]0;TITLE\u0007\u001b[31mFAKE: all jobs COMPLETED';
/** Any character a terminal would act on instead of showing. */
const CONTROL_OR_BIDI = /[\p{Cc}\p{Bidi_Control}]/u;

describe('printable', () => {
  it('shows C0 controls as \\x escapes: ESC, BEL, BS, NUL, and CR, LF and tab by name', () => {
    expect(printable('a\u001bb\u0007c\bd\u0000e')).toBe('a\\x1bb\\x07c\\x08d\\x00e');
    expect(printable('one\r\ntwo\tthree')).toBe('one\\r\\ntwo\\tthree');
  });

  it('shows DEL as \\x7f', () => {
    expect(printable('rub\u007fout')).toBe('rub\\x7fout');
  });

  it('shows C1 controls, the 8-bit CSI and OSC included, as \\u escapes', () => {
    expect(printable('\u009b31mred\u009d0;title\u0080\u009f')).toBe(
      '\\u009b31mred\\u009d0;title\\u0080\\u009f',
    );
  });

  it('shows bidi overrides, embeddings, isolates and marks as \\u escapes', () => {
    expect(printable('a\u202eb\u202ac\u2066d\u2069e\u200ff')).toBe(
      'a\\u202eb\\u202ac\\u2066d\\u2069e\\u200ff',
    );
  });

  it('leaves the words of an escape-sequence prompt visible and no control character in it', () => {
    const shown = printable(HOSTILE);

    expect(shown).toBe('\\x1b[2K\\r\\x1b]0;TITLE\\x07\\x1b[31mFAKE: all jobs COMPLETED');
    expect(shown).not.toMatch(CONTROL_OR_BIDI);
  });

  it('leaves plain text unchanged: spaces, accents, other scripts, emoji, symbols', () => {
    const plain = 'A cat  playing piano — café, 東京の夜, Ünïcødé, 👩‍🚀🎹, 100% \\x1b';

    expect(printable(plain)).toBe(plain);
  });
});

describe('printableJson', () => {
  it('escapes what JSON.stringify leaves raw and parses back to the same value', () => {
    const value = { prompt: HOSTILE, model: 'sora\u009b2\u007f\u202e', note: 'café 👩‍🚀' };

    const json = printableJson(value);

    // Its only control characters are the newlines of its own layout.
    expect(json.replaceAll('\n', '')).not.toMatch(CONTROL_OR_BIDI);
    expect(json).toContain('sora\\u009b2\\u007f\\u202e');
    expect(JSON.parse(json)).toEqual(value);
  });

  it('keeps the indented layout of JSON.stringify', () => {
    expect(printableJson({ a: 1 })).toBe('{\n  "a": 1\n}');
  });
});
