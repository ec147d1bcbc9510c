import { inspect } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  expressMiddleware,
  fastifyNotificationRoute,
  MemoryNotificationStore,
  NotificationHandler,
  nodeHttpListener,
  PostgresNotificationStore,
  TokenProvider,
  TrackhubApiError,
  TrackhubClient,
  TrackhubNetworkError,
  TrackhubTokenError,
  verifyNotification,
} from '../src/index.ts';
import { op, signed, webhookSecret } from './helpers.ts';

/** What an attack pass and first-time users ran into: answers to read safely, options to check, mistakes to name. */

const ISSUER = 'ISSUER_SDK';
const CONTROL = new RegExp('[\\n\\r\\u001b]');
const privateKey = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
const secret = webhookSecret('hardening');
const tokenOk = () => Response.json({ access_token: 'tok-secret-1', expires_in: 900 });

function clientWith(answer: (url: string) => Response | Promise<Response>, hubUrl = 'http://hub.test') {
  const fetch = async (url: string) => (url.endsWith('/oauth2/token') ? tokenOk() : answer(url));
  const tokens = new TokenProvider({ hubUrl, issuerId: ISSUER, keyId: 'k', privateKey, fetch });
  return new TrackhubClient({ hubUrl, issuerId: ISSUER, tokens, fetch });
}

