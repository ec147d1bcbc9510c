import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { TokenBuckets, tokenEndpointLimits } from '../src/http/limits.ts';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TokenBuckets', () => {
  it('grants a burst of count, then refuses with the whole seconds until the cost is there', () => {
    const c = clock();
    const b = new TokenBuckets({ count: 10, perMs: 1000 }, { now: c.now });
    for (let i = 0; i < 10; i++) expect(b.take('a')).toBeUndefined();
    expect(b.take('a')).toBe(1);
    // Refilled evenly: 100 ms gives one token back.
    c.advance(100);
    expect(b.take('a')).toBeUndefined();
    expect(b.take('a')).toBe(1);
  });

  it('charges a cost all or nothing, and says how long a large cost must wait', () => {
    const c = clock();
    const b = new TokenBuckets({ count: 2500, perMs: 1000 }, { now: c.now });
    expect(b.take('site', 1000)).toBeUndefined();
    expect(b.take('site', 1000)).toBeUndefined();
    // 500 left: a batch of 1,000 is refused whole and takes nothing.
    expect(b.take('site', 1000)).toBe(1);
    expect(b.available('site')).toBe(500);
    expect(b.take('site', 500)).toBeUndefined();
    // Empty, 10,000 events per 10 s would need 0.4 s for 1,000; a slow budget says how many seconds.
    const slow = new TokenBuckets({ count: 1000, perMs: 3_600_000 }, { now: c.now });
    expect(slow.take('s', 1000)).toBeUndefined();
    expect(slow.take('s', 1000)).toBe(3600);
    expect(slow.take('s', 1)).toBe(4);
  });

  it('never holds more than the burst, however long a key was idle', () => {
    const c = clock();
    const b = new TokenBuckets({ count: 3, perMs: 1000 }, { now: c.now });
    b.take('a');
    c.advance(3_600_000);
    expect(b.available('a')).toBe(3);
  });

  it('keeps each key apart', () => {
    const b = new TokenBuckets({ count: 1, perMs: 3_600_000 });
    expect(b.take('a')).toBeUndefined();
    expect(b.take('a')).toBeDefined();
    expect(b.take('b')).toBeUndefined();
  });

  it('remembers at most maxKeys keys, forgetting the least recently used', () => {
    const c = clock();
    const b = new TokenBuckets({ count: 1, perMs: 3_600_000 }, { now: c.now, maxKeys: 100 });
    expect(b.take('flooder')).toBeUndefined();
    for (let i = 0; i < 10_000; i++) {
      b.take(`addr-${i}`);
      // The flooder keeps asking: it stays among the recently used and stays refused.
      if (i % 50 === 0) expect(b.take('flooder')).toBeDefined();
    }
    expect(b.size).toBe(100);
    expect(b.take('flooder')).toBeDefined();
    // An address not seen for 9,000 keys was forgotten: it starts again full, like any new key.
    expect(b.take('addr-0')).toBeUndefined();
  });

  it('forgets the fullest of the least recently used, so new keys cannot push a spent budget out', () => {
    const c = clock();
    const b = new TokenBuckets({ count: 5, perMs: 3_600_000 }, { now: c.now, maxKeys: 100 });
    for (let i = 0; i < 5; i++) expect(b.take('BANK_SPENT')).toBeUndefined();
    expect(b.take('BANK_SPENT')).toBeDefined();
    // 10,000 forged issuer ids, one token each, while the spent issuer waits without asking.
    for (let i = 0; i < 10_000; i++) expect(b.take(`FORGED${String(i).padStart(4, '0')}`)).toBeUndefined();
    expect(b.size).toBe(100);
    expect(b.wait('BANK_SPENT')).toBeDefined(); // still spent: not forgotten and refilled
    // Among equals, the least recently used goes: the first forged ids are gone and start full again.
    expect(b.available('FORGED0000')).toBe(5);
    expect(b.available('FORGED9999')).toBe(4);
  });
});

describe('token endpoint budgets', () => {
  it('take one token of a verified issuer per call, refuse once spent, and keep issuers apart', () => {
    const limits = tokenEndpointLimits({ count: 100, perMs: 60_000 }, { count: 2, perMs: 3_600_000 }, { now: clock().now });
    // The take is the check: two at once get the two tokens, the third waits, whatever the interleaving.
    expect([limits.takeForIssuer('BANK000001'), limits.takeForIssuer('BANK000001'), limits.takeForIssuer('BANK000001')]).toEqual([undefined, undefined, 1800]);
    expect(limits.takeForIssuer('BANK000002')).toBeUndefined();
    expect(limits.byIssuer.size).toBe(2);
  });
});

