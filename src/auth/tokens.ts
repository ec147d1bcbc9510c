import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, type JWK, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { ISSUER_ID } from '../domain/track-request.ts';
import type { Db } from '../store/db.ts';
import { createHubSecretOnce, hubSecret } from '../store/hub-secrets.ts';
import { openStoredSecret, secretBoxOf, secretContext } from '../store/secret-box.ts';
import { forgetExpiredAssertions, recordAssertionUse } from '../store/used-assertions.ts';

export const ACCESS_TOKEN_TTL_S = 900;
const MAX_ASSERTION_LIFETIME_S = 15 * 60;
/** Clock skew we forgive between an issuer's clock and ours. */
const SKEW_S = 30;
/** How far ahead of our clock an assertion's `iat` may be (docs/contract.md §2.1). */
const MAX_IAT_AHEAD_S = 60;
/** A jti is 1 to 256 characters (docs/contract.md §2.1); longer ones never reach the store. */
const MAX_JTI_CHARS = 256;
const ACCESS_AUDIENCE = 'trackhub:issuer-api';
const SCOPE = 'tracking:write tracking:read';
/** Access-token claim: the fingerprint of the issuer's keys the assertion was verified with. */
const ISSUER_KEYS_CLAIM = 'issuer_keys';

/**
 * A refused assertion. `message` is the reason for the hub's log; `description` is the client's
 * `error_description`: it names the rule that failed, and never whether the issuer exists (an unknown
 * issuer, an unknown kid and a signature that does not verify read alike, and whatever is only known of
 * a registered issuer, such as its being disabled, is told only to a caller whose signature verified).
 */
export class InvalidGrant extends Error {
  constructor(
    message: string,
    readonly description: string,
  ) {
    super(message);
  }
}

/** What the client reads for an unknown issuer, an unknown kid and a signature that does not verify alike. */
/** A P-256 public key no one holds the private half of (it is dropped): checked against when there is no real key. */
let decoy: Promise<JWK> | undefined;
function decoyKey(): Promise<JWK> {
  decoy ??= generateKeyPair('ES256', { extractable: true }).then(({ publicKey }) => exportJWK(publicKey));
  return decoy;
}

export const NOT_VERIFIED = 'the signature does not verify with a key registered for this iss and kid';

/**
 * The key that signs access tokens lives in the store, so tokens stay valid across restarts and on every
 * instance sharing it. The first instance to boot creates it; the others read the winner's. It is stored
 * sealed under the master key (src/store/secret-box.ts), bound to its row.
 */
export async function loadAccessTokenKey(db: Db): Promise<Uint8Array> {
  const context = secretContext('hub_secrets', 'access_token_hs256', 'value');
  await createHubSecretOnce(db, 'access_token_hs256', secretBoxOf(db).seal(randomBytes(32).toString('base64'), context));
  const value = await hubSecret(db, 'access_token_hs256');
  return new Uint8Array(Buffer.from(openStoredSecret(db, value, context), 'base64'));
}

export interface IssuerKeys {
  issuerId: string;
  enabled: boolean;
  jwks: { keys: Record<string, unknown>[] };
  /** Moves on when the issuer is disabled or re-keyed (src/store/issuers.ts). */
  tokenEpoch: number;
}

/** What an access token proves: its issuer, and which of that issuer's key sets it was granted under. */
export interface AccessGrant {
  issuerId: string;
  /** `tokenBinding` of the issuer when the token was granted: its keys' fingerprint and token epoch. */
  issuerKeys: string;
}

/** Fingerprints by JWKS object: the issuer directory hands out the same record until it reloads it. */
const fingerprints = new WeakMap<object, Promise<string>>();

/**
 * A short fingerprint of an issuer's public keys: a changed key set changes it, so an access token
 * granted under the old keys can be told apart (and refused) once the keys are rotated. Built from the
 * RFC 7638 thumbprints, sorted, so the JSON member order the store returns and the `kid`, `use` or
 * `alg` labels do not matter; only the keys do.
 */
