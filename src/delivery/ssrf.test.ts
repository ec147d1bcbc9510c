import { describe, expect, it } from 'vitest';
import { checkTargetHost, guardedLookup, isPrivateAddress } from './ssrf.ts';
import { EndpointThrottle } from './throttle.ts';

describe('SSRF guard', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.0.1', '172.31.255.254', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.127.255.254',
    '0.0.0.0', '224.0.0.1', '239.255.255.250', '255.255.255.255', '::', '::1', '[::1]', 'fe80::1', 'febf::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '64:ff9b::a00:1', 'not-an-address',
  ])('refuses %s', (ip) => expect(isPrivateAddress(ip)).toBe(true));

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.255.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (ip) => {
    expect(isPrivateAddress(ip)).toBe(false);
  });

  it('the guarded lookup refuses a name resolving to loopback', async () => {
    const err = await new Promise<Error | null>((resolve) => guardedLookup('localhost', { all: true }, (e) => resolve(e)));
    expect(err?.message).toMatch(/localhost resolves to .*SSRF guard/);
  });

  it('registration check: literal addresses judged directly, names resolved', async () => {
    expect(await checkTargetHost('http://[::ffff:127.0.0.1]:8080')).toMatch(/SSRF guard/);
    expect(await checkTargetHost('http://localhost')).toMatch(/resolves to/);
    expect(await checkTargetHost('https://93.184.215.14')).toBeUndefined();
  });
});

describe('endpoint throttle (AIMD)', () => {
  it('halves concurrency on trouble down to one, adds one per success back up to the maximum', () => {
    let now = 0;
    const t = new EndpointThrottle(8, () => now);
    for (let i = 0; i < 4; i++) t.started();
    expect(t.available()).toBe(4);
    t.finished('trouble');
    expect(t.limit).toBe(4);
    expect(t.rate).toBe(2); // half the 4 requests/s it was getting
    t.finished('trouble');
    t.finished('trouble');
    t.finished('trouble');
    expect(t.limit).toBe(1);
    expect(t.rate).toBe(1);
    t.started();
    expect(t.available()).toBe(0);
    now += 1000;
    t.finished('success');
    expect(t.limit).toBe(2);
    expect(t.rate).toBe(2);
    expect(t.available()).toBe(1);
    for (let i = 0; i < 10; i++) {
      t.started();
      t.finished('success');
    }
    expect(t.limit).toBe(8);
    expect(t.rate).toBeUndefined(); // grown back to the rate it had before the trouble
  });
});
