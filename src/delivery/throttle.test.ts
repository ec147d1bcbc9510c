import { describe, expect, it } from 'vitest';
import { EndpointThrottle, isSlowDown } from './throttle.ts';

/** A throttle on a clock the test moves by hand. */
function throttle(maxConcurrency: number) {
  const clock = { now: 0 };
  return { t: new EndpointThrottle(maxConcurrency, () => clock.now), clock };
}

describe('endpoint throttle: the rate after trouble', () => {
  it('is half of what the endpoint got in the last second, not of everything ever sent', () => {
    const { t, clock } = throttle(64);
    for (let i = 0; i < 10; i++) t.started(); // an old burst
    for (let i = 0; i < 10; i++) t.finished('success');
    clock.now = 5_000;
    for (let i = 0; i < 6; i++) t.started();
    t.finished('trouble');
    expect(t.rate).toBe(3);
  });

  it('counts a send exactly one second old as part of the last second', () => {
    const { t, clock } = throttle(64);
    for (let i = 0; i < 3; i++) t.started();
    clock.now = 1_000;
    t.started();
    t.finished('trouble');
    expect(t.rate).toBe(2); // 4 sends in the window, halved
  });

  it('spaces sends 1/rate apart and says how long to wait for the next slot', () => {
    const { t, clock } = throttle(8);
    expect(t.waitMs()).toBe(0); // no complaint yet: no pacing
    for (let i = 0; i < 8; i++) t.started();
    t.finished('trouble'); // 8 sends in the last second: 4 per second from now on
    expect(t.rate).toBe(4);
    for (let i = 0; i < 7; i++) t.finished('other');
    clock.now = 100;
    expect(t.available()).toBe(1);
    t.started(); // the next slot is 250 ms after this one
    expect(t.available()).toBe(0);
    expect(t.waitMs()).toBe(250);
    clock.now = 349.5;
    expect(t.waitMs()).toBe(1); // rounded up: never wake a little too early
    expect(t.available()).toBe(0);
    clock.now = 350;
    expect(t.waitMs()).toBe(0);
    expect(t.available()).toBe(1);
    clock.now = 10_000;
    expect(t.waitMs()).toBe(0); // a slot long past is not a negative wait
  });

  it('never lets a paced endpoint exceed its concurrency limit, however long it has waited', () => {
    const { t, clock } = throttle(2);
    t.started();
    t.started();
    t.finished('trouble'); // limit 1, one still in flight
    expect(t.limit).toBe(1);
    expect(t.rate).toBeDefined();
    clock.now = 60_000;
    expect(t.available()).toBe(0);
  });

  it('is lifted as soon as it has grown back to the rate the endpoint had before the trouble', () => {
    const { t } = throttle(64);
    for (let i = 0; i < 8; i++) t.started();
    t.finished('trouble'); // ceiling 8, rate 4
    for (const expected of [5, 6, 7]) {
      t.finished('success');
      expect(t.rate).toBe(expected);
    }
    t.started(); // paced: its next slot is ahead
    t.finished('success'); // 8: back where it was
    expect(t.rate).toBeUndefined();
    expect(t.waitMs()).toBe(0); // no longer paced: no wait, whatever slot was ahead
    expect(t.available()).toBeGreaterThan(1);
  });

  it('is neither raised nor lowered by a failure that is not a slow-down (a 400 or a 500)', () => {
    const { t } = throttle(16);
    for (let i = 0; i < 8; i++) t.started();
    t.finished('trouble');
    const before = { limit: t.limit, rate: t.rate };
    t.started();
    t.finished('other');
    expect({ limit: t.limit, rate: t.rate }).toEqual(before);
  });
});

describe('isSlowDown', () => {
  it('is true for 429, 502, 503 and 504 only', () => {
    for (const s of [429, 502, 503, 504]) expect(isSlowDown(s), String(s)).toBe(true);
    for (const s of [undefined, 200, 400, 408, 410, 500, 501, 505]) expect(isSlowDown(s), String(s)).toBe(false);
  });
});
