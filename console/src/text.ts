// Text from outside the hub (issuers' answers and reasons, carriers' checkpoint descriptions and places,
// sites' rejected lines) is shown through shown(): Preact escapes markup, but a control character, a
// bidi override (U+202E turns "exe.txt" around) or an invisible format character (zero-width space,
// BOM) would still change or hide what the operator reads. Each is made visible as ⟨U+XXXX⟩.

/**
 * C0/C1 controls (ESC…) but tab and line feed, format characters (bidi controls, zero-width ones, soft
 * hyphen, BOM), line and paragraph separators, and letters that print as nothing: the Hangul fillers and
 * the combining grapheme joiner. (Emoji variation selectors stay: they change a glyph's style, not the text.)
 */
const HIDDEN = /[\p{Cc}\p{Cf}\u2028\u2029\u115F\u1160\u3164\uFFA0]|\u034F/gu;

export function shown(text: string): string;
export function shown(text: string | null | undefined): string | null | undefined;
export function shown(text: string | null | undefined): string | null | undefined {
  if (text == null) return text;
  return text.replace(HIDDEN, (c) => (c === '\n' || c === '\t' ? c : `⟨U+${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}⟩`));
}
