import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from './retry-after.ts';

/** An issuer's `Retry-After` (RFC 9110 §10.2.3) as the wait before the next attempt. */
describe('parseRetryAfter', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');

  it('reads delay-seconds, spaces around them allowed', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 7 ', now)).toBe(7_000);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('reads an HTTP date as the time left until it, and a date already past as no wait', () => {
    expect(parseRetryAfter('Mon, 01 Jun 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 01 Jun 2026 11:59:00 GMT', now)).toBe(0);
  });

  it('takes the first of repeated headers', () => {
    expect(parseRetryAfter(['5', '90'], now)).toBe(5_000);
  });

  it('ignores a missing, empty or unreadable value', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter([], now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('12 s', now)).toBeUndefined();
  });

  it('reads neither a signed nor a fractional number, though Date.parse would take them for dates', () => {
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('x 5', now)).toBeUndefined();
  });

  it('reads the obsolete RFC 850 date form too', () => {
    expect(parseRetryAfter('Monday, 01-Jun-26 12:00:30 GMT', now)).toBe(30_000);
  });
});
