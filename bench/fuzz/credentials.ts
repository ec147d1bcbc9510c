/**
 * Real credentials made through the Admin API at start (two issuers with ES256 key pairs, two production
 * sites with API keys), so generated requests reach the code behind authentication, and the bad ones the
 * fuzzer sends beside them: none, malformed, expired, forged, another issuer's or site's, a wrong admin token.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { assertion, issuerKey, JWT_BEARER, type TestIssuerKey } from '../../test/helpers/issuer.ts';

export const FUZZ_ISSUER = 'FUZZISSUER';
export const OTHER_ISSUER = 'FUZZOTHER1';
export const FUZZ_SITE = 'fuzz-site-1';
export const OTHER_SITE = 'fuzz-site-2';
/** Ids that PUTs of the fuzzer must not touch: replacing their keys would lock the fuzzer out. */
export const OWN_IDS = new Set([FUZZ_ISSUER, OTHER_ISSUER, FUZZ_SITE, OTHER_SITE]);

/** Access-token shapes sent to the Issuer API. `valid` is the one token that may be answered 2xx. */
export const BEARER_KINDS = [
  'valid',
  'valid-other-issuer',
  'none',
  'empty',
  'scheme-only',
  'lowercase-scheme',
  'basic',
  'garbage',
  'forged-hs256',
  'expired-forged',
  'alg-none',
  'tampered-signature',
  'tampered-payload',
  'huge',
  'admin-token-as-bearer',
] as const;
export type BearerKind = (typeof BEARER_KINDS)[number];

export const ADMIN_KINDS = ['valid', 'none', 'wrong-same-length', 'wrong-length', 'lowercase-scheme', 'access-token', 'huge', 'prefix'] as const;
export type AdminKind = (typeof ADMIN_KINDS)[number];

export const SITE_KEY_KINDS = ['valid', 'other-site', 'none', 'empty', 'random', 'huge', 'admin-token', 'prefix'] as const;
export type SiteKeyKind = (typeof SITE_KEY_KINDS)[number];

