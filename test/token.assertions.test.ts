import { randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  AccessTokenVerifier,
  InvalidGrant,
  type IssuerKeys,
  issueAccessToken,
  issuerKeysFingerprint,
  loadAccessTokenKey,
  verifyAssertion,
} from '../src/auth/tokens.ts';
import { putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { assertion, issuerKey, JWT_BEARER, type TestIssuerKey, tokenUrl } from './helpers/issuer.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

/**
 * The edges of the RFC 7523 assertion check and of the hub's access tokens: exact lifetimes, the skew
 * forgiven, what a token holds, and what the token endpoint answers. Time is pinned through `now`.
 */
const AUD = 'https://hub.example/authz/v1/oauth2/token';
const NOW_S = 1_800_000_000;
const NOW_MS = NOW_S * 1000;

describe.each(STORE_KINDS)('assertions and access tokens on %s', (kind) => {
  let store: TestStore;
  let key: TestIssuerKey;
  let issuer: IssuerKeys;

  beforeAll(async () => {
    store = await freshStore(kind);
    key = await issuerKey('k-1');
    issuer = { issuerId: 'BANK_EDGE1', enabled: true, jwks: { keys: [key.publicJwk] }, tokenEpoch: 0 };
  });
  afterAll(async () => store?.close());
  afterEach(() => vi.restoreAllMocks());

  /** An assertion with exactly the header and claims given. */
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'ES256', kid: 'k-1' }) =>
    new SignJWT(claims).setProtectedHeader(header as never).sign(key.privateKey);
  /** Every claim the contract requires, a fresh jti each time; `extra` overrides (undefined removes). */
  const base = (extra: Record<string, unknown> = {}) =>
    Object.fromEntries(
      Object.entries({ iss: 'BANK_EDGE1', sub: 'BANK_EDGE1', aud: AUD, jti: randomUUID(), iat: NOW_S, exp: NOW_S + 300, ...extra }).filter(([, v]) => v !== undefined),
    );
  /** `loaded`: what the directory holds for the issuer (null: nothing). Resolves to the issuer id proved. */
  const grant = (assertion: string, now = NOW_MS, loaded: IssuerKeys | null = issuer) =>
    verifyAssertion(store.db, assertion, { audiences: [AUD], loadIssuer: async () => loaded ?? undefined, now });
  const verify = async (assertion: string, now = NOW_MS, loaded: IssuerKeys | null = issuer) => (await grant(assertion, now, loaded)).issuerId;
  const refusal = async (assertion: string, now = NOW_MS, loaded: IssuerKeys | null = issuer) => {
    const err = await grant(assertion, now, loaded).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidGrant);
    return (err as Error).message;
  };

  it('names the reason for each refusal (for the logs; the client only sees invalid_grant)', async () => {
    expect(await refusal('not.a.jwt')).toBe('assertion is not a JWT');
    const hs = await new SignJWT(base()).setProtectedHeader({ alg: 'HS256', kid: 'k-1' }).sign(new TextEncoder().encode('k'.repeat(32)));
    expect(await refusal(hs)).toBe('alg is not ES256');
    // Whatever a caller puts in alg stays out of the reason (which is logged).
    const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const hostile = `${part({ alg: 'HS256\u001b[31mFORGED', kid: 'k-1' })}.${part(base())}.c2ln`;
    expect(await refusal(hostile)).toBe('alg is not ES256');
    expect(await refusal(await sign(base(), { alg: 'ES256' }))).toBe('kid missing');
    expect(await refusal(await sign(base({ iss: undefined })))).toBe('iss and sub must both be the issuerId');
    expect(await refusal(await sign(base({ sub: 'OTHER' })))).toBe('iss and sub must both be the issuerId');
    expect(await refusal(await sign(base()), NOW_MS, null)).toBe('unknown issuer');
    expect(await refusal(await sign(base()), NOW_MS, { ...issuer, enabled: false })).toBe('issuer disabled');
    expect(await refusal(await sign(base(), { alg: 'ES256', kid: 'k-2' }))).toBe('unknown kid');
    // A key the directory holds but that cannot be imported is no JOSE verdict on the assertion.
    const broken = { ...issuer, jwks: { keys: [{ kid: 'k-1', kty: 'EC', crv: 'P-256' }] } };
    expect(await refusal(await sign(base()), NOW_MS, broken)).toMatch(/^assertion rejected/);
    expect(await refusal(await sign(base({ exp: undefined })))).toBe('assertion rejected: the exp claim failed its check (missing)');
    expect(await refusal(await sign(base({ aud: 'https://elsewhere.example/token' })))).toMatch(/^assertion rejected: the aud claim failed its check \(check_failed\) \(this hub takes https:\/\/\S+\)$/);
  });

  it('forgives an exp less than 30 s past, not 30 s', async () => {
    expect(await verify(await sign(base({ exp: NOW_S - 29 })))).toBe('BANK_EDGE1');
    expect(await refusal(await sign(base({ exp: NOW_S - 30 })))).toBe('assertion rejected: exp is past');
  });

  it('accepts an exp up to 15 minutes (and the 30 s skew) ahead, not further', async () => {
    expect(await verify(await sign(base({ exp: NOW_S + 15 * 60 + 30 })))).toBe('BANK_EDGE1');
    expect(await refusal(await sign(base({ exp: NOW_S + 15 * 60 + 31 })))).toBe('exp more than 15 minutes ahead');
  });

  it('requires aud: the hub token URL, alone or among others', async () => {
    expect(await verify(await sign(base()))).toBe('BANK_EDGE1');
    expect(await verify(await sign(base({ aud: ['https://other.example', AUD] })))).toBe('BANK_EDGE1');
    expect(await refusal(await sign(base({ aud: undefined })))).toMatch(/^assertion rejected: the aud claim failed its check \(missing\)/);
    expect(await refusal(await sign(base({ aud: `${AUD}/` })))).toMatch(/^assertion rejected: the aud claim failed its check \(check_failed\)/);
  });

  it('requires a jti of 1 to 256 characters, refused before the issuer is looked up', async () => {
    const looked: string[] = [];
    const refusedEarly = async (claims: Record<string, unknown>) => {
      const err = await verifyAssertion(store.db, await sign(claims), {
        audiences: [AUD],
        loadIssuer: async (id) => {
          looked.push(id);
          return issuer;
        },
        now: NOW_MS,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidGrant);
      return (err as Error).message;
    };
    for (const jti of [undefined, '', 777, ['a'], 'j'.repeat(257), 'j'.repeat(30_000)]) {
      expect(await refusedEarly(base({ jti })), JSON.stringify(jti)?.slice(0, 20)).toBe('jti missing, not a string, or over 256 characters');
    }
    for (const jti of ['nul\u0000here', 'bell\u0007', 'half \ud800 pair']) {
      expect(await refusedEarly(base({ jti })), JSON.stringify(jti)).toBe('jti holds a control character or a lone surrogate');
    }
    expect(looked).toEqual([]);
    expect(await verify(await sign(base({ jti: 'j'.repeat(256) })))).toBe('BANK_EDGE1');
    expect(await verify(await sign(base({ jti: '🂡'.repeat(256) })))).toBe('BANK_EDGE1'); // characters, not UTF-16 units
    expect(await verify(await sign(base({ jti: 'j' })))).toBe('BANK_EDGE1');
  });

  it('refuses an iss that cannot be an issuer id without looking it up', async () => {
    let lookups = 0;
    const loadIssuer = async () => {
      lookups += 1;
      return issuer;
    };
    for (const iss of ['x'.repeat(20_000), 'BANK_EDGE', 'BANK_EDGE12', 'BANK EDGE1', 'BANK/EDGE1']) {
      const err = await verifyAssertion(store.db, await sign(base({ iss, sub: iss })), { audiences: [AUD], loadIssuer, now: NOW_MS }).catch((e: unknown) => e);
      expect((err as Error).message, iss.slice(0, 20)).toBe('iss is not an issuer id');
    }
    expect(lookups).toBe(0);
  });

  it('accepts an iat up to 60 s ahead of the hub clock, not 61 s, nor an hour or ten years', async () => {
    expect(await verify(await sign(base({ iat: NOW_S + 60 })))).toBe('BANK_EDGE1');
    expect(await verify(await sign(base({ iat: NOW_S - 3600 })))).toBe('BANK_EDGE1');
    expect(await verify(await sign(base({ iat: undefined })))).toBe('BANK_EDGE1');
    for (const ahead of [61, 3600, 10 * 365 * 86_400]) {
      expect(await refusal(await sign(base({ iat: NOW_S + ahead }))), `${ahead} s`).toBe('iat more than 60 s ahead');
    }
  });

  it('remembers a jti for as long as its assertion could be accepted (exp + 30 s), and only for its issuer', async () => {
    const jti = randomUUID();
    const assertion = await sign(base({ jti }));
    expect(await verify(assertion)).toBe('BANK_EDGE1');
    expect(await refusal(assertion)).toBe('jti replayed');
    const row = await store.db.selectFrom('used_assertions').select(['issuer_id', 'expires_at']).where('jti', '=', jti).executeTakeFirstOrThrow();
    expect(row.issuer_id).toBe('BANK_EDGE1');
    expect(new Date(row.expires_at as unknown as string).getTime()).toBe((NOW_S + 300 + 30) * 1000);
  });

  it('refuses a replayed jti whatever else changed, but lets another issuer use the same jti', async () => {
    const jti = randomUUID();
    expect(await verify(await sign(base({ jti })))).toBe('BANK_EDGE1');
    expect(await refusal(await sign(base({ jti, exp: NOW_S + 600 })))).toBe('jti replayed');
    const other: IssuerKeys = { ...issuer, issuerId: 'BANK_EDGE2' };
    expect(await verify(await sign(base({ jti, iss: 'BANK_EDGE2', sub: 'BANK_EDGE2' })), NOW_MS, other)).toBe('BANK_EDGE2');
  });

  it("grants under a fingerprint of the keys that verified the assertion and the issuer's token epoch", async () => {
    const proved = await grant(await sign(base()));
    expect(proved).toEqual({ issuerId: 'BANK_EDGE1', issuerKeys: `${await issuerKeysFingerprint(issuer.jwks)}.0` });
    expect(proved.issuerKeys).toMatch(/^[A-Za-z0-9_-]{16}\.0$/);
    // The same keys in a later epoch (the issuer was disabled, or re-keyed and back since) bind differently.
    expect((await grant(await sign(base()), NOW_MS, { ...issuer, tokenEpoch: 3 })).issuerKeys).toBe(`${await issuerKeysFingerprint(issuer.jwks)}.3`);
  });

  it('fingerprints the keys themselves: labels and member order do not change it, another key does', async () => {
    const fp = await issuerKeysFingerprint(issuer.jwks);
    const relabelled = Object.fromEntries(Object.entries({ ...key.publicJwk, use: undefined, alg: undefined }).reverse().filter(([, v]) => v !== undefined));
    expect(await issuerKeysFingerprint({ keys: [relabelled] })).toBe(fp);
    const second = await issuerKey('k-2');
    expect(await issuerKeysFingerprint({ keys: [key.publicJwk, second.publicJwk] })).toBe(await issuerKeysFingerprint({ keys: [second.publicJwk, key.publicJwk] }));
    expect(await issuerKeysFingerprint({ keys: [key.publicJwk, second.publicJwk] })).not.toBe(fp);
    expect(await issuerKeysFingerprint({ keys: [second.publicJwk] })).not.toBe(fp);
    expect(await issuerKeysFingerprint({ keys: [] })).not.toBe(fp);
  });

  it('forgets expired jtis now and then (one use in a hundred), never live ones', async () => {
    const expiredJti = async () => {
      const jti = randomUUID();
      await store.db.insertInto('used_assertions').values({ issuer_id: 'BANK_EDGE1', jti, expires_at: new Date(Date.now() - 60_000) }).execute();
      return jti;
    };
    const left = async (jti: string) => (await sql<{ n: number }>`select count(*)::int as n from used_assertions where jti = ${jti}`.execute(store.db)).rows[0].n;
    const kept = await expiredJti();
    vi.spyOn(Math, 'random').mockReturnValue(0.01);
    await verify(await sign(base({ jti: randomUUID() })));
    expect(await left(kept)).toBe(1);
    const pruned = await expiredJti();
    const live = randomUUID();
    vi.spyOn(Math, 'random').mockReturnValue(0.009);
    await verify(await sign(base({ jti: live, iat: undefined, exp: Math.floor(Date.now() / 1000) + 300 })), Date.now());
    expect(await left(pruned)).toBe(0);
    expect(await left(live)).toBe(1);
  });

  it('issues a 15-minute HS256 access token bound to the issuer, for the issuer API only', async () => {
    const hubKey = await loadAccessTokenKey(store.db);
    expect(hubKey).toHaveLength(32);
    expect(await loadAccessTokenKey(store.db)).toEqual(hubKey); // the same key after a restart
    const issued = await issueAccessToken(hubKey, { issuerId: 'BANK_EDGE1', issuerKeys: 'keys-fp' }, NOW_MS + 999);
    expect(issued).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'tracking:write tracking:read' });
    expect(decodeProtectedHeader(issued.access_token)).toEqual({ alg: 'HS256', typ: 'at+jwt' });
    expect(decodeJwt(issued.access_token)).toEqual({
      scope: 'tracking:write tracking:read',
      issuer_keys: 'keys-fp',
      sub: 'BANK_EDGE1',
      aud: 'trackhub:issuer-api',
      iat: NOW_S,
      exp: NOW_S + 900,
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    });
    // Two tokens for one issuer in the same second are two tokens.
    const again = await issueAccessToken(hubKey, { issuerId: 'BANK_EDGE1', issuerKeys: 'keys-fp' }, NOW_MS + 999);
    expect(again.access_token).not.toBe(issued.access_token);

    const verifier = new AccessTokenVerifier(hubKey);
    const granted = { issuerId: 'BANK_EDGE1', issuerKeys: 'keys-fp' };
    expect(await verifier.verify(issued.access_token, NOW_MS + 899_000)).toEqual(granted);
    expect(await verifier.verify(issued.access_token, NOW_MS + 899_500)).toEqual(granted); // from the cache
    // Remembered, but never past its exp.
    expect(await verifier.verify(issued.access_token, NOW_MS + 900_000)).toBeUndefined();
    expect(await new AccessTokenVerifier(hubKey).verify(issued.access_token, NOW_MS + 900_000)).toBeUndefined();
  });

  it('refuses an access token for another audience, without a subject or keys fingerprint, or signed with ES256', async () => {
    const hubKey = await loadAccessTokenKey(store.db);
    const verifier = new AccessTokenVerifier(hubKey);
    const hs = (claims: Record<string, unknown>) => new SignJWT({ iat: NOW_S, exp: NOW_S + 600, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(hubKey);
    const keys = { issuer_keys: 'keys-fp' };
    expect(await verifier.verify(await hs({ sub: 'BANK_EDGE1', aud: 'trackhub:issuer-api', ...keys }), NOW_MS)).toEqual({ issuerId: 'BANK_EDGE1', issuerKeys: 'keys-fp' });
    expect(await verifier.verify(await hs({ sub: 'BANK_EDGE1', aud: 'trackhub:admin', ...keys }), NOW_MS)).toBeUndefined();
    expect(await verifier.verify(await hs({ aud: 'trackhub:issuer-api', ...keys }), NOW_MS)).toBeUndefined();
    // Granted before tokens carried the fingerprint, or with one that is not a string: no way to tell its keys.
    expect(await verifier.verify(await hs({ sub: 'BANK_EDGE1', aud: 'trackhub:issuer-api' }), NOW_MS)).toBeUndefined();
    expect(await verifier.verify(await hs({ sub: 'BANK_EDGE1', aud: 'trackhub:issuer-api', issuer_keys: 7 }), NOW_MS)).toBeUndefined();
    const noExp = await new SignJWT({ sub: 'BANK_EDGE1', aud: 'trackhub:issuer-api', iat: NOW_S }).setProtectedHeader({ alg: 'HS256' }).sign(hubKey);
    expect(await verifier.verify(noExp, NOW_MS)).toBeUndefined();
    const es = await new SignJWT({ sub: 'BANK_EDGE1', aud: 'trackhub:issuer-api', exp: NOW_S + 600 }).setProtectedHeader({ alg: 'ES256' }).sign(key.privateKey);
    expect(await verifier.verify(es, NOW_MS)).toBeUndefined();
  });
});

