import { exportJWK, exportPKCS8, generateKeyPair, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenProvider, TrackhubApiError, TrackhubClient, TrackhubNetworkError, TrackhubTokenError } from '../src/index.ts';

const HUB = 'http://hub.test:8080';
const ISSUER = 'ISSUER_SDK';
const keys = await generateKeyPair('ES256', { extractable: true });
const privateJwk = await exportJWK(keys.privateKey);
const publicJwk = await exportJWK(keys.publicKey);

interface Call {
  url: string;
  init: RequestInit;
}

/** A fake hub: the token endpoint issues tok-1, tok-2…; other routes answer what `routes` says. */
function fakeHub(routes: (call: Call, token: string) => Response | Promise<Response>, opts: { tokenAnswer?: () => Response | undefined; expiresIn?: number } = {}) {
  const calls: Call[] = [];
  let issued = 0;
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    calls.push({ url, init });
    if (url === `${HUB}/authz/v1/oauth2/token`) {
      const forced = opts.tokenAnswer?.();
      if (forced) return forced;
      await new Promise((r) => setTimeout(r, 5));
      issued++;
      return Response.json({ access_token: `tok-${issued}`, token_type: 'Bearer', expires_in: opts.expiresIn ?? 900, scope: 'track' });
    }
    const auth = new Headers(init.headers).get('authorization') ?? '';
    return routes({ url, init }, auth.replace(/^Bearer /, ''));
  };
  return { fetch, calls, tokenCalls: () => calls.filter((c) => c.url.endsWith('/oauth2/token')) };
}

const noSleep = async () => {};

describe('TokenProvider', () => {
  it('signs an ES256 assertion: iss = sub = issuer id, kid, aud the token URL, a fresh jti, exp at most 5 minutes ahead', async () => {
    const tokens = new TokenProvider({ hubUrl: `${HUB}/`, issuerId: ISSUER, keyId: 'key-1', privateKey: privateJwk });
    const a = await tokens.assertion();
    const b = await tokens.assertion();
    const { payload, protectedHeader } = await jwtVerify(a, await importJWK(publicJwk, 'ES256'), { audience: `${HUB}/authz/v1/oauth2/token` });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: 'key-1' });
    expect(payload.iss).toBe(ISSUER);
    expect(payload.sub).toBe(ISSUER);
    expect((payload.exp as number) - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(300);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    const second = await jwtVerify(b, await importJWK(publicJwk, 'ES256'));
    expect(second.payload.jti).not.toBe(payload.jti);
  });

  it('takes a PKCS#8 PEM and another audience', async () => {
    const pem = await exportPKCS8(keys.privateKey);
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'key-1', privateKey: pem, audience: 'https://public.example/authz/v1/oauth2/token' });
    const { payload } = await jwtVerify(await tokens.assertion(), await importJWK(publicJwk, 'ES256'));
    expect(payload.aud).toBe('https://public.example/authz/v1/oauth2/token');
  });

  it('refuses a bad key or id at once, without echoing the key', async () => {
    expect(() => new TokenProvider({ hubUrl: HUB, issuerId: 'short', keyId: 'k', privateKey: privateJwk })).toThrow(/issuerId/);
    expect(() => new TokenProvider({ hubUrl: 'ftp://x', issuerId: ISSUER, keyId: 'k', privateKey: privateJwk })).toThrow(/hubUrl/);
    const t = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'k', privateKey: '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----' });
    const err = await t.assertion().catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).not.toContain('c2VjcmV0');
  });

  it('posts the form the token endpoint reads, caches the token, and shares one exchange between concurrent callers', async () => {
    const hub = fakeHub(() => new Response(null, { status: 204 }));
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'key-1', privateKey: privateJwk, fetch: hub.fetch });
    const got = await Promise.all([tokens.getToken(), tokens.getToken(), tokens.getToken()]);
    expect(got).toEqual(['tok-1', 'tok-1', 'tok-1']);
    expect(await tokens.getToken()).toBe('tok-1');
    expect(hub.tokenCalls()).toHaveLength(1);
    const sent = hub.tokenCalls()[0].init;
    expect(new Headers(sent.headers).get('content-type')).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(sent.body as string);
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    expect(form.get('assertion')?.split('.')).toHaveLength(3);
  });

  it('exchanges again shortly before expiry (the refresh margin), not after', async () => {
    let now = 1_000_000_000_000;
    const hub = fakeHub(() => new Response(null, { status: 204 }), { expiresIn: 900 });
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'key-1', privateKey: privateJwk, fetch: hub.fetch, now: () => now });
    expect(await tokens.getToken()).toBe('tok-1');
    now += 839_000; // 61 s before expiry: still good
    expect(await tokens.getToken()).toBe('tok-1');
    now += 2_000; // 59 s before: replaced
    expect(await tokens.getToken()).toBe('tok-2');
  });

  it('a refusal is a TrackhubTokenError with the OAuth error and its description; every waiting caller gets it', async () => {
    const hub = fakeHub(() => new Response(null, { status: 204 }), {
      tokenAnswer: () => Response.json({ error: 'invalid_grant', error_description: 'aud: must be the token URL' }, { status: 400 }),
    });
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'key-1', privateKey: privateJwk, fetch: hub.fetch });
    const errs = await Promise.all([tokens.getToken().catch((e) => e), tokens.getToken().catch((e) => e)]);
    for (const e of errs) {
      expect(e).toBeInstanceOf(TrackhubTokenError);
      expect(e).toMatchObject({ status: 400, errorCode: 'invalid_grant', errorMessage: 'aud: must be the token URL' });
    }
    expect(hub.tokenCalls()).toHaveLength(1);
  });

  it('a slow_down (429) is waited out with a new assertion each time', async () => {
    let n = 0;
    const waits: number[] = [];
    const hub = fakeHub(() => new Response(null, { status: 204 }), {
      tokenAnswer: () => (n++ === 0 ? Response.json({ error: 'slow_down' }, { status: 429, headers: { 'retry-after': '2' } }) : undefined),
    });
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'key-1', privateKey: privateJwk, fetch: hub.fetch, sleep: async (ms) => void waits.push(ms) });
    expect(await tokens.getToken()).toBe('tok-1');
    expect(waits).toEqual([2000]);
    const [a, b] = hub.tokenCalls().map((c) => new URLSearchParams(c.init.body as string).get('assertion'));
    expect(a).not.toBe(b);
  });
});