describe('hubUrl and the default audience', () => {
  it('keeps the hub URL as written (explicit default port, upper case) for the audience the hub compares as a string', async () => {
    for (const hubUrl of ['http://Hub.Example:80', 'https://hub.example:443/', 'http://127.0.0.1:80//']) {
      const given = hubUrl.replace(/\/+$/, '');
      const tokens = new TokenProvider({ hubUrl, issuerId: ISSUER, keyId: 'k', privateKey });
      expect(tokens.tokenUrl).toBe(`${given}/authz/v1/oauth2/token`);
      const aud = JSON.parse(Buffer.from((await tokens.assertion()).split('.')[1], 'base64url').toString()).aud;
      expect(aud).toBe(`${given}/authz/v1/oauth2/token`);
    }
  });

  it('writes the scheme lower-case (HTTP://, HTTPS://), the rest as written, for the audience and the requests', async () => {
    for (const [hubUrl, given] of [
      ['HTTP://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
      ['HTTPS://Hub.Example', 'https://Hub.Example'],
      ['Https://hub.example/base', 'https://hub.example/base'],
    ]) {
      const seen: string[] = [];
      const fetch = async (url: string) => {
        seen.push(url);
        return url.endsWith('/oauth2/token') ? tokenOk() : Response.json({ operationId: 'x' });
      };
      const tokens = new TokenProvider({ hubUrl, issuerId: ISSUER, keyId: 'k', privateKey, fetch });
      expect(tokens.tokenUrl).toBe(`${given}/authz/v1/oauth2/token`);
      const aud = JSON.parse(Buffer.from((await tokens.assertion()).split('.')[1], 'base64url').toString()).aud;
      expect(aud).toBe(`${given}/authz/v1/oauth2/token`);
      const client = new TrackhubClient({ hubUrl, issuerId: ISSUER, tokens, fetch });
      expect(client.hubUrl).toBe(given);
      await client.trackingStatus('card-1');
      expect(seen.every((u) => u.startsWith(`${given}/`))).toBe(true);
    }
  });

  it('refuses a hub URL that is not one, or carries a query, fragment or credentials', () => {
    for (const hubUrl of ['hub.example', 'ftp://hub.example', 'http://hub.example/?x=1', 'http://u:p@hub.example', ' http://hub.example', 42]) {
      expect(() => new TokenProvider({ hubUrl: hubUrl as string, issuerId: ISSUER, keyId: 'k', privateKey })).toThrow(TypeError);
    }
  });
});

describe('answers read safely', () => {
  it('a 2xx that is not JSON is UNEXPECTED_RESPONSE, not a SyntaxError quoting the page', async () => {
    const client = clientWith(() => new Response('<html>secret-ish page whsec_abc</html>', { status: 200, headers: { 'content-type': 'text/html' } }));
    const err = await client.trackingStatus('card-1').catch((e) => e);
    expect(err).toBeInstanceOf(TrackhubApiError);
    expect(err.errorCode).toBe('UNEXPECTED_RESPONSE');
    expect(err.message).not.toMatch(/<html|whsec|secret-ish/);
    const tokens = new TokenProvider({ hubUrl: 'http://hub.test', issuerId: ISSUER, keyId: 'k', privateKey, fetch: async () => new Response('<html>login</html>') });
    const terr = await tokens.getToken().catch((e) => e);
    expect(terr).toBeInstanceOf(TrackhubTokenError);
    expect(terr.errorCode).toBe('UNEXPECTED_RESPONSE');
    expect(terr.message).not.toContain('login');
  });

  it('cuts the hub\'s words to 300 characters and escapes control characters (no forged log lines)', async () => {
    const long = `bad\nFAKE LOG LINE\r\u001b[31m${'x'.repeat(5000)}`;
    const client = clientWith(() => Response.json({ errorCode: 'FIELD_INVALID_FORMAT', error: long }, { status: 400 }));
    const err = await client.trackingStatus('card-1').catch((e) => e);
    expect(err.errorMessage.length).toBeLessThanOrEqual(301);
    expect(err.message).not.toMatch(CONTROL);
    expect(err.message).toContain('bad\\u000aFAKE LOG LINE');
    const tokens = new TokenProvider({
      hubUrl: 'http://hub.test',
      issuerId: ISSUER,
      keyId: 'k',
      privateKey,
      fetch: async () => Response.json({ error: 'invalid_grant\nx', error_description: long }, { status: 400 }),
    });
    const terr = await tokens.getToken().catch((e) => e);
    expect(terr.message.length).toBeLessThan(420);
    expect(terr.message).not.toMatch(CONTROL);
  });

  it('reads at most 64 KiB of an error body, even an endless one', async () => {
    let sent = 0;
    const endless = () =>
      new Response(
        new ReadableStream({
          pull(c) {
            sent += 16 * 1024;
            c.enqueue(new Uint8Array(16 * 1024).fill(120));
          },
        }),
        { status: 500 },
      );
    const err = await clientWith(endless).trackingStatus('card-1').catch((e) => e);
    expect(err).toMatchObject({ status: 500, errorCode: 'UNEXPECTED_RESPONSE' });
    expect(sent).toBeLessThan(200 * 1024);
  });

  it('a network failure names the hub URL, never the token', async () => {
    const client = clientWith(() => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) })));
    const err = await client.trackingStatus('card-1').catch((e) => e);
    expect(err).toBeInstanceOf(TrackhubNetworkError);
    expect(err.message).toBe(`could not reach the hub at http://hub.test/banking/v1/issuers/${ISSUER}/physicalCards/card-1/trackingStatus: ECONNREFUSED`);
    expect(err.message).not.toContain('tok-secret');
    expect(err).toMatchObject({ timedOut: false, retryable: true });
    // fetch's words are kept only when they cannot hold request data (a header fault quotes the header).
    const header = clientWith(() => Promise.reject(new TypeError('Headers.append: "Bearer tok-secret-1\n" is an invalid header value.')));
    expect((await header.trackingStatus('card-1').catch((e) => e)).message).toMatch(/: the request could not be sent$/);
  });

  it('a custom token provider\'s token that cannot go into a header is refused before any request, never quoted', async () => {
    for (const bad of ['SECRET-TOKEN\r\nx-evil: 1', 'SECRET-TOKEN\u0000', 'SECRET TOKEN', 'SECRET-TOKEN-é', '', 'S'.repeat(8193), 42]) {
      let requests = 0;
      const tokens = { getToken: async () => bad, invalidate: () => {} } as unknown as TokenProvider;
      const client = new TrackhubClient({
        hubUrl: 'http://hub.test',
        issuerId: ISSUER,
        tokens,
        fetch: async () => {
          requests++;
          return Response.json({});
        },
      });
      const err = await client.trackingStatus('card-1').catch((e) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(/tokens\.getToken\(\) gave no usable access token .*visible ASCII/);
      expect(inspect(err)).not.toContain('SECRET');
      expect(requests).toBe(0);
    }
    // With node's own fetch too: the check comes first, so fetch never gets to quote the header.
    const tokens = { getToken: async () => 'SECRET-TOKEN\nx', invalidate: () => {} } as unknown as TokenProvider;
    const err = await new TrackhubClient({ hubUrl: 'http://127.0.0.1:9', issuerId: ISSUER, tokens }).trackingStatus('card-1').catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(inspect(err)).not.toContain('SECRET');
  });

  it('a network error keeps no cause that may quote a header; a connection failure or a time-out keeps fetch\'s error', async () => {
    const headerFault = new TypeError('Headers.append: "Bearer tok-secret-1\n" is an invalid header value.');
    const err = await clientWith(() => Promise.reject(headerFault)).trackingStatus('card-1').catch((e) => e);
    expect(err).toBeInstanceOf(TrackhubNetworkError);
    expect(err.cause).toBeUndefined();
    expect(inspect(err)).not.toContain('tok-secret');
    const invalidArg = new TypeError('fetch failed', { cause: Object.assign(new Error('invalid header tok-secret-1'), { code: 'UND_ERR_INVALID_ARG' }) });
    const err2 = await clientWith(() => Promise.reject(invalidArg)).trackingStatus('card-1').catch((e) => e);
    expect(err2.cause).toBeUndefined();
    expect(inspect(err2)).not.toContain('tok-secret');
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    expect((await clientWith(() => Promise.reject(refused)).trackingStatus('card-1').catch((e) => e)).cause).toBe(refused);
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const err3 = await clientWith(() => Promise.reject(timeout)).trackingStatus('card-1').catch((e) => e);
    expect(err3).toMatchObject({ timedOut: true });
    expect(err3.cause).toBe(timeout);
  });

  it('a token that could not be sent in a header is an unexpected answer, not cached', async () => {
    const tokens = new TokenProvider({ hubUrl: 'http://hub.test', issuerId: ISSUER, keyId: 'k', privateKey, fetch: async () => Response.json({ access_token: 'tok-bad\nx', expires_in: 900 }) });
    const err = await tokens.getToken().catch((e) => e);
    expect(err).toBeInstanceOf(TrackhubTokenError);
    expect(err.errorCode).toBe('UNEXPECTED_RESPONSE');
    expect(err.message).not.toContain('tok-bad');
  });
});

