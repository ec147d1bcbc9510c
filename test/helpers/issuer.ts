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

/** A JWT-bearer assertion as an issuer back-end would sign it. */
export async function assertion(
  issuerId: string,
  key: TestIssuerKey,
  opts: { expSeconds?: number; jti?: string | null; aud?: string; sub?: string; kid?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? key.kid })
    .setIssuer(issuerId)
    .setSubject(opts.sub ?? issuerId)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expSeconds ?? 300));
  if (opts.jti !== null) jwt.setJti(opts.jti ?? randomUUID());
  if (opts.aud) jwt.setAudience(opts.aud);
  return jwt.sign(key.privateKey);
}

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