describe('TrackhubClient', () => {
  const make = (routes: Parameters<typeof fakeHub>[0], extra: { sleep?: (ms: number) => Promise<void> } = {}) => {
    const hub = fakeHub(routes);
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'key-1', privateKey: privateJwk, fetch: hub.fetch });
    return { hub, client: new TrackhubClient({ hubUrl: HUB, issuerId: ISSUER, tokens, fetch: hub.fetch, sleep: extra.sleep ?? noSleep }) };
  };

  it('track posts the body with the token and the correlation id, and returns the 202 body', async () => {
    const { hub, client } = make(() => Response.json({ operationId: 'op_1' }, { status: 202 }));
    expect(await client.track('card-1', { trackingType: 'SHIPMENT', trackingNumber: '123456789012' }, { correlationId: 'c-1' })).toEqual({ operationId: 'op_1' });
    const call = hub.calls.at(-1) as Call;
    expect(call.url).toBe(`${HUB}/banking/v1/issuers/${ISSUER}/physicalCards/card-1/track`);
    expect(call.init.method).toBe('POST');
    const h = new Headers(call.init.headers);
    expect(h.get('authorization')).toBe('Bearer tok-1');
    expect(h.get('x-correlation-id')).toBe('c-1');
    expect(JSON.parse(call.init.body as string)).toEqual({ trackingType: 'SHIPMENT', trackingNumber: '123456789012' });
  });

  it('refuses a card id or correlation id of the wrong format before any request', async () => {
    const { hub, client } = make(() => Response.json({}));
    await expect(client.trackingStatus('../admin')).rejects.toThrow(/cardId/);
    await expect(client.trackingStatus('card-1', { correlationId: 'has space' })).rejects.toThrow(/correlationId/);
    expect(hub.calls).toHaveLength(0);
  });

  it('a D1 error is a TrackhubApiError with status, errorCode, message and correlation id', async () => {
    const { client } = make(() => Response.json({ errorCode: 'NOT_FOUND', error: 'card card-9 was never tracked' }, { status: 404, headers: { 'x-correlation-id': 'corr-42' } }));
    const err = await client.trackingStatus('card-9').catch((e) => e);
    expect(err).toBeInstanceOf(TrackhubApiError);
    expect(err).toMatchObject({ status: 404, errorCode: 'NOT_FOUND', errorMessage: 'card card-9 was never tracked', correlationId: 'corr-42', retryable: false });
  });

  it('an answer that is not an error body still becomes a TrackhubApiError', async () => {
    const { client } = make(() => new Response('<html>bad gateway</html>', { status: 502 }));
    const err = await client.trackingStatus('card-1').catch((e) => e);
    expect(err).toMatchObject({ status: 502, errorCode: 'UNEXPECTED_RESPONSE', retryable: true });
    expect(err.message).not.toContain('html');
  });

  it('on 401 gets one new token and tries once more; a second 401 is thrown', async () => {
    const seen: string[] = [];
    const { hub, client } = make((_c, token) => {
      seen.push(token);
      return token === 'tok-1' ? Response.json({ errorCode: 'AUTHORIZER_UNAUTHORIZED', error: 'token not valid' }, { status: 401 }) : Response.json({ operations: [] });
    });
    expect(await client.trackingStatus('card-1')).toEqual({ operations: [] });
    expect(seen).toEqual(['tok-1', 'tok-2']);
    expect(hub.tokenCalls()).toHaveLength(2);

    const always = make(() => Response.json({ errorCode: 'AUTHORIZER_UNAUTHORIZED', error: 'token not valid' }, { status: 401 }));
    await expect(always.client.trackingStatus('card-1')).rejects.toMatchObject({ status: 401, errorCode: 'AUTHORIZER_UNAUTHORIZED' });
    expect(always.hub.tokenCalls()).toHaveLength(2);
  });

  it('a hub that does not answer fails the request after timeoutMs', async () => {
    const hang = (_url: string, init: RequestInit) =>
      new Promise<Response>((_r, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    const tokens = new TokenProvider({ hubUrl: HUB, issuerId: ISSUER, keyId: 'key-1', privateKey: privateJwk, fetch: hang, timeoutMs: 50 });
    const started = Date.now();
    const err = await tokens.getToken().catch((e) => e);
    expect(err).toBeInstanceOf(TrackhubNetworkError);
    expect(err).toMatchObject({ timedOut: true, url: `${HUB}/authz/v1/oauth2/token` });
    expect(err.message).toContain(`${HUB}/authz/v1/oauth2/token`);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('429 and 503 are retried after Retry-After, at most 3 times; a wait over 60 s is not waited', async () => {
    const waits: number[] = [];
    let n = 0;
    const { client } = make(
      () => (n++ < 2 ? Response.json({ errorCode: 'RATE_LIMITED', error: 'slow down' }, { status: n === 1 ? 429 : 503, headers: { 'retry-after': '3' } }) : Response.json({ operationId: 'op_1' }, { status: 202 })),
      { sleep: async (ms) => void waits.push(ms) },
    );
    expect(await client.track('card-1', { trackingType: 'PRODUCTION' })).toEqual({ operationId: 'op_1' });
    expect(waits).toEqual([3000, 3000]);

    let m = 0;
    const busy = make(() => {
      m++;
      return Response.json({ errorCode: 'RATE_LIMITED', error: 'slow down' }, { status: 429, headers: { 'retry-after': '1' } });
    });
    await expect(busy.client.track('card-1', { trackingType: 'PRODUCTION' })).rejects.toMatchObject({ status: 429, errorCode: 'RATE_LIMITED', retryAfterSeconds: 1 });
    expect(m).toBe(4);

    let k = 0;
    const long = make(() => {
      k++;
      return Response.json({ errorCode: 'SERVICE_UNAVAILABLE', error: 'store away' }, { status: 503, headers: { 'retry-after': '120' } });
    });
    await expect(long.client.track('card-1', { trackingType: 'PRODUCTION' })).rejects.toMatchObject({ status: 503, retryAfterSeconds: 120 });
    expect(k).toBe(1);
  });
});
