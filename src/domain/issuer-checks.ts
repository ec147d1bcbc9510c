import { createPublicKey } from 'node:crypto';
import { hasUnprintable } from './text.ts';

/** Checks of an issuer's registration that need no I/O: the Admin API and `trackhub issuers add` run the same ones. */

/** A JWKS may only hold EC P-256 public keys with a kid: a private key here would be a leak. */
export function checkJwks(jwks: { keys: Record<string, unknown>[] }): string | undefined {
  if (jwks.keys.length === 0) return 'jwks.keys: at least one key is required';
  const kids = new Set<string>();
  for (const [i, k] of jwks.keys.entries()) {
    if (k.kty !== 'EC' || k.crv !== 'P-256') return `jwks.keys[${i}]: must be an EC P-256 key (ES256)`;
    if (typeof k.x !== 'string' || typeof k.y !== 'string') return `jwks.keys[${i}]: x and y are required`;
    if ('d' in k) return `jwks.keys[${i}]: holds private key material (d); send the public key only`;
    if (typeof k.kid !== 'string' || k.kid === '') return `jwks.keys[${i}]: kid is required`;
    if (k.kid.length > 256 || hasUnprintable(k.kid) || k.kid.trim() !== k.kid) return `jwks.keys[${i}]: kid must be 1 to 256 characters, not padded, without control, invisible or bidirectional formatting characters, or line separators`;
    // A key that cannot verify ES256 signatures (its own alg, use, key_ops or ext forbid it, or x and y
    // are no point on P-256) would be stored, and every token exchange then refused with invalid_grant,
    // far from the mistake.
    if (k.alg !== undefined && k.alg !== 'ES256') return `jwks.keys[${i}]: alg must be ES256 (or absent)`;
    if (k.use !== undefined && k.use !== 'sig') return `jwks.keys[${i}]: use must be sig (or absent)`;
    if (k.key_ops !== undefined && !(Array.isArray(k.key_ops) && k.key_ops.length === 1 && k.key_ops[0] === 'verify')) return `jwks.keys[${i}]: key_ops must be ["verify"] (or absent)`;
    if (k.ext !== undefined && typeof k.ext !== 'boolean') return `jwks.keys[${i}]: ext must be true or false (or absent)`;
    try {
      createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' });
    } catch {
      return `jwks.keys[${i}]: x and y are not a point on P-256 (base64url of 32 bytes each)`;
    }
    if (kids.has(k.kid)) return `jwks.keys[${i}]: kid ${k.kid} is repeated`;
    kids.add(k.kid);
  }
  return undefined;
}

export function checkNotificationUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'notificationBaseUrl: is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'notificationBaseUrl: must be http(s)';
  if (hasUnprintable(raw)) return 'notificationBaseUrl: must not hold control, invisible or bidirectional formatting characters, or line separators';
  if (url.username || url.password) return `notificationBaseUrl: must not carry credentials (user:password@); ${AUTHENTICATE_INSTEAD}`;
  if (url.search || url.hash) return `notificationBaseUrl: must not carry a query or fragment; ${AUTHENTICATE_INSTEAD}`;
  return undefined;
}

/** What a notification URL's credentials should be instead. */
export const AUTHENTICATE_INSTEAD =
  'authenticate the hub with notificationAuth (OAuth2 client credentials) or notificationTls (mTLS); every notification is also signed (webhook secret, or the ed25519 key)';


/**
 * Plain http:// would carry the signed notifications and the OAuth client secret in clear: refused for
 * the notification URL and the token URL, unless private targets are allowed (a sandbox, a test bench).
 */
export function checkCleartextUrls(body: { notificationBaseUrl: string; notificationAuth?: { tokenUrl: string } | null }, allowPrivateTargets: boolean): string | undefined {
  if (allowPrivateTargets) return undefined;
  const plain = (raw: string) => {
    try {
      return new URL(raw).protocol === 'http:';
    } catch {
      return false; // not a URL at all: the URL checks name that
    }
  };
  const why = 'must be https (http:// only with TRACKHUB_ALLOW_PRIVATE_TARGETS)';
  if (plain(body.notificationBaseUrl)) return `notificationBaseUrl: ${why}`;
  if (body.notificationAuth && plain(body.notificationAuth.tokenUrl)) return `notificationAuth.tokenUrl: ${why}`;
  return undefined;
}
