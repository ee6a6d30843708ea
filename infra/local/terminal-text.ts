/**
 * Text from users, the API, providers or files, made safe to print on a terminal. A prompt can
 * hold escape sequences (`ESC ]0;title BEL`, `ESC [2K`, the 8-bit CSI U+009B) that clear lines,
 * retitle the window or recolour what follows, and bidi overrides that reorder what is shown:
 * printed raw, they would let whoever submits a job rewrite the screen of whoever lists it.
 * The CLI, `npm run generate` and `npm start` pass every such field through here.
 */

/** C0 controls and DEL, C1 controls (Cc), and the bidi formatting characters. */
const UNSAFE = /[\p{Cc}\p{Bidi_Control}]/gu;
/** What JSON.stringify leaves raw: DEL, C1 controls and bidi characters (it escapes C0). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\p{Bidi_Control}]/gu;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

function visibleEscape(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  const named = NAMED[character];
  if (named) return named;
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : unicodeEscape(character);
}

/** `\u009b`: the escape JSON accepts for any character; `printable` uses it above U+007F. */
function unicodeEscape(character: string): string {
  return `\\u${(character.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;
}

/**
 * One line of text as it may reach a terminal: control characters (newlines and tabs too) and
 * bidi overrides become visible escapes (`\x1b`, `\u009b`, `\u202e`, `\n`); everything else,
 * spaces and any script or emoji included, is unchanged.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, visibleEscape);
}

/**
 * `value` as indented JSON that is safe on a terminal and parses to the same value: the
 * characters JSON.stringify leaves raw are written as `\u` escapes.
 */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(UNSAFE_IN_JSON, unicodeEscape);
}
