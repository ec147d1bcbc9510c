import { describe, expect, it } from 'vitest';
import { nextRetryDelayMs } from './retry.ts';

const SCHEDULE = [5_000, 300_000, 1_800_000];

describe('nextRetryDelayMs', () => {
  it('stays within ±20 % of the scheduled delay, at both ends of the jitter', () => {
    for (const [i, base] of SCHEDULE.entries()) {
      expect(nextRetryDelayMs(SCHEDULE, i + 1, { random: () => 0 })).toBe(base * 0.8);
      expect(nextRetryDelayMs(SCHEDULE, i + 1, { random: () => 0.999999 })).toBeCloseTo(base * 1.2, -1);
      expect(nextRetryDelayMs(SCHEDULE, i + 1, { random: () => 0.5 })).toBe(base);
    }
  });

  it('spreads real random draws over the whole window', () => {
    const delays = Array.from({ length: 2000 }, () => nextRetryDelayMs(SCHEDULE, 2) as number);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(240_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(360_000);
    expect(Math.min(...delays)).toBeLessThan(250_000);
    expect(Math.max(...delays)).toBeGreaterThan(350_000);
  });

  it('honours Retry-After up to twice the scheduled delay, never below the jittered one', () => {
    expect(nextRetryDelayMs(SCHEDULE, 1, { retryAfterMs: 8_000, random: () => 0.5 })).toBe(8_000);
    expect(nextRetryDelayMs(SCHEDULE, 1, { retryAfterMs: 60_000, random: () => 0.5 })).toBe(10_000);
    expect(nextRetryDelayMs(SCHEDULE, 1, { retryAfterMs: 1_000, random: () => 0.5 })).toBe(5_000);
  });

  it('is undefined once the schedule is spent (the notification is then dead)', () => {
    expect(nextRetryDelayMs(SCHEDULE, 3)).toBeDefined();
    expect(nextRetryDelayMs(SCHEDULE, 4)).toBeUndefined();
  });
});
