import { randomUUID } from 'node:crypto';
import { importJWK, importPKCS8, type JWK, SignJWT } from 'jose';
import { TrackhubTokenError } from './errors.ts';
import { ACCESS_TOKEN, baseUrl, checkIssuerId, checkRetryOptions, type FetchLike, MAX_ERROR_BODY, type RetryOptions, readText, retryAfterSeconds, type Sleep, sendWithRetry } from './http.ts';
import { checkNumber, describe, optionalNumber } from './options.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface TokenProviderOptions extends RetryOptions {
  hubUrl: string;
  issuerId: string;
  /** The `kid` of the key registered with the hub (the issuer's JWKS). */
  keyId: string;
  /** The issuer's P-256 private key: a JWK object, PKCS#8 PEM text, or a CryptoKey. */
  privateKey: JWK | string | CryptoKey;
  /** The assertion's `aud`: the hub's public token URL; default `${hubUrl}/authz/v1/oauth2/token`. */
  audience?: string;
  /** How long before its expiry a token is replaced, in seconds (default 60). */
  refreshMarginSeconds?: number;
  /** The assertion's lifetime in seconds (default 120, at most 300). */
  assertionLifetimeSeconds?: number;
  fetch?: FetchLike;
  /** Milliseconds since the epoch; a seam for tests. */
  now?: () => number;
  sleep?: Sleep;
}

interface Cached {
  token: string;
  /** When to stop handing it out (its expiry less the margin), ms since the epoch. */
  refreshAt: number;
}

/**
 * Access tokens for one issuer: signs a fresh ES256 JWT-bearer assertion (iss = sub = issuer id, `kid`,
 * `aud`, a new `jti` each time, `exp` at most 5 minutes ahead), exchanges it at the token endpoint, and
 * hands the access token out until shortly before it expires. Callers asking at the same time share one
 * exchange, so a burst of requests costs one token.
 */
export class TokenProvider {
  readonly hubUrl: string;
  readonly issuerId: string;
  readonly tokenUrl: string;
  readonly #opts: TokenProviderOptions;
  readonly #audience: string;
  readonly #fetch: FetchLike;
  readonly #now: () => number;
  #key: Promise<CryptoKey | Uint8Array> | undefined;
  #cached: Cached | undefined;
  #pending: Promise<string> | undefined;

  constructor(opts: TokenProviderOptions) {
    if (!opts || typeof opts !== 'object') throw new TypeError('TokenProvider needs its options: { hubUrl, issuerId, keyId, privateKey }');
    this.hubUrl = baseUrl(opts.hubUrl);
    this.issuerId = checkIssuerId(opts.issuerId);
    if (typeof opts.keyId !== 'string' || opts.keyId === '') throw new TypeError('keyId is required (the kid of the registered key)');
    if (opts.privateKey === undefined || opts.privateKey === null) throw new TypeError('privateKey is required');
    if (typeof opts.privateKey !== 'string' && typeof opts.privateKey !== 'object') throw new TypeError(`privateKey must be a JWK object, PKCS#8 PEM text or a CryptoKey (got ${describe(opts.privateKey)})`);
    if (opts.audience !== undefined && (typeof opts.audience !== 'string' || opts.audience === '')) throw new TypeError('audience must be a non-empty string (the hub\'s public token URL)');
    checkNumber(opts.assertionLifetimeSeconds ?? 120, 'assertionLifetimeSeconds', { min: 1, max: 300 });
    optionalNumber(opts.refreshMarginSeconds, 60, 'refreshMarginSeconds', { min: 0 });
    checkRetryOptions(opts);
    this.#opts = opts;
    this.tokenUrl = `${this.hubUrl}/authz/v1/oauth2/token`;
    this.#audience = opts.audience ?? this.tokenUrl;
    this.#fetch = opts.fetch ?? ((input, init) => fetch(input, init));
    this.#now = opts.now ?? Date.now;
  }

  /** An access token valid for at least the refresh margin; exchanges a new assertion when needed. */
  async getToken(): Promise<string> {
    if (this.#cached && this.#now() < this.#cached.refreshAt) return this.#cached.token;
    // One exchange at a time: every caller waiting meanwhile gets its result (or its error).
    this.#pending ??= this.#exchange().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /**
   * Forgets `token` (the hub refused it: 401), so the next getToken() exchanges a new assertion. A token
   * other than the cached one is ignored: another caller has already replaced it.
   */
  invalidate(token?: string): void {
    if (token === undefined || this.#cached?.token === token) this.#cached = undefined;
  }

  /** A signed assertion, as sent to the token endpoint (exposed for tools that exchange it themselves). */
  async assertion(): Promise<string> {
    const key = await this.#signingKey();
    const now = Math.floor(this.#now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: this.#opts.keyId, typ: 'JWT' })
      .setIssuer(this.issuerId)
      .setSubject(this.issuerId)
      .setAudience(this.#audience)
      .setIssuedAt(now)
      .setExpirationTime(now + (this.#opts.assertionLifetimeSeconds ?? 120))
      .setJti(randomUUID())
      .sign(key);
  }

  #signingKey(): Promise<CryptoKey | Uint8Array> {
    const k = this.#opts.privateKey;
    this.#key ??= (async () => {
      if (typeof k === 'string') return importPKCS8(k, 'ES256');
      if (typeof (k as CryptoKey).algorithm === 'object' && typeof (k as CryptoKey).type === 'string') return k as CryptoKey;
      return importJWK(k as JWK, 'ES256');
    })().catch((err) => {
      this.#key = undefined;
      // jose's message says what is wrong with the key's shape; the key itself is never in it.
      throw new TypeError(`privateKey is not a P-256 private key (JWK or PKCS#8 PEM): ${(err as Error).message}`);
    });
    return this.#key;
  }

  async #exchange(): Promise<string> {
    const res = await sendWithRetry(
      // A new assertion per attempt: a jti is single use, and the hub may have seen the first one.
      async () => ({
        url: this.tokenUrl,
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await this.assertion() }).toString(),
        },
      }),
      this.#fetch,
      this.#opts,
    );
    // A token answer is small: read at most 64 KiB of it, under the request's timeout.
    const { text } = await readText(res, MAX_ERROR_BODY, this.tokenUrl);
    let body: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) body = parsed;
    } catch {
      // handled below as an unexpected answer; JSON.parse's message, which quotes the text, is not kept
    }
    // A token is sent back in a header: visible ASCII only (RFC 6750), or fetch would refuse it later quoting it.
    if (res.ok && typeof body.access_token === 'string' && ACCESS_TOKEN.test(body.access_token)) {
      const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 300;
      const margin = Math.min(this.#opts.refreshMarginSeconds ?? 60, expiresIn / 2);
      this.#cached = { token: body.access_token, refreshAt: this.#now() + (expiresIn - margin) * 1000 };
      return body.access_token;
    }
    throw new TrackhubTokenError({
      status: res.status,
      errorCode: typeof body.error === 'string' ? body.error : 'UNEXPECTED_RESPONSE',
      errorMessage: typeof body.error_description === 'string' ? body.error_description : `the token endpoint answered ${res.status}${res.ok ? ' without an access token' : ''}`,
      correlationId: res.headers.get('x-correlation-id') ?? undefined,
      retryAfterSeconds: retryAfterSeconds(res.headers.get('retry-after')),
    });
  }
}
