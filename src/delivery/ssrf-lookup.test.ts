import { describe, expect, it } from 'vitest';
import { BlockedTargetError, checkTargetHost, guardedLookup, isPrivateAddress } from './ssrf.ts';

/** The SSRF guard as a connection and a registration meet it: what passes, what is refused, and why. */
describe('SSRF guard: lookups and registration', () => {
  it('judges a bracketed IPv6 address (as written in a URL) by the address inside', () => {
    expect(isPrivateAddress('[2606:4700:4700::1111]')).toBe(false);
    expect(isPrivateAddress('[fd00::1]')).toBe(true);
  });

  it('the guarded lookup hands a public address to the connection, in each form dns.lookup is called', async () => {
    const one = (options?: object) =>
      new Promise<unknown[]>((resolve) => {
        const cb = (...args: unknown[]) => resolve(args);
        if (options) guardedLookup('93.184.215.14', options, cb);
        else guardedLookup('93.184.215.14', cb as never);
      });
    expect(await one()).toEqual([null, '93.184.215.14', 4]);
    expect(await one({ family: 4 })).toEqual([null, '93.184.215.14', 4]);
    expect(await one({ all: true })).toEqual([null, [{ address: '93.184.215.14', family: 4 }]]);
  });

  it('the guarded lookup passes a resolution failure through, and refuses loopback in the callback-only form too', async () => {
    const failed = await new Promise<NodeJS.ErrnoException | null>((resolve) => guardedLookup('no-such-host.invalid', {}, (e) => resolve(e)));
    // NXDOMAIN where a resolver answers; EAI_AGAIN on a machine without one. Either is passed through.
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(failed?.code);
    const refused = await new Promise<Error | null>((resolve) => guardedLookup('localhost', ((e: Error | null) => resolve(e)) as never));
    expect(refused).toBeInstanceOf(BlockedTargetError);
    expect((refused as BlockedTargetError).code).toBe('ERR_TRACKHUB_BLOCKED_TARGET');
    expect(refused?.message).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), a private address \(SSRF guard\)$/);
  });

  it('registration check: a name that does not resolve (yet) is accepted, the connect-time guard still applies', async () => {
    expect(await checkTargetHost('https://no-such-host.invalid/hooks')).toBeUndefined();
    expect(await checkTargetHost('https://[2606:4700:4700::1111]/hooks')).toBeUndefined();
    expect(await checkTargetHost('https://[fd00::1]:8443/hooks')).toBe(
      'notificationBaseUrl: fd00::1 is a private address (SSRF guard; TRACKHUB_ALLOW_PRIVATE_TARGETS=true allows it, for demos and tests)',
    );
    expect(await checkTargetHost('http://localhost:8080')).toMatch(
      /^notificationBaseUrl: localhost resolves to (127\.0\.0\.1|::1), a private address \(SSRF guard; TRACKHUB_ALLOW_PRIVATE_TARGETS=true allows it, for demos and tests\)$/,
    );
  });
});
