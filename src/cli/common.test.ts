import { describe, expect, it } from 'vitest';
import { printable } from './common.ts';

describe('printable: outside text as it may reach a terminal', () => {
  it('shows control characters, separators and bidi overrides as \\u escapes', () => {
    expect(printable('a\u001b[31mred\u0007')).toBe('a\\u001b[31mred\\u0007');
    expect(printable('x\u009by')).toBe('x\\u009by');
    expect(printable('line\u2028next\u2029')).toBe('line\\u2028next\\u2029');
    expect(printable('gpj.\u202eexe')).toBe('gpj.\\u202eexe');
    expect(printable('\u2066isolate\u2069')).toBe('\\u2066isolate\\u2069');
    expect(printable('tab\there\nnewline\r')).toBe('tab\\u0009here\\u000anewline\\u000d');
  });

  it('shows characters that print nothing as escapes too, tag characters (outside the BMP) in \\u{…} form', () => {
    expect(printable('pa\u200bid\ufeff')).toBe('pa\\u200bid\\ufeff');
    expect(printable('a\u{e0041}b')).toBe('a\\u{e0041}b');
    // Joiners are text (Persian, emoji sequences): left alone.
    expect(printable('\u0628\u200c\u0627 \ud83d\udc68\u200d\ud83d\udc69')).toBe('\u0628\u200c\u0627 \ud83d\udc68\u200d\ud83d\udc69');
  });

  it('leaves ordinary text, accents and other scripts alone', () => {
    const text = 'Bureau Nord — Lyon 3e, Zoë, 東京, مرحبا';
    expect(printable(text)).toBe(text);
  });
});
