import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

/** A new Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function secretBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/**
 * A new ed25519 key pair in the Standard Webhooks asymmetric form: the secret key `whsk_` + base64 of the
 * raw 32-byte private key (the hub keeps it, sealed), the public key `whpk_` + base64 of the raw 32-byte
 * public key (the issuer verifies `v1a` signatures with it).
 */
export function newSigningKeyPair(): { secretKey: string; publicKey: string } {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const raw = (b64url: string | undefined) => Buffer.from(b64url as string, 'base64url').toString('base64');
  return { secretKey: `whsk_${raw(jwk.d)}`, publicKey: `whpk_${raw(jwk.x)}` };
}

/** PKCS#8 for an ed25519 key is this fixed prefix followed by the 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The private key of a `whsk_` secret key, ready to sign; throws on anything else. */
export function signingKeyOf(secretKey: string): KeyObject {
  const seed = Buffer.from(secretKey.slice(5), 'base64');
  if (!secretKey.startsWith('whsk_') || seed.length !== 32) throw new Error('not a whsk_ ed25519 secret key');
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** The `whpk_` public key of a `whsk_` secret key (shown to the operator and the issuer: not a secret). */
export function publicKeyOf(secretKey: string): string {
  const jwk = createPublicKey(signingKeyOf(secretKey)).export({ format: 'jwk' });
  return `whpk_${Buffer.from(jwk.x as string, 'base64url').toString('base64')}`;
}

/** How an issuer's notifications are signed: its webhook secrets (v1) and, when it has one, its ed25519 key (v1a). */
export interface Signer {
  secrets: string[];
  /** The ed25519 private key (signingKeyOf), or none. */
  signingKey?: KeyObject | null;
}

/**
 * The `webhook-signature` header over `${id}.${timestamp}.${body}`: one `v1,<base64 HMAC-SHA256>` per
 * secret, and `v1a,<base64 ed25519 signature>` when the issuer has a signing key, space-separated. Several
 * signatures are sent while a secret is rotated or while the issuer switches between HMAC and ed25519: a
 * receiver accepts the request when any one it can check verifies.
 */
export function signatureHeader(signer: Signer | string[], id: string, timestamp: number, body: string): string {
  const { secrets, signingKey } = Array.isArray(signer) ? { secrets: signer, signingKey: null } : signer;
  const content = `${id}.${timestamp}.${body}`;
  const parts = secrets.map((s) => `v1,${createHmac('sha256', secretBytes(s)).update(content).digest('base64')}`);
  if (signingKey) parts.push(`v1a,${sign(null, Buffer.from(content), signingKey).toString('base64')}`);
  return parts.join(' ');
}