export function issuerKeysFingerprint(jwks: IssuerKeys['jwks']): Promise<string> {
  let fingerprint = fingerprints.get(jwks);
  if (!fingerprint) {
    fingerprint = Promise.all(
      jwks.keys.map((jwk) =>
        calculateJwkThumbprint(jwk as never).catch(() => createHash('sha256').update(JSON.stringify(jwk)).digest('base64url')),
      ),
    ).then((thumbprints) => createHash('sha256').update(thumbprints.sort().join('.')).digest('base64url').slice(0, 16));
    fingerprints.set(jwks, fingerprint);
  }
  return fingerprint;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const UNSTORABLE_TEXT = /[\u0000-\u001F\u007F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A jti's length in characters (code points), without spreading a huge string. */
function jtiLength(jti: string): number {
  return jti.length > MAX_JTI_CHARS * 2 ? jti.length : [...jti].length;
}

/**
 * Checks a JWT-bearer assertion (RFC 7523) and returns the issuer it proves, with the fingerprint of the
 * keys that proved it. Every failure is an InvalidGrant with a reason for the logs and a description for
 * the client (`invalid_grant` with `error_description`). Everything that needs no I/O is checked before the issuer is looked up.
 */
export async function verifyAssertion(
  db: Db,
  assertion: string,
  opts: { audiences: string[]; loadIssuer: (issuerId: string) => Promise<IssuerKeys | undefined>; now?: number },
): Promise<AccessGrant> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    throw new InvalidGrant('assertion is not a JWT', 'the assertion is not a JWT (header.claims.signature, base64url)');
  }
  // The caller's alg is not echoed (it would reach the log as given): only whether it was the one expected.
  if (header.alg !== 'ES256') throw new InvalidGrant('alg is not ES256', 'the header alg must be ES256');
  if (typeof header.kid !== 'string') throw new InvalidGrant('kid missing', 'the header must name the signing key in kid');
  const issuerId = claims.iss;
  if (typeof issuerId !== 'string' || claims.sub !== issuerId) throw new InvalidGrant('iss and sub must both be the issuerId', 'iss and sub must both be the issuerId');
  // An id that cannot be an issuer's is never looked up, so it can neither cost a query nor fill a cache.
  if (!ISSUER_ID.test(issuerId)) throw new InvalidGrant('iss is not an issuer id', 'iss must be an issuerId: 10 of [A-Za-z0-9_-]');
  const jti = claims.jti;
  if (typeof jti !== 'string' || jti === '' || jtiLength(jti) > MAX_JTI_CHARS) throw new InvalidGrant('jti missing, not a string, or over 256 characters', 'jti is required: a string of 1 to 256 characters, new for every assertion');
  // The store keeps it as text: a NUL or a lone surrogate would be refused there, after the issuer's
  // budget was spent, and answered as a malformed request rather than a bad assertion.
  if (UNSTORABLE_TEXT.test(jti)) throw new InvalidGrant('jti holds a control character or a lone surrogate', 'jti must not hold control characters or lone surrogates');
  const nowS = Math.floor((opts.now ?? Date.now()) / 1000);
  if (typeof claims.iat === 'number' && claims.iat > nowS + MAX_IAT_AHEAD_S) throw new InvalidGrant('iat more than 60 s ahead', "iat is more than 60 s ahead of the hub's clock");
  const issuer = await opts.loadIssuer(issuerId);
  const jwk = issuer?.jwks.keys.find((k) => k.kid === header.kid);
  if (!issuer || !jwk) {
    // The same work as a known issuer's key that does not verify (a key import and an ECDSA check), so the
    // answer's time does not tell whether the issuer or its kid exist.
    await jwtVerify(assertion, await importJWK(await decoyKey(), 'ES256'), { algorithms: ['ES256'] }).catch(() => undefined);
    throw new InvalidGrant(issuer ? 'unknown kid' : 'unknown issuer', NOT_VERIFIED);
  }
  try {
    const key = await importJWK(jwk as never, 'ES256');
    await jwtVerify(assertion, key, {
      algorithms: ['ES256'],
      requiredClaims: ['exp', 'aud', 'jti'],
      audience: opts.audiences,
      clockTolerance: SKEW_S,
      currentDate: new Date(nowS * 1000),
    });
  } catch (err) {
    // The log says which check failed (never the assertion). jose checks the claims only once the
    // signature verified, so naming a failed claim to the caller tells nothing about the issuer.
    if (err instanceof joseErrors.JWTExpired) throw new InvalidGrant('assertion rejected: exp is past', 'exp is past (30 s of clock skew are forgiven)');
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      const expected = err.claim === 'aud' ? ` (this hub takes ${opts.audiences.join(' or ')})` : '';
      const described = err.claim === 'aud' ? `aud must be ${opts.audiences.join(' or ')}` : `the ${err.claim} claim ${err.reason === 'missing' ? 'is required' : 'failed its check'}`;
      throw new InvalidGrant(`assertion rejected: the ${err.claim} claim failed its check (${err.reason})${expected}`, described);
    }
    // Any other failure (the signature, its encoding, a stored key that does not import) reads as an
    // unknown issuer does.
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new InvalidGrant('assertion rejected: the signature does not verify with the key its kid names', NOT_VERIFIED);
    if (err instanceof joseErrors.JOSEError) throw new InvalidGrant(`assertion rejected: ${err.code}`, NOT_VERIFIED);
    throw new InvalidGrant('assertion rejected', NOT_VERIFIED);
  }
  // Told only now, to a caller whose signature verified with the issuer's key: who else may learn it exists.
  if (!issuer.enabled) throw new InvalidGrant('issuer disabled', 'the issuer is disabled');
  const exp = claims.exp as number;
  if (exp > nowS + MAX_ASSERTION_LIFETIME_S + SKEW_S) throw new InvalidGrant('exp more than 15 minutes ahead', 'exp is more than 15 minutes ahead: an assertion lives at most 15 minutes');
  // The primary key refuses a second use of the same jti while the row lives (until exp).
  if (!(await recordAssertionUse(db, issuerId, jti, new Date((exp + SKEW_S) * 1000)))) throw new InvalidGrant('jti replayed', 'jti was used before: every assertion needs a new jti');
  // Forget expired ids now and then; a replay of an expired assertion fails on exp anyway.
  if (Math.random() < 0.01) await forgetExpiredAssertions(db);
  return { issuerId, issuerKeys: await tokenBinding(issuer) };
}

