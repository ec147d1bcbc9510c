import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { ADMIN_TOKEN, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { assertion, issuerKey, JWT_BEARER } from './helpers/issuer.ts';
import { STORE_KINDS } from './helpers/stores.ts';

function batch(prefix: string, n: number) {
  return { events: Array.from({ length: n }, (_, i) => ({ eventId: `${prefix}-${i}`, issuerId: 'LIMITBANK1', cardId: `card-${prefix}-${i}`, type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z' })) };
}

describe.each(STORE_KINDS)('Site API event budget per site on %s', (kind) => {
  let t: TestApp;
  const keys: Record<string, string> = {};
  const post = (siteId: string, payload: unknown, key = keys[siteId]) =>
    t.app.inject({
      method: 'POST',
      url: `/sites/v1/production-sites/${siteId}/events`,
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  const stored = async (siteId: string) => (await sql<{ n: number }>`select count(*)::int as n from site_events where site_id = ${siteId}`.execute(t.store.db)).rows[0].n;

  beforeAll(async () => {
    t = await testApp(kind, { TRACKHUB_SITE_RATE_LIMIT: '2500/1h' });
    for (const siteId of ['SITE-FLOOD', 'SITE-QUIET']) {
      const res = await t.app.inject({ method: 'PUT', url: `/admin/v1/production-sites/${siteId}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: siteId } });
      expect(res.statusCode, res.body).toBe(201);
      keys[siteId] = res.json().apiKey;
    }
    // The budgets refill with Date.now(): it stands still from here on, so every count and wait below is
    // exact however slowly the machine runs. Only Date is faked; timers stay real.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  });
  afterAll(async () => {
    vi.useRealTimers();
    await t?.close();
  });

  it('charges a batch its number of events, refuses a batch the budget cannot hold with 429 and Retry-After, and serves other sites', async () => {
    expect((await post('SITE-FLOOD', batch('a', 1000))).json()).toMatchObject({ accepted: 1000 });
    expect((await post('SITE-FLOOD', batch('b', 1000))).json()).toMatchObject({ accepted: 1000 });
    const refused = await post('SITE-FLOOD', batch('c', 1000));
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ errorCode: 'RATE_LIMITED', error: expect.stringMatching(/event budget \(2500 events per 3600 s\) is spent; retry after 720 s$/) });
    // 500 events missing at 2,500 per hour: 720 s.
    expect(refused.headers['retry-after']).toBe('720');
    expect(refused.headers['x-correlation-id']).toBeTruthy();
    // The refused batch was not taken, not even in part; what is left fits a batch of 500 exactly.
    expect(await stored('SITE-FLOOD')).toBe(2000);
    expect((await post('SITE-FLOOD', batch('c', 500))).json()).toMatchObject({ accepted: 500 });
    expect(await stored('SITE-FLOOD')).toBe(2500);
    // Another site has its own budget.
    const other = await post('SITE-QUIET', batch('q', 1000));
    expect(other.statusCode, other.body).toBe(202);
    expect(other.json()).toMatchObject({ accepted: 1000 });
  });

  it('refuses a site whose budget is spent before reading its body, and only once its key is checked', async () => {
    // Not JSON at all: read, it would be 400 PARSING_ERROR; the spent site is refused first.
    const unread = await post('SITE-FLOOD', '{"events": [ not json');
    expect(unread.statusCode).toBe(429);
    expect(unread.json().errorCode).toBe('RATE_LIMITED');
    // One event missing at 2,500 per hour: 1.44 s, so 2.
    expect(unread.headers['retry-after']).toBe('2');
    // Without the site's key the budget is not even looked at.
    expect((await post('SITE-FLOOD', batch('x', 1), 'sk_not_a_key_of_anyone_000000')).statusCode).toBe(401);
    expect((await post('SITE-FLOOD', batch('x', 1), keys['SITE-QUIET'])).statusCode).toBe(403);
  });

  it('lists 429 for the Site API in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(doc.paths['/sites/v1/production-sites/{siteId}/events'].post.responses)).toContain('429');
  });
});

describe.each(STORE_KINDS)('token endpoint budgets on %s', (kind) => {
  let t: TestApp;
  const token = (assertionJwt: string, remoteAddress: string, payload?: string) =>
    t.app.inject({
      method: 'POST',
      url: '/authz/v1/oauth2/token',
      remoteAddress,
      ...(payload === undefined ? { payload: { grant_type: JWT_BEARER, assertion: assertionJwt } } : { payload, headers: { 'content-type': 'application/json' } }),
    });
  let addressNumber = 0;
  /** A fresh client address each call, so the address budget stays out of the way. */
  const fresh = () => `10.1.${Math.floor(++addressNumber / 250)}.${addressNumber % 250}`;
  const keys: Record<string, Awaited<ReturnType<typeof issuerKey>>> = {};

  beforeAll(async () => {
    // Per address 5 an hour, per issuer 3 an hour.
    t = await testApp(kind, { TRACKHUB_TOKEN_RATE_LIMIT_IP: '5/1h', TRACKHUB_TOKEN_RATE_LIMIT_ISSUER: '3/1h' });
    for (const id of ['TOKBANK001', 'TOKBANK002', 'TOKBANK003']) {
      keys[id] = await issuerKey();
      await putIssuer(t.app, id, keys[id]);
    }
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() }); // as above: exact counts and waits
  });
  afterAll(async () => {
    vi.useRealTimers();
    await t?.close();
  });

  it('refuses an address past its budget with 429 slow_down and Retry-After, good or bad requests alike, and serves other addresses', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 5; i++) answers.push((await token('not-a-jwt', '192.0.2.10')).statusCode);
    expect(answers).toEqual([400, 400, 400, 400, 400]);
    const refused = await token(await assertion('TOKBANK001', keys.TOKBANK001), '192.0.2.10');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ error: 'slow_down', error_description: 'too many token requests from this address; retry after 720 s' });
    expect(refused.headers['retry-after']).toBe('720');
    expect(refused.headers['cache-control']).toBe('no-store');
    // Refused before the body is read: an unreadable body gets the same answer.
    expect((await token('', '192.0.2.10', '{ not json')).statusCode).toBe(429);
    // Another address is served.
    expect((await token('not-a-jwt', '192.0.2.11')).json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('issues an issuer at most its budget of tokens, from any address, and serves other issuers', async () => {
    const issued: number[] = [];
    for (let i = 0; i < 3; i++) issued.push((await token(await assertion('TOKBANK001', keys.TOKBANK001), fresh())).statusCode);
    expect(issued).toEqual([200, 200, 200]);
    const refused = await token(await assertion('TOKBANK001', keys.TOKBANK001), fresh());
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ error: 'slow_down', error_description: 'too many tokens for this issuer; retry after 1200 s' });
    expect(refused.headers['retry-after']).toBe('1200');
    expect((await token(await assertion('TOKBANK002', keys.TOKBANK002), fresh())).statusCode).toBe(200);
  });

  it("does not let forged assertions naming an issuer spend that issuer's budget", async () => {
    const forger = await issuerKey();
    for (let i = 0; i < 10; i++) {
      const res = await token(await assertion('TOKBANK003', forger), fresh());
      expect(res.json()).toMatchObject({ error: 'invalid_grant' });
    }
    const issued: number[] = [];
    for (let i = 0; i < 4; i++) issued.push((await token(await assertion('TOKBANK003', keys.TOKBANK003), fresh())).statusCode);
    expect(issued).toEqual([200, 200, 200, 429]);
    // Spent, it still answers a forged assertion as it answers one naming no issuer: the 429 would say it exists.
    const forged = await token(await assertion('TOKBANK003', forger), fresh());
    const unknown = await token(await assertion('NOSUCHBANK', forger), fresh());
    expect(forged.statusCode).toBe(400);
    expect(forged.json()).toEqual(unknown.json());
  });

  it('lists 429 for the token endpoint in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(doc.paths['/authz/v1/oauth2/token'].post.responses)).toContain('429');
  });
});

describe('behind a trusted proxy (TRACKHUB_TRUSTED_PROXIES)', () => {
  let t: TestApp;
  const token = (peer: string, forwardedFor?: string) =>
    t.app.inject({
      method: 'POST',
      url: '/authz/v1/oauth2/token',
      remoteAddress: peer,
      headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
      payload: { grant_type: JWT_BEARER, assertion: 'not-a-jwt' },
    });
  beforeAll(async () => {
    t = await testApp(STORE_KINDS[0], { TRACKHUB_TOKEN_RATE_LIMIT_IP: '2/1h', TRACKHUB_TRUSTED_PROXIES: '192.0.2.1, 2001:db8::/32' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("gives each client behind the proxy its own address budget, and ignores X-Forwarded-For from anyone else", async () => {
    const statuses = async (n: number, peer: string, forwardedFor?: string) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await token(peer, forwardedFor)).statusCode);
      return out;
    };
    // Two clients through the proxy: each has its 2 requests, then 429.
    expect(await statuses(3, '192.0.2.1', '198.51.100.7')).toEqual([400, 400, 429]);
    expect(await statuses(3, '192.0.2.1', '203.0.113.50, 198.51.100.8')).toEqual([400, 400, 429]);
    expect(await statuses(1, '2001:db8::5', '198.51.100.9')).toEqual([400]);
    // An IPv6 client is its /64, however it writes its addresses.
    expect(await statuses(1, '192.0.2.1', '2001:db8:77:1::1')).toEqual([400]);
    expect(await statuses(1, '192.0.2.1', '2001:DB8:77:1::2')).toEqual([400]);
    expect(await statuses(1, '192.0.2.1', '2001:0db8:0077:0001:0000:0000:0000:0003')).toEqual([429]);
    // A client that is not a trusted proxy cannot pick its address with the header.
    expect(await statuses(2, '203.0.113.9', '198.51.100.10')).toEqual([400, 400]);
    expect(await statuses(1, '203.0.113.9', '198.51.100.11')).toEqual([429]);
  });

  it('refuses a setting that is not a list of addresses or ranges, naming the variable', () => {
    for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.1/8/2', 'fd00::/129', '0.0.0.0/0', '::/0']) {
      expect(() => loadConfig({ TRACKHUB_TRUSTED_PROXIES: bad })).toThrow(/^TRACKHUB_TRUSTED_PROXIES: /);
    }
    expect(loadConfig({ TRACKHUB_TRUSTED_PROXIES: '10.0.0.0/8,fd00::/8, 127.0.0.1' }).trustedProxies).toEqual(['10.0.0.0/8', 'fd00::/8', '127.0.0.1']);
    expect(loadConfig({}).trustedProxies).toEqual([]);
  });
});
