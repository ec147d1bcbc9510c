import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_VERIFIED } from '../src/auth/tokens.ts';
import { createLogger } from '../src/logger.ts';
import { ADMIN_TOKEN, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { assertion, issuerKey, JWT_BEARER, TEST_APP_TOKEN_URL, type TestIssuerKey } from './helpers/issuer.ts';

/**
 * Every refusal of the token endpoint names the rule that failed (`error_description`), so an integrator
 * fixes the assertion without the hub's log, and never says whether an issuer exists: an unknown issuer,
 * an unknown kid and a wrong key read the same.
 */
describe('token refusals name the failed rule', () => {
  let t: TestApp;
  let key: TestIssuerKey;
  const logged: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged.push(String(chunk));
        done();
      },
    });
    t = await testApp('postgres', {}, { log: createLogger('info', sink) });
    key = await issuerKey('k-1');
    await putIssuer(t.app, 'DESCBANK01', key);
  });
  afterAll(() => t.close());

  const post = (payload: Record<string, unknown> | string, contentType?: string) =>
    t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', payload, ...(contentType ? { headers: { 'content-type': contentType } } : {}) });
  const refusal = async (token: string) => {
    const res = await post({ grant_type: JWT_BEARER, assertion: token });
    expect(res.statusCode).toBe(400);
    return res.json() as { error: string; error_description: string };
  };
  const now = () => Math.floor(Date.now() / 1000);
  const signed = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'ES256', kid: 'k-1' }, signer = key) =>
    new SignJWT(claims).setProtectedHeader(header as never).sign(signer.privateKey);
  const claims = (extra: Record<string, unknown> = {}) =>
    Object.fromEntries(
      Object.entries({ iss: 'DESCBANK01', sub: 'DESCBANK01', aud: TEST_APP_TOKEN_URL, jti: randomUUID(), iat: now(), exp: now() + 300, ...extra }).filter(([, v]) => v !== undefined),
    );

  it('bad form and unsupported grant_type', async () => {
    expect((await post({ assertion: 'x' })).json()).toEqual({ error: 'invalid_request', error_description: 'grant_type and assertion are each required once' });
    expect((await post('grant_type=x', 'text/plain')).json().error_description).toMatch(/^content-type must be application\/x-www-form-urlencoded or application\/json/);
    expect((await post({ grant_type: 'client_credentials', assertion: 'x' })).json()).toEqual({ error: 'unsupported_grant_type', error_description: `grant_type must be ${JWT_BEARER}` });
  });

  it('one description per rule of the assertion', async () => {
    const cases: [string, Promise<string>, string | RegExp][] = [
      ['not a JWT', Promise.resolve('not-a-jwt'), 'the assertion is not a JWT (header.claims.signature, base64url)'],
      ['alg', new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'k-1' }).sign(new TextEncoder().encode('k'.repeat(32))), 'the header alg must be ES256'],
      ['kid', signed(claims(), { alg: 'ES256' }), 'the header must name the signing key in kid'],
      ['sub', signed(claims({ sub: 'OTHERBANK1' })), 'iss and sub must both be the issuerId'],
      ['iss form', signed(claims({ iss: 'x', sub: 'x' })), 'iss must be an issuerId: 10 of [A-Za-z0-9_-]'],
      ['jti missing', signed(claims({ jti: undefined })), 'jti is required: a string of 1 to 256 characters, new for every assertion'],
      ['jti control', signed(claims({ jti: 'a\u0007b' })), 'jti must not hold control characters or lone surrogates'],
      ['iat ahead', signed(claims({ iat: now() + 600 })), "iat is more than 60 s ahead of the hub's clock"],
      ['aud missing', assertion('DESCBANK01', key, { aud: null }), `aud must be ${TEST_APP_TOKEN_URL}`],
      ['aud wrong', assertion('DESCBANK01', key, { aud: 'https://elsewhere.example/token' }), `aud must be ${TEST_APP_TOKEN_URL}`],
      ['exp missing', signed(claims({ exp: undefined })), 'the exp claim is required'],
      ['exp past', signed(claims({ exp: now() - 120, iat: now() - 200 })), 'exp is past (30 s of clock skew are forgiven)'],
      ['exp far', signed(claims({ exp: now() + 3600 })), 'exp is more than 15 minutes ahead: an assertion lives at most 15 minutes'],
    ];
    for (const [name, token, description] of cases) {
      const body = await refusal(await token);
      expect(body.error, name).toBe('invalid_grant');
      if (typeof description === 'string') expect(body.error_description, name).toBe(description);
      else expect(body.error_description, name).toMatch(description);
    }
  });

  it('a replayed jti is named', async () => {
    const once = await assertion('DESCBANK01', key);
    expect((await post({ grant_type: JWT_BEARER, assertion: once })).statusCode).toBe(200);
    expect(await refusal(once)).toEqual({ error: 'invalid_grant', error_description: 'jti was used before: every assertion needs a new jti' });
  });

  it('an unknown issuer, an unknown kid and a wrong key read the same; a disabled issuer is told only to its key holder', async () => {
    const stranger = await issuerKey('k-1');
    const unknownIssuer = await refusal(await signed(claims({ iss: 'NOSUCHBANK', sub: 'NOSUCHBANK' }), undefined, stranger));
    const wrongKey = await refusal(await signed(claims(), undefined, stranger));
    const unknownKid = await refusal(await signed(claims(), { alg: 'ES256', kid: 'k-9' }, stranger));
    const badSignature = `${(await signed(claims())).slice(0, -4)}AAAA`;
    expect(unknownIssuer).toEqual({ error: 'invalid_grant', error_description: NOT_VERIFIED });
    expect(wrongKey).toEqual(unknownIssuer);
    expect(unknownKid).toEqual(unknownIssuer);
    expect(await refusal(badSignature)).toEqual(unknownIssuer);
    // Even a bad aud is not told before the signature verifies: otherwise a known issuer would answer differently.
    expect(await refusal(await signed(claims({ iss: 'NOSUCHBANK', sub: 'NOSUCHBANK', aud: 'https://x.example' }), undefined, stranger))).toEqual(unknownIssuer);
    expect(await refusal(await signed(claims({ aud: 'https://x.example' }), undefined, stranger))).toEqual(unknownIssuer);

    const disable = await t.app.inject({
      method: 'PUT',
      url: '/admin/v1/issuers/DESCBANK01',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { name: 'Bank', notificationBaseUrl: 'https://bank.example', jwks: { keys: [key.publicJwk] }, enabled: false },
    });
    expect(disable.statusCode).toBe(200);
    expect(await refusal(await signed(claims(), undefined, stranger))).toEqual(unknownIssuer);
    expect(await refusal(await assertion('DESCBANK01', key))).toEqual({ error: 'invalid_grant', error_description: 'the issuer is disabled' });
    // The log keeps the precise reasons.
    const reasons = logged.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l).reason as string | undefined);
    expect(reasons).toContain('unknown issuer');
    expect(reasons).toContain('unknown kid');
    expect(reasons).toContain('issuer disabled');
  });
});
