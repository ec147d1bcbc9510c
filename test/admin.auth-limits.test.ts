import { Writable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { AdminAuth, AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_MS, adminAuthOf, bearerToken, failureKey } from '../src/http/admin-auth.ts';
import { createLogger } from '../src/logger.ts';
import { createAdminToken } from '../src/store/admin-tokens.ts';
import type { Db } from '../src/store/db.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('admin bearer parsing and failure keys', () => {
  it('reads the Bearer scheme in any case and nothing else', () => {
    const req = (authorization?: string) => ({ headers: { authorization }, raw: { rawHeaders: authorization === undefined ? [] : ['Authorization', authorization] } });
    expect(bearerToken(req('Bearer abc'))).toBe('abc');
    expect(bearerToken(req('bearer abc'))).toBe('abc');
    expect(bearerToken(req('BEARER  abc'))).toBe('abc');
    expect(bearerToken(req('Basic abc'))).toBeUndefined();
    expect(bearerToken(req('Bearer'))).toBeUndefined();
    expect(bearerToken(req('Bearer a b'))).toBeUndefined();
    expect(bearerToken(req('Bearerabc'))).toBeUndefined();
    expect(bearerToken(req(undefined))).toBeUndefined();
  });

  it('reads no token from a request that sends Authorization twice (Node would keep only the first)', () => {
    const twice = { headers: { authorization: 'Bearer good' }, raw: { rawHeaders: ['Authorization', 'Bearer good', 'authorization', 'Bearer other'] } };
    expect(bearerToken(twice)).toBeUndefined();
  });

  it('counts IPv4 addresses one by one and IPv6 addresses by their /64', () => {
    expect(failureKey('203.0.113.9')).toBe('203.0.113.9');
    expect(failureKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(failureKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(failureKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(failureKey('::1')).toBe('0:0:0:0::/64');
    // One address however it is written (the token budget and the connection cap count the same way).
    expect(failureKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(failureKey('::ffff:808:401')).toBe('8.8.4.1');
    expect(failureKey('2001:DB8:78:1::1')).toBe('2001:db8:78:1::/64');
    expect(failureKey('2001:0db8:0078:0001:0000:0000:0000:0001')).toBe('2001:db8:78:1::/64');
    expect(failureKey('[2001:db8:78:1::1]')).toBe('2001:db8:78:1::/64');
    expect(failureKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    // What is no address (a proxy's garbled X-Forwarded-For) shares one key, never its own text.
    for (const junk of ['garbage', '5.5.5.5:1234', 'unknown', 'a'.repeat(15_000), '']) expect(failureKey(junk)).toBe('not-an-address');
  });

  it('keeps at most 10,000 client addresses; 10,000 others cannot flush a locked-out one', async () => {
    const auth = new AdminAuth({} as Db, undefined);
    const quiet = { info() {} };
    const fail = (ip: string) =>
      auth.guard({ ip, headers: {}, raw: { rawHeaders: [] }, method: 'GET', routeOptions: { url: '/admin/v1/issuers' }, log: quiet } as unknown as FastifyRequest, () => undefined).catch((e: Error) => e);
    // The first address fails up to the limit: it is refused.
    for (let i = 0; i < AUTH_FAILURE_LIMIT; i++) await fail('198.51.100.1');
    expect(((await fail('198.51.100.1')) as { errorCode?: string }).errorCode).toBe('RATE_LIMITED');
    for (let i = 0; i < 10_000; i++) await fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(auth.trackedClients).toBe(10_000);
    // Room was made by dropping clients with one failure, not the locked-out one: it is still refused.
    expect(((await fail('198.51.100.1')) as { errorCode?: string }).errorCode).toBe('RATE_LIMITED');
    expect(auth.trackedClients).toBe(10_000);
  });
});

describe.each(STORE_KINDS)('admin authentication failures on %s', (kind) => {
  let t: TestApp;
  const lines: Record<string, unknown>[] = [];
  let readToken: string;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    t = await testApp(kind, {}, { log: createLogger('info', sink) });
    readToken = (await createAdminToken(t.store.db, 'limits-reader', 'read')).token;
  });
  afterAll(() => t.close());

  it('logs a failure at info with the client address and route, never the token given', async () => {
    const wrong = 'tha_wrongwrongwrongwrongwrongwrongwrongwrong0';
    const res = await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/ISSUER_LOG', headers: bearer(wrong), remoteAddress: '192.0.2.10' });
    expect(res.statusCode).toBe(401);
    // Says what was wrong (a token was sent), and how to authenticate (RFC 6750), never the token itself.
    expect(res.json()).toEqual({ errorCode: 'AUTHORIZER_UNAUTHORIZED', error: 'the admin bearer token is unknown, revoked or malformed' });
    expect(res.headers['www-authenticate']).toBe('Bearer realm="trackhub-admin"');
    expect(res.body).not.toContain(wrong);
    const logged = lines.filter((l) => l.msg === 'admin authentication failed');
    expect(logged).toEqual([expect.objectContaining({ level: 30, ip: '192.0.2.10', method: 'GET', route: '/admin/v1/issuers/:issuerId', reason: 'token refused' })]);
    const shortWrong = `${ADMIN_TOKEN.slice(0, -1)}X`;
    await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(shortWrong), remoteAddress: '192.0.2.10' });
    expect(JSON.stringify(lines)).not.toContain(wrong);
    expect(JSON.stringify(lines)).not.toContain(shortWrong);
    expect(JSON.stringify(lines)).not.toContain(ADMIN_TOKEN);
  });

  it(`refuses an address with 429 and Retry-After after ${AUTH_FAILURE_LIMIT} failures in a window, even with a correct token, until the window passes`, async () => {
    const auth = adminAuthOf(t.app) as AdminAuth;
    let now = 5_000_000;
    auth.now = () => now;
    try {
      const from = (remoteAddress: string, token: string) => t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(token), remoteAddress });
      for (let i = 0; i < AUTH_FAILURE_LIMIT; i++) expect((await from('192.0.2.77', `wrong-token-${i}`)).statusCode).toBe(401);
      now += 60_000;
      for (const token of [ADMIN_TOKEN, readToken, 'still-wrong']) {
        const res = await from('192.0.2.77', token);
        expect(res.statusCode).toBe(429);
        expect(res.json()).toEqual({ errorCode: 'RATE_LIMITED', error: expect.stringMatching(/too many failed authentications/) });
        expect(res.headers['retry-after']).toBe(String((AUTH_FAILURE_WINDOW_MS - 60_000) / 1000));
      }
      // /metrics shares the limit (it takes admin tokens outside the sandbox).
      expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(ADMIN_TOKEN), remoteAddress: '192.0.2.77' })).statusCode).toBe(429);
      // Another address is not affected.
      expect((await from('192.0.2.78', readToken)).statusCode).toBe(200);
      now += AUTH_FAILURE_WINDOW_MS - 60_000;
      expect((await from('192.0.2.77', readToken)).statusCode).toBe(200);
    } finally {
      auth.now = Date.now;
    }
  });
});

