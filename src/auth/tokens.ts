import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importJWK, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { sql } from 'kysely';
import type { Db } from '../store/db.ts';

export const ACCESS_TOKEN_TTL_S = 900;
const MAX_ASSERTION_LIFETIME_S = 15 * 60;
/** Clock skew we forgive between an issuer's clock and ours. */
const SKEW_S = 30;
const ACCESS_AUDIENCE = 'trackhub:issuer-api';
const SCOPE = 'tracking:write tracking:read';

export class InvalidGrant extends Error {}

/**
 * The key that signs access tokens lives in the store, so tokens stay valid across restarts and on every
 * instance sharing it. The first instance to boot creates it; the others read the winner's.
 */
export async function loadAccessTokenKey(db: Db): Promise<Uint8Array> {
  await db
    .insertInto('hub_secrets')
    .values({ name: 'access_token_hs256', value: randomBytes(32).toString('base64') })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('hub_secrets').select('value').where('name', '=', 'access_token_hs256').executeTakeFirstOrThrow();
  return new Uint8Array(Buffer.from(row.value, 'base64'));
}

export interface IssuerKeys {
  issuerId: string;
  enabled: boolean;
  jwks: { keys: Record<string, unknown>[] };
}

/**
 * Checks a JWT-bearer assertion (RFC 7523) and returns the issuerId it proves. Every failure is an
 * InvalidGrant with a reason for the logs; the client only ever sees `invalid_grant`.
 */
export async function verifyAssertion(
  db: Db,
  assertion: string,
  opts: { audiences: string[]; loadIssuer: (issuerId: string) => Promise<IssuerKeys | undefined>; now?: number },
): Promise<string> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    throw new InvalidGrant('assertion is not a JWT');
  }
  if (header.alg !== 'ES256') throw new InvalidGrant(`alg ${String(header.alg)} is not ES256`);
  if (typeof header.kid !== 'string') throw new InvalidGrant('kid missing');
  const issuerId = claims.iss;
  if (typeof issuerId !== 'string' || claims.sub !== issuerId) throw new InvalidGrant('iss and sub must both be the issuerId');
  const issuer = await opts.loadIssuer(issuerId);
  if (!issuer) throw new InvalidGrant('unknown issuer');
  if (!issuer.enabled) throw new InvalidGrant('issuer disabled');
  const jwk = issuer.jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new InvalidGrant('unknown kid');
  const nowS = Math.floor((opts.now ?? Date.now()) / 1000);
  try {
    const key = await importJWK(jwk as never, 'ES256');
    await jwtVerify(assertion, key, {
      algorithms: ['ES256'],
      requiredClaims: ['exp'],
      clockTolerance: SKEW_S,
      currentDate: new Date(nowS * 1000),
      ...(claims.aud !== undefined ? { audience: opts.audiences } : {}),
    });
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) throw new InvalidGrant(`assertion rejected: ${err.code}`);
    throw new InvalidGrant('assertion rejected');
  }
  const exp = claims.exp as number;
  if (exp > nowS + MAX_ASSERTION_LIFETIME_S + SKEW_S) throw new InvalidGrant('exp more than 15 minutes ahead');
  if (typeof claims.jti === 'string') {
    // The primary key refuses a second use of the same jti while the row lives (until exp).
    const inserted = await db
      .insertInto('used_assertions')
      .values({ issuer_id: issuerId, jti: claims.jti, expires_at: new Date((exp + SKEW_S) * 1000) })
      .onConflict((oc) => oc.columns(['issuer_id', 'jti']).doNothing())
      .returning('jti')
      .executeTakeFirst();
    if (!inserted) throw new InvalidGrant('jti replayed');
    // Forget expired ids now and then; a replay of an expired assertion fails on exp anyway.
    if (Math.random() < 0.01) await sql`delete from used_assertions where expires_at < now()`.execute(db);
  }
  return issuerId;
}

export async function issueAccessToken(key: Uint8Array, issuerId: string, now = Date.now()) {
  const iat = Math.floor(now / 1000);
  const token = await new SignJWT({ scope: SCOPE })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setSubject(issuerId)
    .setAudience(ACCESS_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_S)
    .sign(key);
  return { access_token: token, token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_S, scope: SCOPE };
}

/**
 * Verifies hub access tokens. A token is verified once and then remembered until it expires, so the
 * hot path of a busy issuer costs a map lookup.
 */
export class AccessTokenVerifier {
  private readonly cache = new Map<string, { issuerId: string; exp: number }>();

  constructor(private readonly key: Uint8Array) {}

  /** The issuerId the token is bound to, or undefined for a missing, forged or expired token. */
  async verify(token: string, now = Date.now()): Promise<string | undefined> {
    const hit = this.cache.get(token);
    if (hit) {
      if (hit.exp * 1000 > now) return hit.issuerId;
      this.cache.delete(token);
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        audience: ACCESS_AUDIENCE,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(now),
      });
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(token, { issuerId: payload.sub as string, exp: payload.exp as number });
      return payload.sub as string;
    } catch {
      return undefined;
    }
  }
}