/** JWT-bearer assertions for the token endpoint. Only `valid` (a fresh jti each time) may get a token. */
export const ASSERTION_KINDS = [
  'valid',
  'valid-other-issuer',
  'expired',
  'exp-too-far',
  'no-exp',
  'no-jti',
  'replayed-jti',
  'jti-too-long',
  'wrong-aud',
  'no-aud',
  'iat-future',
  'iss-not-sub',
  'unknown-issuer',
  'unknown-kid',
  'signed-by-other-key',
  'alg-none',
  'alg-hs256',
  'tampered',
  'garbage',
  'empty',
] as const;
export type AssertionKind = (typeof ASSERTION_KINDS)[number];

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export class Credentials {
  private tokens = new Map<string, { token: string; renewAt: number }>();
  private readonly forgedKey = randomBytes(32);
  /** A jti the fuzzer spent on a token less than two minutes ago: its row is kept until that exp (5 min). */
  private replayedJti = `fuzz-replayed-${randomUUID()}`;
  private replayedJtiSpentAt = 0;
  private spending: Promise<void> | undefined;

  private constructor(
    readonly baseUrl: string,
    readonly adminToken: string,
    readonly tokenUrl: string,
    private readonly keys: { main: TestIssuerKey; other: TestIssuerKey; stranger: TestIssuerKey },
    readonly siteKeys: { main: string; other: string },
  ) {}

  /** Registers the fuzzer's issuers and sites on the hub (PUTs: a second run on the same hub updates them). */
  static async create(baseUrl: string, adminToken: string, notificationBaseUrl: string): Promise<Credentials> {
    const keys = { main: await issuerKey('fuzz-key-1'), other: await issuerKey('fuzz-key-2'), stranger: await issuerKey('fuzz-key-1') };
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    for (const [id, key] of [[FUZZ_ISSUER, keys.main], [OTHER_ISSUER, keys.other]] as const) {
      const res = await fetch(`${baseUrl}/admin/v1/issuers/${id}`, {
        method: 'PUT',
        headers: admin,
        body: JSON.stringify({ name: `Fuzz ${id}`, notificationBaseUrl, jwks: { keys: [key.publicJwk] }, enabled: true }),
      });
      if (res.status >= 300) throw new Error(`PUT /admin/v1/issuers/${id} answered ${res.status}: ${await res.text()}`);
    }
    const siteKeys = { main: `sk_fuzz_${randomBytes(18).toString('base64url')}`, other: `sk_fuzz_${randomBytes(18).toString('base64url')}` };
    for (const [id, apiKey] of [[FUZZ_SITE, siteKeys.main], [OTHER_SITE, siteKeys.other]] as const) {
      const res = await fetch(`${baseUrl}/admin/v1/production-sites/${id}`, { method: 'PUT', headers: admin, body: JSON.stringify({ name: `Fuzz ${id}`, apiKey, carriers: ['fedex'] }) });
      if (res.status >= 300) throw new Error(`PUT /admin/v1/production-sites/${id} answered ${res.status}: ${await res.text()}`);
    }
    const creds = new Credentials(baseUrl, adminToken, `${baseUrl}/authz/v1/oauth2/token`, keys, siteKeys);
    await creds.accessToken(FUZZ_ISSUER);
    await creds.accessToken(OTHER_ISSUER);
    await creds.spendReplayedJti();
    return creds;
  }

  private async spendReplayedJti(): Promise<void> {
    this.replayedJti = `fuzz-replayed-${randomUUID()}`;
    this.replayedJtiSpentAt = Date.now();
    const res = await fetch(this.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion(FUZZ_ISSUER, this.keys.main, { aud: this.tokenUrl, jti: this.replayedJti }) }).toString(),
    });
    if (res.status !== 200) throw new Error(`the token endpoint refused the fuzzer's own assertion: ${res.status} ${await res.text()}`);
  }

  /** The main issuer's registered public key: fuzzed issuer PUTs reuse it as a valid-looking JWKS. */
  get publicJwk(): Record<string, unknown> {
    return this.keys.main.publicJwk;
  }

  /** The hub's access token for an issuer, fetched again well before its 15 minutes run out. */
  async accessToken(issuerId: string): Promise<string> {
    const held = this.tokens.get(issuerId);
    if (held && held.renewAt > Date.now()) return held.token;
    const key = issuerId === FUZZ_ISSUER ? this.keys.main : this.keys.other;
    const res = await fetch(this.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion(issuerId, key, { aud: this.tokenUrl }) }).toString(),
    });
    if (res.status !== 200) throw new Error(`the token endpoint refused the fuzzer's own assertion for ${issuerId}: ${res.status} ${await res.text()}`);
    const token = ((await res.json()) as { access_token: string }).access_token;
    this.tokens.set(issuerId, { token, renewAt: Date.now() + 5 * 60_000 });
    return token;
  }

  /** Every secret the fuzzer holds: none may ever come back in a response body. */
  async secrets(): Promise<string[]> {
    return [this.adminToken, this.siteKeys.main, this.siteKeys.other, await this.accessToken(FUZZ_ISSUER), await this.accessToken(OTHER_ISSUER)];
  }

  async bearer(kind: BearerKind): Promise<string | undefined> {
    const token = await this.accessToken(FUZZ_ISSUER);
    const now = Math.floor(Date.now() / 1000);
    const forged = (exp: number) =>
      new SignJWT({ scope: 'tracking:write tracking:read' })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setSubject(FUZZ_ISSUER)
        .setAudience('trackhub:issuer-api')
        .setIssuedAt(now - 1000)
        .setExpirationTime(exp)
        .sign(this.forgedKey);
    const [h, p, s] = token.split('.');
    switch (kind) {
      case 'valid':
        return `Bearer ${token}`;
      case 'valid-other-issuer':
        return `Bearer ${await this.accessToken(OTHER_ISSUER)}`;
      case 'none':
        return undefined;
      case 'empty':
        return '';
      case 'scheme-only':
        return 'Bearer ';
      case 'lowercase-scheme':
        return `bearer ${token}`;
      case 'basic':
        return `Basic ${Buffer.from(`${FUZZ_ISSUER}:x`).toString('base64')}`;
      case 'garbage':
        return 'Bearer abc.def.ghi';
      case 'forged-hs256':
        return `Bearer ${await forged(now + 600)}`;
      case 'expired-forged':
        return `Bearer ${await forged(now - 60)}`;
      case 'alg-none':
        return `Bearer ${b64url({ alg: 'none', typ: 'at+jwt' })}.${p}.`;
      case 'tampered-signature':
        return `Bearer ${h}.${p}.${s.startsWith('A') ? `B${s.slice(1)}` : `A${s.slice(1)}`}`;
      case 'tampered-payload': {
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        return `Bearer ${h}.${b64url({ ...claims, sub: OTHER_ISSUER, exp: claims.exp + 3600 })}.${s}`;
      }
      case 'huge':
        return `Bearer ${'A'.repeat(7000)}`;
      case 'admin-token-as-bearer':
        return `Bearer ${this.adminToken}`;
    }
  }

  admin(kind: AdminKind, accessToken: string): string | undefined {
    const t = this.adminToken;
    switch (kind) {
      case 'valid':
        return `Bearer ${t}`;
      case 'none':
        return undefined;
      case 'wrong-same-length':
        return `Bearer ${t.slice(0, -1)}${t.endsWith('x') ? 'y' : 'x'}`;
      case 'wrong-length':
        return `Bearer ${t}x`;
      case 'lowercase-scheme':
        return `bearer ${t}`;
      case 'access-token':
        return `Bearer ${accessToken}`;
      case 'huge':
        return `Bearer ${'x'.repeat(7000)}`;
      case 'prefix':
        return `Bearer ${t.slice(0, 8)}`;
    }
  }

  siteKey(kind: SiteKeyKind): string | undefined {
    switch (kind) {
      case 'valid':
        return this.siteKeys.main;
      case 'other-site':
        return this.siteKeys.other;
      case 'none':
        return undefined;
      case 'empty':
        return '';
      case 'random':
        return `sk_${randomBytes(18).toString('base64url')}`;
      case 'huge':
        return 'k'.repeat(5000);
      case 'admin-token':
        return this.adminToken;
      case 'prefix':
        return this.siteKeys.main.slice(0, -1);
    }
  }

  /** A JWT-bearer assertion of the kind asked for, signed now (so `valid` always has a fresh jti and exp). */
  async assertion(kind: AssertionKind): Promise<string> {
    const { main, other, stranger } = this.keys;
    const aud = this.tokenUrl;
    const now = Math.floor(Date.now() / 1000);
    const custom = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'ES256', kid: main.kid }, key = main.privateKey) => {
      const jwt = new SignJWT(claims).setProtectedHeader(header as { alg: string });
      return jwt.sign(key);
    };
    const base = { iss: FUZZ_ISSUER, sub: FUZZ_ISSUER, aud, iat: now, exp: now + 300, jti: randomUUID() };
    switch (kind) {
      case 'valid':
        return assertion(FUZZ_ISSUER, main, { aud });
      case 'valid-other-issuer':
        return assertion(OTHER_ISSUER, other, { aud });
      case 'expired':
        return custom({ ...base, iat: now - 3600, exp: now - 600 });
      case 'exp-too-far':
        return custom({ ...base, exp: now + 3600 });
      case 'no-exp': {
        const { exp: _exp, ...rest } = base;
        return custom(rest);
      }
      case 'no-jti': {
        const { jti: _jti, ...rest } = base;
        return custom(rest);
      }
      case 'replayed-jti':
        // A jti spent on a token while its assertion has not expired: every use here is a replay. Once that
        // exp has passed the hub may forget the jti (the contract refuses replays within exp), so a new one
        // is spent every two minutes.
        // One spend at a time: a lane must not send the new jti before it is spent.
        if (Date.now() - this.replayedJtiSpentAt > 120_000) this.spending ??= this.spendReplayedJti().finally(() => (this.spending = undefined));
        await this.spending;
        return custom({ ...base, jti: this.replayedJti });
      case 'jti-too-long':
        return custom({ ...base, jti: 'j'.repeat(300) });
      case 'wrong-aud':
        return custom({ ...base, aud: 'https://elsewhere.invalid/token' });
      case 'no-aud': {
        const { aud: _aud, ...rest } = base;
        return custom(rest);
      }
      case 'iat-future':
        return custom({ ...base, iat: now + 600 });
      case 'iss-not-sub':
        return custom({ ...base, sub: OTHER_ISSUER });
      case 'unknown-issuer':
        return custom({ ...base, iss: 'NOSUCHISS1', sub: 'NOSUCHISS1' });
      case 'unknown-kid':
        return custom(base, { alg: 'ES256', kid: 'no-such-kid' });
      case 'signed-by-other-key':
        // Same kid as the registered key, a different private key: a forgery.
        return custom(base, { alg: 'ES256', kid: main.kid }, stranger.privateKey);
      case 'alg-none':
        return `${b64url({ alg: 'none', kid: main.kid })}.${b64url(base)}.`;
      case 'alg-hs256': {
        // The classic confusion: HMAC keyed with the issuer's public key.
        const secret = new TextEncoder().encode(JSON.stringify(main.publicJwk));
        return new SignJWT(base).setProtectedHeader({ alg: 'HS256', kid: main.kid }).sign(secret);
      }
      case 'tampered': {
        const [h, , s] = (await custom(base)).split('.');
        return `${h}.${b64url({ ...base, exp: now + 600 })}.${s}`;
      }
      case 'garbage':
        return 'not.a.jwt';
      case 'empty':
        return '';
    }
  }
}

/**
 * The issuer or site a credential proves, or undefined when it proves nothing and must never be answered
 * 2xx. A lowercase `bearer` scheme proves its token: RFC 7235 makes the scheme case-insensitive, so the
 * hub may accept it or not.
 */
export const provenBy = {
  bearer: (k: BearerKind): string | undefined => (k === 'valid' || k === 'lowercase-scheme' ? FUZZ_ISSUER : k === 'valid-other-issuer' ? OTHER_ISSUER : undefined),
  admin: (k: AdminKind): boolean => k === 'valid' || k === 'lowercase-scheme',
  siteKey: (k: SiteKeyKind): string | undefined => (k === 'valid' ? FUZZ_SITE : k === 'other-site' ? OTHER_SITE : undefined),
  assertion: (k: AssertionKind): boolean => k === 'valid' || k === 'valid-other-issuer',
};
