/** Outside text as operators will read it. */

/**
 * What does not print as it reads: C0 and C1 control characters; line and paragraph separators; the
 * bidirectional overrides, isolates and marks (U+202A–E, U+2066–9, U+200E/F, U+061C); characters that
 * show nothing (zero-width space, word joiner and invisible operators, U+FEFF, the deprecated format
 * characters U+206A–F, interlinear annotation marks, tag characters, Hangul fillers). Zero-width joiner
 * and non-joiner (U+200C/D) stay allowed: Persian, Indic scripts and emoji sequences need them.
 */
const UNPRINTABLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  /[\u0000-\u001f\u007f-\u009f\u061c\u115f\u1160\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}]/u;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'gu');

/**
 * Text from outside that is stored, listed by the CLI and shown in the console (URLs, names, reasons): a
 * control character, a line separator or a bidirectional override in it could drive an operator's
 * terminal or disguise what it says.
 */
export function hasUnprintable(text: string): boolean {
  return UNPRINTABLE.test(text);
}

/**
 * Text from outside as it may reach a terminal: the same characters shown as \u escapes, so it cannot
 * move the cursor, recolour the screen, or make a line read backwards (the CLI prints through this).
 */
export function escapeUnprintable(text: string): string {
  return text.replace(UNPRINTABLE_ALL, (c) => {
    const code = c.codePointAt(0) as number;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A display name (of an issuer, of a site): 1 to 200 characters that print as they read. */
export function checkDisplayName(field: string, name: string): string | undefined {
  if (name.length < 1 || name.length > 200) return `${field}: must be 1 to 200 characters`;
  if (hasUnprintable(name)) return `${field}: must not hold control, invisible or bidirectional formatting characters, or line separators`;
  if (name.trim() === '') return `${field}: must not be blank`;
  if (name.trim() !== name) return `${field}: must not start or end with spaces`;
  return undefined;
}