describe('numeric options: a NaN or a string is refused, never a bound switched off', () => {
  const bad = [Number.NaN, 'abc', '300', Number.POSITIVE_INFINITY, -1];

  it('toleranceSeconds', () => {
    // Signed an hour ago: with the replay window on, refused; NaN used to let it through.
    const n = signed({ operations: [op('op-1', 1)] }, { secrets: [secret], at: Math.floor(Date.now() / 1000) - 3600 });
    for (const t of bad) {
      expect(() => verifyNotification(n.body, n.headers, { secrets: [secret], toleranceSeconds: t as number })).toThrow(/toleranceSeconds/);
      expect(() => new NotificationHandler({ secrets: [secret], store: new MemoryNotificationStore(), onUpdate: () => {}, toleranceSeconds: t as number })).toThrow(/toleranceSeconds/);
    }
    expect(() => verifyNotification(n.body, n.headers, { secrets: [secret], toleranceSeconds: 0 })).toThrow(/timestamp_too_old/);
  });

  it('timeouts, retries, lifetimes, margins, body sizes, page bounds', () => {
    const base = { hubUrl: 'http://hub.test', issuerId: ISSUER, keyId: 'k', privateKey };
    const tokens = new TokenProvider(base);
    const h = new NotificationHandler({ secrets: [secret], store: new MemoryNotificationStore(), onUpdate: () => {} });
    for (const v of bad) {
      for (const name of ['timeoutMs', 'maxRetries', 'maxRetryWaitSeconds', 'refreshMarginSeconds', 'assertionLifetimeSeconds']) {
        expect(() => new TokenProvider({ ...base, [name]: v }), name).toThrow(new RegExp(name));
      }
      for (const name of ['timeoutMs', 'maxRetries', 'maxRetryWaitSeconds']) {
        expect(() => new TrackhubClient({ hubUrl: base.hubUrl, issuerId: ISSUER, tokens, [name]: v }), name).toThrow(new RegExp(name));
      }
      expect(() => nodeHttpListener(h, { maxBodyBytes: v as number })).toThrow(/maxBodyBytes/);
      expect(() => expressMiddleware(h, { maxBodyBytes: v as number })).toThrow(/maxBodyBytes/);
      expect(() => new MemoryNotificationStore({ maxWebhookIds: v as number })).toThrow(/maxWebhookIds/);
    }
  });
});

describe('common mistakes get clear TypeErrors', () => {
  const store = new MemoryNotificationStore();
  const n = signed({ operations: [op('op-1', 1)] }, { secrets: [secret] });

  it('a secret given as a string, not in a list', () => {
    expect(() => verifyNotification(n.body, n.headers, { secrets: secret as unknown as string[] })).toThrow(/secrets must be an array/);
    expect(() => verifyNotification(n.body, n.headers, secret as unknown as string[])).toThrow(/not one secret as a string/);
    expect(() => new NotificationHandler({ secrets: secret as unknown as string[], store, onUpdate: () => {} })).toThrow(/secrets must be an array/);
  });

  it('a parsed body or an ArrayBuffer instead of the raw bytes', async () => {
    expect(() => verifyNotification(JSON.parse(n.body), n.headers, [secret])).toThrow(/already parsed as JSON/);
    expect(() => verifyNotification(new TextEncoder().encode(n.body).buffer as unknown as Uint8Array, n.headers, [secret])).toThrow(/ArrayBuffer: pass new Uint8Array/);
    const h = new NotificationHandler({ secrets: [secret], store, onUpdate: () => {} });
    await expect(h.handle(JSON.parse(n.body), n.headers)).rejects.toThrow(/already parsed as JSON/);
  });

  it('no options at all', () => {
    const none = undefined as never;
    expect(() => new NotificationHandler(none)).toThrow(/needs its options/);
    expect(() => new TokenProvider(none)).toThrow(/needs its options/);
    expect(() => new TrackhubClient(none)).toThrow(/needs its options/);
    expect(() => new PostgresNotificationStore(none)).toThrow(/pool/);
    expect(() => verifyNotification(n.body, n.headers, none)).toThrow(TypeError);
    expect(() => nodeHttpListener(none)).toThrow(/NotificationHandler/);
    expect(() => fastifyNotificationRoute({ register: () => {} }, none)).toThrow(/needs its options/);
  });

  it('a pg.Client instead of a pool', async () => {
    class Client {
      async connect() {}
      async query() {
        return { rows: [], rowCount: 0 };
      }
    }
    expect(() => new PostgresNotificationStore({ pool: new Client() as never })).toThrow(/pg.Pool, not a pg.Client/);
    // Something else whose connect() gives nothing to release.
    const odd = new PostgresNotificationStore({ pool: { connect: async () => undefined as never } });
    await expect(odd.migrate()).rejects.toThrow(/gave no client to release/);
  });
});
