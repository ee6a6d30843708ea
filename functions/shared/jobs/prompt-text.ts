/**
 * The one prompt rule every entry point shares (HTTP API, drop folder, scheduled batches): a
 * prompt must show something. Characters that show nothing are control and format characters
 * (NUL, zero-width spaces and joiners, bidirectional overrides, the BOM), separators, Unicode's
 * default-ignorable code points (variation selectors, fillers), lone surrogates, and U+FFFD, which
 * is what invalid UTF-8 becomes when a decoder replaces it. A prompt made only of them is empty in
 * effect, and a provider would bill for rendering it.
 */
const SHOWS_NOTHING = /[\p{Cc}\p{Cf}\p{Cs}\p{Z}\p{Default_Ignorable_Code_Point}\uFFFD]/gu;

export const INVISIBLE_PROMPT_MESSAGE =
  'must contain visible text (it has only invisible, control or replacement characters)';

/** True when the prompt has at least one character that shows. */
export function hasVisibleText(prompt: string): boolean {
  return prompt.replace(SHOWS_NOTHING, '').length > 0;
}

/** Decodes UTF-8 strictly: undefined for invalid bytes (which a lenient decoder turns into U+FFFD). */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined;
  }
}
