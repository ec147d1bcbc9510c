import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface TestIssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: Record<string, unknown>;
}

export async function issuerKey(kid = 'key-1'): Promise<TestIssuerKey> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey: privateKey as CryptoKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** The token URL of a hub at `baseUrl`: the `aud` its assertions must carry. */
export const tokenUrl = (baseUrl: string) => `${baseUrl}/authz/v1/oauth2/token`;

/** The `aud` of an app built by `testApp` (default configuration: public URL http://127.0.0.1:8080). */
export const TEST_APP_TOKEN_URL = tokenUrl('http://127.0.0.1:8080');

/**
 * A JWT-bearer assertion as an issuer back-end would sign it: `aud` the hub's token URL (a hub running
 * elsewhere than `testApp`'s default needs its own, `tokenUrl(hubUrl)`), a fresh `jti`; `null` leaves
 * a claim out.
 */
export async function assertion(
  issuerId: string,
  key: TestIssuerKey,
  opts: { expSeconds?: number; jti?: string | null; aud?: string | null; sub?: string; kid?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? key.kid })
    .setIssuer(issuerId)
    .setSubject(opts.sub ?? issuerId)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expSeconds ?? 300));
  if (opts.jti !== null) jwt.setJti(opts.jti ?? randomUUID());
  if (opts.aud !== null) jwt.setAudience(opts.aud ?? TEST_APP_TOKEN_URL);
  return jwt.sign(key.privateKey);
}

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
