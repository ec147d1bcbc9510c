import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN_CACHE_TTL_MS, adminAuthOf } from '../src/http/admin-auth.ts';
import { createAdminToken } from '../src/store/admin-tokens.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('Admin API: the list of production sites', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp('postgres');
    for (const id of ['S-C', 'S-A', 'S-B']) {
      const res = await t.app.inject({ method: 'PUT', url: `/admin/v1/production-sites/${id}`, headers: auth, payload: { name: `Site ${id}`, carriers: ['fedex'] } });
      expect(res.statusCode).toBe(201);
    }
  });
  afterAll(async () => t?.close());

  it('lists sites in id order a page at a time, never with a key', async () => {
    const first = await t.app.inject({ method: 'GET', url: '/admin/v1/production-sites?limit=2', headers: auth });
    expect(first.statusCode).toBe(200);
    const page = first.json();
    expect(page.sites.map((s: { siteId: string }) => s.siteId)).toEqual(['S-A', 'S-B']);
    expect(page.sites[0]).toEqual({ siteId: 'S-A', name: 'Site S-A', carriers: ['fedex'], hasApiKey: true, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(first.body).not.toMatch(/apiKey"|api_key|sk_/);
    const second = await t.app.inject({ method: 'GET', url: `/admin/v1/production-sites?limit=2&cursor=${page.nextCursor}`, headers: auth });
    expect(second.json()).toEqual({ sites: [expect.objectContaining({ siteId: 'S-C' })], nextCursor: null });
  });

  it('needs a token, refuses a cursor it did not hand out and a limit out of range', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/production-sites' })).statusCode).toBe(401);
    const forged = Buffer.from(JSON.stringify(["x' or 1=1"])).toString('base64url');
    const bad = await t.app.inject({ method: 'GET', url: `/admin/v1/production-sites?cursor=${forged}`, headers: auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'cursor: is not a cursor this API returned' });
    const limit = await t.app.inject({ method: 'GET', url: '/admin/v1/production-sites?limit=501', headers: auth });
    expect(limit.statusCode).toBe(400);
    expect(limit.json().error).toMatch(/^limit: /);
  });

  it('names the valid values of every enum it refuses, in a query or a body', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['GET', '/admin/v1/notifications?state=gone', undefined, /^state: must be one of pending, delivered, dead$/],
      ['GET', '/admin/v1/operations?status=DONE', undefined, /^status: must be one of PENDING, SUCCESSFUL, FAILED$/],
      ['GET', '/admin/v1/operations?trackingType=POST', undefined, /^trackingType: must be one of PRODUCTION, SHIPMENT, RETURN$/],
      ['GET', '/admin/v1/operations?carrier=pigeon', undefined, /^carrier: must be one of .*fedex/],
      ['POST', '/admin/v1/admin-tokens', { name: 'enum-check', scope: 'root' }, /^scope: must be one of read, operate, admin$/],
    ];
    for (const [method, url, payload, error] of cases) {
      const res = await t.app.inject({ method: method as 'GET', url, headers: auth, ...(payload ? { payload } : {}) });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error, url).toMatch(error);
      expect(res.json().error).not.toMatch(/equal to constant/);
    }
  });

  it('names the valid values of an enum in a body field: issuer signing, site carriers, a site event\'s type and carrier', async () => {
    const key = await issuerKey();
    const signing = await t.app.inject({ method: 'PUT', url: '/admin/v1/issuers/ENUMBANK01', headers: auth, payload: { name: 'Enum bank', notificationBaseUrl: 'https://bank.example', jwks: { keys: [key.publicJwk] }, notificationSigning: 'rsa' } });
    expect(signing.statusCode).toBe(400);
    expect(signing.json().error).toBe('notificationSigning: must be one of hmac, ed25519');
    const carriers = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/S-ENUM', headers: auth, payload: { name: 'Enum', carriers: ['pigeon'], apiKey: 'sk_enum_site_key_0123456789abcdef' } });
    expect(carriers.json().error).toMatch(/^carriers: pigeon is not a supported carrier code; use one of .*fedex.*ups/);
    await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/S-ENUM', headers: auth, payload: { name: 'Enum', apiKey: 'sk_enum_site_key_0123456789abcdef' } });
    const events = await t.app.inject({
      method: 'POST',
      url: '/sites/v1/production-sites/S-ENUM/events',
      headers: { 'x-api-key': 'sk_enum_site_key_0123456789abcdef', 'content-type': 'application/json' },
      payload: JSON.stringify({
        events: [
          { eventId: 'e-1', issuerId: 'ENUMBANK01', cardId: 'c-1', type: 'CARD_LOST', occurredAt: '2026-05-01T10:00:00Z' },
          { eventId: 'e-2', issuerId: 'ENUMBANK01', cardId: 'c-2', type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z', carrier: 'pigeon' },
        ],
      }),
    });
    expect(events.json().rejected.map((r: { error: string }) => r.error)).toEqual([
      'type: must be CARD_SHIPPED or CARD_RETURNED',
      expect.stringMatching(/^carrier: is not a supported carrier code; use one of .*fedex/),
    ]);
  });
});

describe('Admin API with no admin token configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp('postgres', { TRACKHUB_ADMIN_TOKEN: '' });
  });
  afterAll(async () => t?.close());

  it('says how to turn it on, to a caller with or without a token, and nothing more', async () => {
    for (const headers of [{}, { authorization: 'Bearer guessed-token-0123456789abcdefghij' }]) {
      const res = await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        errorCode: 'AUTHORIZER_UNAUTHORIZED',
        error: expect.stringMatching(/Admin API is off: no admin token is configured.*TRACKHUB_ADMIN_TOKEN.*trackhub admin-tokens create/),
      });
    }
  });

  it('once a named token exists, the usual refusal comes back and the token works', async () => {
    const { token } = await createAdminToken(t.store.db, 'first-operator', 'read');
    // The answer "is there any token" is cached like a token (5 s): the auth's clock is moved past it.
    const adminAuth = adminAuthOf(t.app) as NonNullable<ReturnType<typeof adminAuthOf>>;
    adminAuth.now = () => Date.now() + ADMIN_TOKEN_CACHE_TTL_MS + 1;
    const refusal = (await t.app.inject({ method: 'GET', url: '/admin/v1/issuers' })).json().error;
    expect(refusal).toBe('admin bearer token required (Authorization: Bearer <token>)');
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
  });

  it('a path under /admin that is no route says where the routes are', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/admin' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatch(/no route for GET \/admin; the Admin API's routes are under \/admin\/v1\/ \(listed at \/docs\)/);
  });
});