describe.each(STORE_KINDS)('token endpoint answers on %s', (kind) => {
  let t: TestApp;
  let key: TestIssuerKey;

  beforeAll(async () => {
    t = await testApp(kind);
    key = await issuerKey('k-1');
    await putIssuer(t.app, 'BANK_EP001', key);
  });
  afterAll(async () => t?.close());

  const post = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', payload });
  const good = () => assertion('BANK_EP001', key, { aud: tokenUrl(t.config.publicUrl) });

  it('never lets a token or an error be cached', async () => {
    const ok = await post({ grant_type: JWT_BEARER, assertion: await good() });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    const refused = await post({ grant_type: JWT_BEARER, assertion: 'x' });
    expect(refused.statusCode).toBe(400);
    expect(refused.headers['cache-control']).toBe('no-store');
  });

  it('answers invalid_request for an empty or non-string assertion or grant type', async () => {
    for (const payload of [
      { grant_type: JWT_BEARER, assertion: '' },
      { grant_type: JWT_BEARER, assertion: 42 },
      { grant_type: JWT_BEARER, assertion: { jwt: 'x' } },
      { grant_type: [JWT_BEARER], assertion: 'x' },
      { assertion: 'x' },
    ]) {
      const res = await post(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json(), JSON.stringify(payload)).toEqual({ error: 'invalid_request', error_description: 'grant_type and assertion are each required once' });
    }
  });

  it('accepts the hub token URL as aud and refuses another, or none', async () => {
    const withAud = (aud: string | null) => assertion('BANK_EP001', key, { aud });
    expect((await post({ grant_type: JWT_BEARER, assertion: await withAud(`${t.config.publicUrl}/authz/v1/oauth2/token`) })).statusCode).toBe(200);
    expect((await post({ grant_type: JWT_BEARER, assertion: await withAud(`${t.config.publicUrl}/other`) })).json()).toMatchObject({ error: 'invalid_grant' });
    expect((await post({ grant_type: JWT_BEARER, assertion: await withAud(null) })).json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('is described in the OpenAPI document for integrators', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const op = doc.paths['/authz/v1/oauth2/token'].post;
    expect(op.tags).toEqual(['issuer']);
    expect(op.summary).toBe('Exchange an ES256-signed JWT assertion for an access token');
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '413']));
    expect(JSON.stringify(op.responses['200'])).toContain('access_token');
  });

  it('refuses a body over 64 KiB before reading the assertion, in OAuth form', async () => {
    const res = await post({ grant_type: JWT_BEARER, assertion: 'a'.repeat(70 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'the body is over 64 KiB' });
  });
});
