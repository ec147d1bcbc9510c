import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessToken, putIssuer, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { assertion, issuerKey, JWT_BEARER } from './helpers/issuer.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const A = 'ISSUER_A01';
const B = 'ISSUER_B01';

describe.each(STORE_KINDS)('issuer auth on %s', (kind) => {
  let t: TestApp;
  let tokenA: string;
  let keyA: Awaited<ReturnType<typeof issuerKey>>;

  beforeAll(async () => {
    t = await testApp(kind);
    const a = await readyIssuer(t.app, A);
    tokenA = a.token;
    keyA = a.key;
    await readyIssuer(t.app, B);
  });
  afterAll(async () => t.close());

  const grant = (a: string) => t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', payload: { grant_type: JWT_BEARER, assertion: a } });
  const track = (issuerId: string, token?: string) =>
    t.app.inject({
      method: 'POST',
      url: `/banking/v1/issuers/${issuerId}/physicalCards/card-1/track`,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      payload: { trackingType: 'PRODUCTION' },
    });

  it('issues a bearer token for a valid ES256 assertion, also form-encoded', async () => {
    const form = new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion(A, keyA) });
    const res = await t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form.toString() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'tracking:write tracking:read' });
    expect((await track(A, res.json().access_token)).statusCode).toBe(202);
  });

  it('reads the Bearer scheme case-insensitively (RFC 7235), and no other scheme', async () => {
    const withAuthorization = (authorization: string) =>
      t.app.inject({ method: 'POST', url: `/banking/v1/issuers/${A}/physicalCards/card-1/track`, headers: { authorization }, payload: { trackingType: 'PRODUCTION' } });
    for (const scheme of ['bearer', 'BEARER', 'bEaReR', 'Bearer']) {
      expect((await withAuthorization(`${scheme} ${tokenA}`)).statusCode, scheme).toBe(202);
    }
    for (const authorization of [`Basic ${tokenA}`, `Bearer${tokenA}`, `Bearers ${tokenA}`, tokenA]) {
      const res = await withAuthorization(authorization);
      expect(res.statusCode, authorization.slice(0, 8)).toBe(401);
      expect(res.json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
    }
  });

  it('refuses a request without a token', async () => {
    const res = await track(A);
    expect(res.statusCode).toBe(401);
    expect(res.json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
  });

  it('refuses an expired access token', async () => {
    // Forge nothing: sign with the hub key the store holds, but already expired.
    const { loadAccessTokenKey } = await import('../src/auth/tokens.ts');
    const key = await loadAccessTokenKey(t.store.db);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ issuer_keys: 'any' }).setProtectedHeader({ alg: 'HS256' }).setSubject(A).setAudience('trackhub:issuer-api').setIssuedAt(now - 2000).setExpirationTime(now - 1000).sign(key);
    const res = await track(A, expired);
    expect(res.statusCode).toBe(401);
    expect(res.json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
  });

  it('refuses an access token signed with another HS256 key and an alg:none token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(A).setAudience('trackhub:issuer-api').setExpirationTime(now + 600).sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await track(A, forged)).json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none' })}.${b64({ sub: A, aud: 'trackhub:issuer-api', exp: now + 600 })}.`;
    expect((await track(A, none)).statusCode).toBe(401);
  });

  it("refuses issuer A's token on issuer B's path with 403", async () => {
    const res = await track(B, tokenA);
    expect(res.statusCode).toBe(403);
    expect(res.json().errorCode).toBe('FORBIDDEN');
  });

  it('refuses assertions with alg none, HS256, unknown kid, replayed jti, bad exp, wrong sub or aud', async () => {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', kid: keyA.kid })}.${b64({ iss: A, sub: A, exp: now + 60 })}.`;
    const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: keyA.kid }).setIssuer(A).setSubject(A).setExpirationTime(now + 60).sign(new TextEncoder().encode('k'.repeat(32)));
    const other = await issuerKey('key-1');
    const cases: [string, string][] = [
      ['alg none', none],
      ['HS256', hs],
      ['unknown kid', await assertion(A, keyA, { kid: 'nope' })],
      ['signed by another key', await assertion(A, other)],
      ['exp too far ahead', await assertion(A, keyA, { expSeconds: 3600 })],
      ['expired', await assertion(A, keyA, { expSeconds: -120 })],
      ['sub differs', await assertion(A, keyA, { sub: B })],
      ['wrong aud', await assertion(A, keyA, { aud: 'https://elsewhere.example/token' })],
      ['unknown issuer', await assertion('ISSUER_ZZZ', keyA)],
    ];
    for (const [name, a] of cases) {
      const res = await grant(a);
      expect(res.statusCode, name).toBe(400);
      expect(res.json(), name).toMatchObject({ error: 'invalid_grant' });
    }
    const once = await assertion(A, keyA, { jti: 'jti-replay-1' });
    expect((await grant(once)).statusCode).toBe(200);
    const again = await grant(once);
    expect(again.statusCode).toBe(400);
    expect(again.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('accepts the hub token URL as aud', async () => {
    const res = await grant(await assertion(A, keyA, { aud: `${t.config.publicUrl}/authz/v1/oauth2/token` }));
    expect(res.statusCode).toBe(200);
  });

  it('answers OAuth errors for missing, repeated or unsupported parameters', async () => {
    const missing = await t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', payload: { grant_type: JWT_BEARER } });
    expect(missing.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    const repeated = await t.app.inject({
      method: 'POST',
      url: '/authz/v1/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=a&assertion=b`,
    });
    expect(repeated.json().error).toBe('invalid_request');
    // The same in JSON: a repeated member is refused, not read with its last value (a good assertion last).
    const good = await assertion(A, keyA);
    const json = (text: string) => t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', headers: { 'content-type': 'application/json' }, payload: text });
    const twice = await json(`{"grant_type":"${JWT_BEARER}","assertion":"junk","assertion":"${good}"}`);
    expect(twice.statusCode).toBe(400);
    expect(twice.json()).toEqual({ error: 'invalid_request', error_description: 'grant_type and assertion are each required once' });
    expect((await json(`{"grant_type":"${JWT_BEARER}","assertion":"${good}"}`)).statusCode).toBe(200);
    // The same name spelt with an escape is the same parameter to JSON.parse, so it is repeated too.
    expect((await json(`{"grant_type":"${JWT_BEARER}","assertion":"junk","\\u0061ssertion":"${good}"}`)).json().error).toBe('invalid_request');
    // A body nested 100,000 deep is an unreadable body, never a 500 (the check reads it without recursion).
    const deep = await json(`{"grant_type":"${JWT_BEARER}","assertion":"a","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(deep.statusCode).toBeLessThan(500);
    expect(deep.json().error).toMatch(/^invalid_(request|grant)$/);
    // Members of nested objects may share a top-level name: the parameters are the top level's.
    expect((await json(`{"grant_type":"${JWT_BEARER}","assertion":"${await assertion(A, keyA)}","x":{"assertion":1}}`)).json().error).not.toBe('invalid_request');
    // Prototype keys are still refused by the default parser's rules.
    expect((await json(`{"grant_type":"${JWT_BEARER}","assertion":"a","__proto__":{"x":1}}`)).json().error).toBe('invalid_request');
    const unsupported = await t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', payload: { grant_type: 'client_credentials', assertion: 'x' } });
    expect(unsupported.json().error).toBe('unsupported_grant_type');
  });

  it('stops issuing tokens and refuses calls once the issuer is disabled', async () => {
    const key = await issuerKey();
    await putIssuer(t.app, 'ISSUER_D01', key);
    const token = await accessToken(t.app, 'ISSUER_D01', key);
    await putIssuer(t.app, 'ISSUER_D01', key, { enabled: false });
    expect((await grant(await assertion('ISSUER_D01', key))).json()).toMatchObject({ error: 'invalid_grant' });
    const res = await track('ISSUER_D01', token);
    expect(res.statusCode).toBe(403);
    expect(res.json().errorCode).toBe('FORBIDDEN');
  });

  it('a token refused once the issuer was disabled stays refused after it is enabled again, and after its keys are put back', async () => {
    const key = await issuerKey();
    const other = await issuerKey();
    await putIssuer(t.app, 'ISSUER_R01', key);
    const before = await accessToken(t.app, 'ISSUER_R01', key);
    // A write that changes neither the keys nor enabled (a new name) keeps tokens alive.
    await putIssuer(t.app, 'ISSUER_R01', key, { name: 'Renamed bank' });
    expect((await track('ISSUER_R01', before)).statusCode).toBe(202);
    await putIssuer(t.app, 'ISSUER_R01', key, { enabled: false });
    await putIssuer(t.app, 'ISSUER_R01', key, { enabled: true });
    const revived = await track('ISSUER_R01', before);
    expect(revived.statusCode).toBe(401);
    expect(revived.json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
    // A token granted since works; re-keyed to another key and back, it dies too.
    const since = await accessToken(t.app, 'ISSUER_R01', key);
    expect((await track('ISSUER_R01', since)).statusCode).toBe(202);
    await putIssuer(t.app, 'ISSUER_R01', other);
    await putIssuer(t.app, 'ISSUER_R01', key);
    expect((await track('ISSUER_R01', since)).statusCode).toBe(401);
    expect((await track('ISSUER_R01', await accessToken(t.app, 'ISSUER_R01', key))).statusCode).toBe(202);
  });

  it('refuses a JWKS holding a private key or a non-P-256 key', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const { exportJWK } = await import('jose');
    const priv = { ...(await exportJWK(privateKey)), kid: 'p' };
    const res = await t.app.inject({
      method: 'PUT',
      url: '/admin/v1/issuers/ISSUER_P01',
      headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' },
      payload: { name: 'x', notificationBaseUrl: 'https://bank.example', jwks: { keys: [priv] } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ errorCode: 'FIELD_INVALID_VALUE' });
    expect(res.json().error).toMatch(/private key/);
  });
});
