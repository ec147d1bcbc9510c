import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDuration } from '../config.ts';
import { CircuitBreaker } from './breaker.ts';
import { parseRateLimit } from './rate-limit.ts';

describe('TRACKHUB_CARRIER_<PROVIDER>_RATE_LIMIT', () => {
  it('reads a count per duration', () => {
    expect(parseRateLimit('1400/10s', parseDuration)).toEqual({ count: 1400, perMs: 10_000 });
    expect(parseRateLimit('60/1h', parseDuration)).toEqual({ count: 60, perMs: 3_600_000 });
    expect(parseRateLimit('10/s', parseDuration)).toEqual({ count: 10, perMs: 1000 });
    for (const bad of ['', '10', '/10s', '0/1s', '10/0s', 'ten/1s', '10/1w']) expect(parseRateLimit(bad, parseDuration)).toBeUndefined();
  });

  it('is per provider in the configuration, and a bad value names the variable', () => {
    const cfg = loadConfig({ TRACKHUB_CARRIER_USPS_RATE_LIMIT: '120/1h' });
    expect(cfg.carriers.usps.rateLimit).toEqual({ count: 120, perMs: 3_600_000 });
    expect(cfg.carriers.fedex.rateLimit).toBeUndefined();
    expect(() => loadConfig({ TRACKHUB_CARRIER_FEDEX_RATE_LIMIT: 'lots' })).toThrow(ConfigError);
    expect(() => loadConfig({ TRACKHUB_CARRIER_FEDEX_RATE_LIMIT: 'lots' })).toThrow(/TRACKHUB_CARRIER_FEDEX_RATE_LIMIT/);
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one probe through after the cool-down, doubles the cool-down when the probe fails', () => {
    const b = new CircuitBreaker(2, 1000, 3000);
    expect(b.allowance(0)).toBe('all');
    b.failure(0);
    expect(b.state).toBe('closed');
    b.failure(0);
    expect(b.state).toBe('open');
    expect(b.allowance(999)).toBe('none');
    expect(b.allowance(1000)).toBe('one');
    expect(b.allowance(1000)).toBe('none'); // the probe is out
    b.failure(1000);
    expect(b.retryAt(1000)).toBe(3000); // 2 s now
    expect(b.allowance(2999)).toBe('none');
    expect(b.allowance(3000)).toBe('one');
    b.failure(3000);
    expect(b.retryAt(3000)).toBe(6000); // capped at 3 s
    expect(b.allowance(6000)).toBe('one');
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allowance(6000)).toBe('all');
  });
});
