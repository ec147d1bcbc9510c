import { Writable } from 'node:stream';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { assertion, issuerKey, JWT_BEARER, type TestIssuerKey, tokenUrl } from './helpers/issuer.ts';
import { freshStore, STORE_KINDS } from './helpers/stores.ts';

/**
 * The token endpoint as an attacker or a sloppy client meets it: every refusal is an OAuth error body
 * (RFC 6749 §5.2), the claims the contract requires (`aud`, `jti`, `iat` not ahead) are enforced over
 * HTTP, and what is logged is the reason, at info, never the assertion.
 */
const ISSUER = 'BANK_TOK01';
const TOKEN = '/authz/v1/oauth2/token';

/** Every line the app logs, parsed. */
function logSink() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      done();
    },
  });
  return { log: createLogger('info', stream), lines, raw };
}

describe.each(STORE_KINDS)('token endpoint refusals on %s', (kind) => {
  let t: TestApp;
  let key: TestIssuerKey;
  let logs: ReturnType<typeof logSink>;

  beforeAll(async () => {
    logs = logSink();
    t = await testApp(kind, {}, { log: logs.log });
    key = await issuerKey('k-1');
    await putIssuer(t.app, ISSUER, key);
  });
  afterAll(async () => t?.close());

  const aud = () => tokenUrl(t.config.publicUrl);
  const post = (payload: string | Record<string, unknown>, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: TOKEN, payload, headers });
  const grant = async (a: string) => post({ grant_type: JWT_BEARER, assertion: a });
  /** An assertion with exactly these claims (signed by the issuer's registered key). */
  const signed = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k-1' }).sign(key.privateKey);
  const claims = (extra: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: ISSUER, sub: ISSUER, aud: aud(), jti: `jti-${Math.random()}`, iat: now, exp: now + 300, ...extra };
  };

  it('answers every body it cannot read with invalid_request in OAuth form, never the hub error body', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const json = { 'content-type': 'application/json' };
    const cases: [string, string, Record<string, string>, number][] = [
      ['invalid JSON', '{"grant_type": "x", "assertion": ', json, 400],
      ['empty JSON body', '', json, 400],
      ['a JSON array', '[1, 2]', json, 400],
      ['a JSON string', '"grant_type"', json, 400],
      ['JSON null', 'null', json, 400],
      ['text/plain', `grant_type=${JWT_BEARER}&assertion=x`, { 'content-type': 'text/plain' }, 400],
      ['application/xml', '<grant/>', { 'content-type': 'application/xml' }, 400],
      ['no content type, no body', '', {}, 400],
      ['an empty form', '', form, 400],
      ['a form over 64 KiB', `grant_type=${JWT_BEARER}&assertion=${'a'.repeat(70 * 1024)}`, form, 413],
      ['JSON over 64 KiB', JSON.stringify({ grant_type: JWT_BEARER, assertion: 'a'.repeat(70 * 1024) }), json, 413],
    ];
    for (const [name, payload, headers, status] of cases) {
      const res = await post(payload, headers);
      expect(res.statusCode, name).toBe(status);
      const body = res.json();
      expect(body, name).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
      expect(res.headers['cache-control'], name).toBe('no-store');
    }
  });

  it('answers a refusal made before the route (a malformed x-correlation-id) in OAuth form too', async () => {
    const res = await post({ grant_type: JWT_BEARER, assertion: await assertion(ISSUER, key, { aud: aud() }) }, { 'x-correlation-id': 'not valid!' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'x-correlation-id: must be 1 to 64 of [A-Za-z0-9_-]' });
  });

  it('requires aud and jti, refuses a replayed or numeric jti and an iat ahead of the hub clock', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { aud: _aud, ...noAud } = claims();
    const { jti: _jti, ...noJti } = claims();
    const refused: [string, Record<string, unknown>][] = [
      ['no aud', noAud],
      ['no jti', noJti],
      ['numeric jti', claims({ jti: 777 })],
      ['iat an hour ahead', claims({ iat: now + 3600 })],
      ['iat ten years ahead', claims({ iat: now + 10 * 365 * 86_400 })],
    ];
    for (const [name, c] of refused) {
      const res = await grant(await signed(c));
      expect(res.statusCode, name).toBe(400);
      expect(res.json(), name).toMatchObject({ error: 'invalid_grant' });
    }
    // The same jti twice: the second is a replay, even in a newly signed assertion.
    const once = await signed(claims({ jti: 'jti-twice' }));
    expect((await grant(once)).statusCode).toBe(200);
    expect((await grant(once)).json()).toMatchObject({ error: 'invalid_grant' });
    expect((await grant(await signed(claims({ jti: 'jti-twice', exp: now + 200 })))).json()).toMatchObject({ error: 'invalid_grant' });
    // Within the bounds, the same claims are granted.
    expect((await grant(await signed(claims({ iat: now + 30 })))).statusCode).toBe(200);
    expect((await grant(await signed(claims({ jti: 'j'.repeat(256) })))).statusCode).toBe(200);
  });

  it('refuses a 3,000 to 30,000 character jti with invalid_grant, logging only the reason at info', async () => {
    const from = logs.raw.length;
    for (const length of [3_000, 10_000, 30_000]) {
      const jti = `J${'j'.repeat(length - 1)}`;
      const res = await grant(await signed(claims({ jti })));
      expect(res.statusCode, `${length}`).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_grant' });
    }
    const logged = logs.lines.slice(from);
    expect(logged.filter((l) => (l.level as number) >= 40)).toEqual([]);
    expect(logged.filter((l) => l.msg === 'assertion refused').map((l) => [l.level, l.reason])).toEqual(
      Array(3).fill([30, 'jti missing, not a string, or over 256 characters']),
    );
    expect(logs.raw.slice(from).join('\n')).not.toContain('jjjjjjjjjj');
  });

  it('logs why a request was refused, at info, and never the assertion it carried', async () => {
    const from = logs.raw.length;
    const wrongAud = await assertion(ISSUER, key, { aud: 'https://elsewhere.example/token' });
    await grant(wrongAud);
    const unreadable = `{"grant_type": "${JWT_BEARER}", "assertion": "${wrongAud}"`;
    await post(unreadable, { 'content-type': 'application/json' });
    await post(`grant_type=${JWT_BEARER}&assertion=${wrongAud}`, { 'content-type': 'text/plain' });
    const logged = logs.lines.slice(from);
    expect(logged.map((l) => [l.level, l.msg, l.reason])).toEqual([
      [30, 'assertion refused', `assertion rejected: the aud claim failed its check (check_failed) (this hub takes ${t.config.publicUrl}/authz/v1/oauth2/token)`],
      [30, 'token request refused', 'the body is not valid JSON'],
      [30, 'token request refused', 'content-type'],
    ]);
    const text = logs.raw.slice(from).join('\n');
    for (const part of wrongAud.split('.')) expect(text).not.toContain(part);
  });
});

describe.each(STORE_KINDS)('token endpoint with the store gone on %s', (kind) => {
  it('answers the failure in OAuth form (server_error, or temporarily_unavailable with 503), not the hub error body', async () => {
    const store = await freshStore(kind);
    const t = await testApp(kind, {}, { store });
    const key = await issuerKey('k-1');
    await putIssuer(t.app, ISSUER, key);
    const signedAssertion = await assertion(ISSUER, key, { aud: tokenUrl(t.config.publicUrl) });
    await store.close();
    try {
      const res = await t.app.inject({ method: 'POST', url: TOKEN, payload: { grant_type: JWT_BEARER, assertion: signedAssertion } });
      expect(res.statusCode).toBeGreaterThanOrEqual(500);
      expect(res.json()).toEqual({ error: res.statusCode === 503 ? 'temporarily_unavailable' : 'server_error', error_description: expect.any(String) });
      expect(res.headers['cache-control']).toBe('no-store');
    } finally {
      await t.app.close();
    }
  });
});