describe.each(STORE_KINDS)('TRACKHUB_ADMIN_AUTH_FAILURES on %s', (kind) => {
  let t: TestApp | undefined;
  afterAll(async () => t?.close());

  it('sets the failures allowed per window, and a bad value stops start-up naming the variable', async () => {
    expect(() => loadConfig({ TRACKHUB_ADMIN_AUTH_FAILURES: 'many' })).toThrow(/^TRACKHUB_ADMIN_AUTH_FAILURES: "many" is not a rate/);
    expect(() => loadConfig({ TRACKHUB_ADMIN_AUTH_FAILURES: '0/1m' })).toThrow(/^TRACKHUB_ADMIN_AUTH_FAILURES: /);
    expect(loadConfig({}).adminAuthFailures).toEqual({ count: AUTH_FAILURE_LIMIT, perMs: AUTH_FAILURE_WINDOW_MS });
    t = await testApp(kind, { TRACKHUB_ADMIN_AUTH_FAILURES: '3/1m' });
    const from = (token: string) => (t as TestApp).app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(token), remoteAddress: '192.0.2.90' });
    for (let i = 0; i < 3; i++) expect((await from('wrong')).statusCode).toBe(401);
    const refused = await from(ADMIN_TOKEN);
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(50);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
  });
});

describe.each(STORE_KINDS)('/metrics access on %s', (kind) => {
  let t: TestApp | undefined;
  afterAll(async () => t?.close());

  it('outside the sandbox without TRACKHUB_METRICS_TOKEN, needs an admin token of any scope', async () => {
    t = await testApp(kind);
    const reader = (await createAdminToken(t.store.db, 'scraper', 'read')).token;
    const open = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '198.51.100.40' });
    expect(open.statusCode).toBe(401);
    expect(open.json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
    expect(open.body).not.toContain('trackhub_');
    for (const token of [reader, ADMIN_TOKEN]) {
      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `bearer ${token}` } });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('trackhub_http_requests_total');
    }
    await t.close();

    // With TRACKHUB_METRICS_TOKEN: that token, and no other.
    t = await testApp(kind, { TRACKHUB_METRICS_TOKEN: 'metrics-scrape-token-0123456789abcdef' });
    expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer('metrics-scrape-token-0123456789abcdef') })).statusCode).toBe(200);
    // The refusal says which token /metrics wants, so an operator holding an admin token knows why it fails.
    const withAdmin = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(ADMIN_TOKEN), remoteAddress: '198.51.100.41' });
    expect(withAdmin.statusCode).toBe(401);
    expect(withAdmin.json().error).toMatch(/^the bearer token is not the TRACKHUB_METRICS_TOKEN/);
    const without = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '198.51.100.41' });
    expect(without.statusCode).toBe(401);
    expect(without.json().error).toMatch(/^\/metrics needs the TRACKHUB_METRICS_TOKEN/);
    await t.close();

    // In the sandbox it stays open.
    t = await testApp(kind, { TRACKHUB_SANDBOX: 'true' });
    const sandbox = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(sandbox.statusCode).toBe(200);
    expect(sandbox.body).toContain('trackhub_http_requests_total');
  });
});
