/** Outside text as operators will read it. */

/**
 * What does not print as it reads: C0 and C1 control characters; line and paragraph separators; every
 * format character (Unicode's Cf: bidirectional overrides, isolates and marks, zero-width space, word
 * joiner, U+FEFF, soft hyphen, tag characters, interlinear annotations…); other characters that show
 * nothing (the combining grapheme joiner, Mongolian variation selectors, Khmer inherent vowels, Hangul
 * fillers); noncharacters. Zero-width joiner and non-joiner (U+200C/D, format characters) stay allowed:
 * Persian, Indic scripts and emoji sequences need them.
 */
const UNPRINTABLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: each mark is refused alone, as one code point (the u flag)
  /[\u0000-\u001f\u007f-\u009f\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u2028\u2029\u3164\uffa0\p{Noncharacter_Code_Point}]|(?![\u200c\u200d])\p{Cf}/u;
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