describe('limits configuration', () => {
  const load = (env: Record<string, string>) => () => loadConfig({ TRACKHUB_LOG_LEVEL: 'silent', ...env });

  it('has defaults', () => {
    const c = loadConfig({});
    expect(c.siteRateLimit).toEqual({ count: 10_000, perMs: 5000 });
    expect(c.tokenRateLimitPerIp).toEqual({ count: 300, perMs: 60_000 });
    expect(c.tokenRateLimitPerIssuer).toEqual({ count: 60, perMs: 60_000 });
    expect(c.connections).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 72_000, idleTimeoutMs: 30_000, max: 1000, maxPerAddress: 100 });
    expect(c.trustedProxies).toEqual([]);
  });

  it('reads each variable', () => {
    const c = loadConfig({
      TRACKHUB_SITE_RATE_LIMIT: '2000/1s',
      TRACKHUB_TOKEN_RATE_LIMIT_IP: '10/1s',
      TRACKHUB_TOKEN_RATE_LIMIT_ISSUER: '5/1h',
      TRACKHUB_HEADERS_TIMEOUT: '2s',
      TRACKHUB_REQUEST_TIMEOUT: '5s',
      TRACKHUB_KEEP_ALIVE_TIMEOUT: '4s',
      TRACKHUB_IDLE_TIMEOUT: '500ms',
      TRACKHUB_MAX_CONNECTIONS: '7',
      TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: '3',
      TRACKHUB_TRUSTED_PROXIES: '10.0.0.5',
    });
    expect(c.siteRateLimit).toEqual({ count: 2000, perMs: 1000 });
    expect(c.tokenRateLimitPerIp).toEqual({ count: 10, perMs: 1000 });
    expect(c.tokenRateLimitPerIssuer).toEqual({ count: 5, perMs: 3_600_000 });
    expect(c.connections).toEqual({ headersTimeoutMs: 2000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 4000, idleTimeoutMs: 500, max: 7, maxPerAddress: 3 });
    expect(c.trustedProxies).toEqual(['10.0.0.5']);
  });

  it('defaults the per-address cap to 100, or to the global cap when that is lower', () => {
    expect(loadConfig({}).connections).toMatchObject({ max: 1000, maxPerAddress: 100 });
    expect(loadConfig({ TRACKHUB_MAX_CONNECTIONS: '40' }).connections).toMatchObject({ max: 40, maxPerAddress: 40 });
    expect(loadConfig({ TRACKHUB_MAX_CONNECTIONS: '00000040' }).connections).toMatchObject({ max: 40 });
    expect(loadConfig({ TRACKHUB_MAX_CONNECTIONS: '1000000', TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: '1000000' }).connections).toMatchObject({ max: 1_000_000, maxPerAddress: 1_000_000 });
  });

  it('stops on a bad value, naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ TRACKHUB_SITE_RATE_LIMIT: 'fast' }, /^TRACKHUB_SITE_RATE_LIMIT: "fast" is not a rate/],
      [{ TRACKHUB_SITE_RATE_LIMIT: '999/1s' }, /^TRACKHUB_SITE_RATE_LIMIT: .*at least one full batch \(1000 events\)/],
      [{ TRACKHUB_TOKEN_RATE_LIMIT_IP: '0/1s' }, /^TRACKHUB_TOKEN_RATE_LIMIT_IP: /],
      [{ TRACKHUB_TOKEN_RATE_LIMIT_ISSUER: '5' }, /^TRACKHUB_TOKEN_RATE_LIMIT_ISSUER: /],
      [{ TRACKHUB_IDLE_TIMEOUT: '0s' }, /^TRACKHUB_IDLE_TIMEOUT: /],
      [{ TRACKHUB_KEEP_ALIVE_TIMEOUT: 'soon' }, /^TRACKHUB_KEEP_ALIVE_TIMEOUT: /],
      [{ TRACKHUB_HEADERS_TIMEOUT: '2m', TRACKHUB_REQUEST_TIMEOUT: '1m' }, /^TRACKHUB_HEADERS_TIMEOUT: must not be above TRACKHUB_REQUEST_TIMEOUT/],
      [{ TRACKHUB_MAX_CONNECTIONS: '0' }, /^TRACKHUB_MAX_CONNECTIONS: /],
      [{ TRACKHUB_MAX_CONNECTIONS: '1.5' }, /^TRACKHUB_MAX_CONNECTIONS: /],
      [{ TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: '0' }, /^TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: /],
      [{ TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: 'many' }, /^TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: /],
      [{ TRACKHUB_MAX_CONNECTIONS: '50', TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: '60' }, /^TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: 60 is above TRACKHUB_MAX_CONNECTIONS \(50\)/],
      // No cap past what a process could ever hold (a 20-digit number also lost its precision as a JS number).
      [{ TRACKHUB_MAX_CONNECTIONS: '1000001' }, /^TRACKHUB_MAX_CONNECTIONS: "1000001" is not a whole number of connections from 1 to 1,000,000/],
      [{ TRACKHUB_MAX_CONNECTIONS: '99999999999999999999' }, /^TRACKHUB_MAX_CONNECTIONS: /],
      [{ TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: '1e9' }, /^TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: /],
      // The value is quoted with its control characters escaped: one line, whatever was given.
      [{ TRACKHUB_MAX_CONNECTIONS: '5\n\u001b[2J' }, /^TRACKHUB_MAX_CONNECTIONS: "5\\u000a\\u001b\[2J" is not a whole number/],
      [{ TRACKHUB_TRUSTED_PROXIES: 'proxy.example' }, /^TRACKHUB_TRUSTED_PROXIES: /],
    ];
    for (const [env, message] of cases) {
      expect(load(env)).toThrow(ConfigError);
      expect(load(env)).toThrow(message);
    }
  });
});
