import { describe, expect, it } from 'vitest';
import { toUtcIso } from './time.ts';

describe('toUtcIso: carrier times to UTC', () => {
  it('reads times with an offset exactly, and local times in the zone of the place', () => {
    expect(toUtcIso('2026-03-02T09:15:00+01:00')).toBe('2026-03-02T08:15:00.000Z');
    expect(toUtcIso('2026-03-02T09:15:00Z')).toBe('2026-03-02T09:15:00.000Z');
    expect(toUtcIso('2026-03-02T09:15:00', { countryCode: 'FR' })).toBe('2026-03-02T08:15:00.000Z');
    expect(toUtcIso('2026-07-02 09:15', { countryCode: 'FR' })).toBe('2026-07-02T07:15:00.000Z');
    expect(toUtcIso('2024-02-29T12:00:00Z')).toBe('2024-02-29T12:00:00.000Z');
  });

  it('refuses fields that do not exist rather than rolling them into a later real time', () => {
    for (const bad of [
      '2026-13-45T99:99:99',
      '2026-13-01T00:00:00Z',
      '2026-02-30T10:00:00+01:00',
      '2025-02-29T10:00:00',
      '2026-04-31',
      '2026-01-01T24:00:00Z',
      '2026-01-01T10:60:00',
      '2026-01-01T10:00:60Z',
      '9999-99-99T99:99:99',
      '0000-01-01T00:00:00+23:59',
      '1969-12-31T23:59:59Z',
      // Forms other than ISO 8601 that Date.parse would read, rolling their fields forward.
      'Mon, 30 Feb 2026 10:00:00 +0000',
      '+002026-02-30T00:00:00Z',
      '2026-2-30Z',
      '12 Z',
    ]) {
      expect(toUtcIso(bad, { countryCode: 'DE' }), bad).toBeUndefined();
    }
  });

  it('keeps every result a four-digit year, so checkpoints still sort as text', () => {
    expect(toUtcIso('9999-12-31T10:00:00Z')).toBe('9999-12-31T10:00:00.000Z');
    expect(toUtcIso('9999-12-31T23:00:00-05:00')).toBeUndefined();
  });
});
