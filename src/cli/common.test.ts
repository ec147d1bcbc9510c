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

  it('leaves ordinary text, accents and other scripts alone', () => {
    const text = 'Bureau Nord — Lyon 3e, Zoë, 東京, مرحبا';
    expect(printable(text)).toBe(text);
  });
});
