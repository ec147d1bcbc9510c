import { describe, expect, it } from 'vitest';
import { ApiError } from '../domain/errors.ts';
import { insightsWindow, timeParam } from './time-params.ts';

function refusal(fn: () => unknown): { errorCode: string; message: string } | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return { errorCode: err.errorCode, message: err.message };
    throw err;
  }
  return undefined;
}

describe('timeParam: a time that is in range as written but not in UTC', () => {
  it.each(['9999-12-31T23:59:59-12:00', '0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00'])('refuses %s naming the field', (value) => {
    expect(refusal(() => timeParam('since', value))).toEqual({ errorCode: 'FIELD_INVALID_VALUE', message: 'since: must fall within the years 0001 to 9999 in UTC' });
  });

  it('takes the ends of the range', () => {
    expect(timeParam('since', '9999-12-31T23:59:59Z').toISOString()).toBe('9999-12-31T23:59:59.000Z');
    expect(timeParam('since', '0001-01-01T00:00:00Z').getUTCFullYear()).toBe(1);
    expect(timeParam('since', '9999-12-31T11:59:59-12:00').toISOString()).toBe('9999-12-31T23:59:59.000Z');
  });

  it('names from or to in a window', () => {
    expect(refusal(() => insightsWindow({ from: '0000-12-31T23:00:00Z', to: '0001-01-02T00:00:00Z' }))?.message).toMatch(/^from: /);
    expect(refusal(() => insightsWindow({ from: '9999-12-31T00:00:00Z', to: '9999-12-31T23:59:59-12:00' }))?.message).toMatch(/^to: /);
  });
});

describe('timeParam: precision', () => {
  it.each(['2026-01-01T00:00:00.0001Z', '2026-01-01T00:00:00.000900Z', '2026-01-01T00:00:00.123456+00:00'])('refuses %s: past the millisecond', (value) => {
    expect(refusal(() => timeParam('since', value))?.message).toMatch(/^since: at most millisecond precision/);
  });

  it.each([
    ['2026-01-01T00:00:00.1Z', '2026-01-01T00:00:00.100Z'],
    ['2026-01-01T00:00:00.001Z', '2026-01-01T00:00:00.001Z'],
    ['2026-01-01T00:00:00.123000+00:00', '2026-01-01T00:00:00.123Z'],
  ])('takes %s exactly', (value, iso) => {
    expect(timeParam('until', value).toISOString()).toBe(iso);
  });
});
