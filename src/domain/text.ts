/** Outside text as operators will read it. */

/** C0 and C1 control characters, line and paragraph separators, bidirectional overrides and isolates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'g');

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
  return text.replace(UNPRINTABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A display name (of an issuer, of a site): 1 to 200 characters that print as they read. */
export function checkDisplayName(field: string, name: string): string | undefined {
  if (name.length < 1 || name.length > 200) return `${field}: must be 1 to 200 characters`;
  if (hasUnprintable(name)) return `${field}: must not hold control characters, line separators or bidirectional overrides`;
  return undefined;
}