/**
 * What an access token is bound to: the fingerprint of the issuer's keys and its token epoch. A token
 * whose binding differs from the issuer's current one is refused (the Issuer API checks): replacing the
 * keys revokes tokens, and so does disabling the issuer, for good (the epoch never goes back, so neither
 * re-enabling it nor putting back an earlier key set revives them).
 */
export async function tokenBinding(issuer: Pick<IssuerKeys, 'jwks' | 'tokenEpoch'>): Promise<string> {
  return `${await issuerKeysFingerprint(issuer.jwks)}.${issuer.tokenEpoch}`;
}

export async function issueAccessToken(key: Uint8Array, grant: AccessGrant, now = Date.now()) {
  const iat = Math.floor(now / 1000);
  const token = await new SignJWT({ scope: SCOPE, [ISSUER_KEYS_CLAIM]: grant.issuerKeys })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setSubject(grant.issuerId)
    .setAudience(ACCESS_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_S)
    // Each token its own: two issued to one issuer in the same second would otherwise be the same string.
    .setJti(randomBytes(16).toString('base64url'))
    .sign(key);
  return { access_token: token, token_type: 'Bearer' as const, expires_in: ACCESS_TOKEN_TTL_S, scope: SCOPE };
}

/**
 * Verifies hub access tokens. A token is verified once and then remembered until it expires, so the
 * hot path of a busy issuer costs a map lookup. Whether the issuer's keys changed since the token was
 * granted is the caller's check (the Issuer API compares `issuerKeys` with the current issuer record).
 */
export class AccessTokenVerifier {
  private readonly cache = new Map<string, AccessGrant & { exp: number }>();

  constructor(private readonly key: Uint8Array) {}

  /** The grant the token carries, or undefined for a missing, forged or expired token. */
  async verify(token: string, now = Date.now()): Promise<AccessGrant | undefined> {
    const hit = this.cache.get(token);
    if (hit) {
      if (hit.exp * 1000 > now) return { issuerId: hit.issuerId, issuerKeys: hit.issuerKeys };
      this.cache.delete(token);
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        audience: ACCESS_AUDIENCE,
        requiredClaims: ['exp', 'sub', ISSUER_KEYS_CLAIM],
        currentDate: new Date(now),
      });
      const issuerKeys = payload[ISSUER_KEYS_CLAIM];
      if (typeof issuerKeys !== 'string') return undefined;
      const grant = { issuerId: payload.sub as string, issuerKeys };
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(token, { ...grant, exp: payload.exp as number });
      return grant;
    } catch {
      return undefined;
    }
  }
}
