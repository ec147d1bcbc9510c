import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify as verifySignature } from 'node:crypto';
import { WebhookVerificationError } from './errors.ts';
import { describe, optionalNumber } from './options.ts';
import type { NotificationBody } from './types.ts';

/** Header values as node:http, Express and Fastify give them, or a fetch `Headers`. */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** The issuer's HMAC secrets (`whsec_…`): during a rotation, the old and the new one. */
  secrets?: readonly string[];
  /** The hub's ed25519 public keys (`whpk_…`), for issuers set to `notificationSigning: "ed25519"`. */
  publicKeys?: readonly string[];
  /** How far `webhook-timestamp` may be from now, either way, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Milliseconds since the epoch; a seam for tests. */
  now?: () => number;
}

/** What verifyNotification checked, beyond the body. */
export interface VerifiedHeaders {
  webhookId: string;
  /** `webhook-timestamp`, as a Date. */
  timestamp: Date;
  correlationId: string | undefined;
}

/** More signature entries than any rotation needs: a header beyond this is refused unread. */
const MAX_SIGNATURES = 16;
/**
 * The most `v1a` entries checked: the hub sends at most two per scheme (during a switch), and each
 * costs an ed25519 verification per public key over the whole body, so forged extra entries are
 * skipped rather than multiplying a receiver's work. (`v1` entries are cheap: the HMAC is computed
 * once per secret, then each entry is only compared.)
 */
export const MAX_V1A_CHECKED = 4;
/** The longest webhook-id kept for de-duplication (the hub's are far shorter). */
export const MAX_WEBHOOK_ID = 256;

export function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  const v = rec[name] ?? Object.entries(rec).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(v) ? v.join(' ') : v;
}

/** Keys parsed once per set of options (a handler verifies many notifications with the same ones). */
export interface VerificationKeys {
  hmac: Buffer[];
  ed25519: KeyObject[];
}

export function parseKeys(opts: Pick<VerifyOptions, 'secrets' | 'publicKeys'>): VerificationKeys {
  if (!opts || typeof opts !== 'object') throw new TypeError('give the verification options: { secrets: [\'whsec_…\'] } or { publicKeys: [\'whpk_…\'] }');
  // A single secret given as a string is a common slip: say so rather than fail on its characters.
  if (opts.secrets !== undefined && !Array.isArray(opts.secrets)) throw new TypeError(`secrets must be an array of whsec_… strings (got ${describe(opts.secrets)}): secrets: [secret]`);
  if (opts.publicKeys !== undefined && !Array.isArray(opts.publicKeys)) throw new TypeError(`publicKeys must be an array of whpk_… strings (got ${describe(opts.publicKeys)}): publicKeys: [key]`);
  const hmac = (opts.secrets ?? []).map((s, i) => {
    // `whsec_` is the Standard Webhooks prefix; the rest is the key, base64.
    const b64 = typeof s === 'string' ? s.replace(/^whsec_/, '') : '';
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0 || key.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) {
      throw new TypeError(`secrets[${i}] is not a webhook secret (whsec_ followed by base64)`);
    }
    return key;
  });
  const ed25519 = (opts.publicKeys ?? []).map((k, i) => {
    const raw = typeof k === 'string' && k.startsWith('whpk_') ? Buffer.from(k.slice(5), 'base64') : Buffer.alloc(0);
    if (raw.length !== 32) throw new TypeError(`publicKeys[${i}] is not an ed25519 public key (whpk_ followed by the base64 of 32 bytes)`);
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  });
  if (hmac.length === 0 && ed25519.length === 0) throw new TypeError('give at least one webhook secret (secrets) or public key (publicKeys)');
  return { hmac, ed25519 };
}

/**
 * Checks a notification's Standard Webhooks headers against `keys`: the timestamp within the tolerance,
 * then any `v1` entry matching an HMAC secret (compared in constant time) or any `v1a` entry verifying
 * with a public key. Throws WebhookVerificationError saying which check failed.
 */
export function verifyHeaders(rawBody: string | Uint8Array, headers: HeadersLike, keys: VerificationKeys, opts: Pick<VerifyOptions, 'toleranceSeconds' | 'now'> = {}): VerifiedHeaders {
  const bytes = rawBytes(rawBody);
  if (typeof headers !== 'object' || headers === null) throw new TypeError('headers must be the request\'s headers (an object or a Headers)');
  const tolerance = toleranceOf(opts);
  const webhookId = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sig = header(headers, 'webhook-signature');
  for (const [name, v] of [['webhook-id', webhookId], ['webhook-timestamp', ts], ['webhook-signature', sig]] as const) {
    if (!v) throw new WebhookVerificationError('missing_header', `the ${name} header is missing`);
  }
  if ((webhookId as string).length > MAX_WEBHOOK_ID) throw new WebhookVerificationError('invalid_webhook_id', `webhook-id is longer than ${MAX_WEBHOOK_ID} characters`);
  if (!/^\d{1,12}$/.test(ts as string)) throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not a number of seconds');
  const skew = Number(ts) - Math.floor((opts.now ?? Date.now)() / 1000);
  if (skew < -tolerance) throw new WebhookVerificationError('timestamp_too_old', `webhook-timestamp is more than ${tolerance} s in the past (a replayed or long-delayed request)`);
  if (skew > tolerance) throw new WebhookVerificationError('timestamp_in_future', `webhook-timestamp is more than ${tolerance} s ahead (check this machine's clock)`);

  const entries = (sig as string).split(' ').filter(Boolean);
  if (entries.length === 0 || entries.length > MAX_SIGNATURES) throw new WebhookVerificationError('invalid_signature_header', `webhook-signature must hold 1 to ${MAX_SIGNATURES} entries`);
  const content = Buffer.concat([Buffer.from(`${webhookId}.${ts}.`, 'utf8'), bytes]);
  let macs: Buffer[] | undefined;
  let v1aChecked = 0;
  for (const entry of entries) {
    const comma = entry.indexOf(',');
    const version = entry.slice(0, comma);
    const given = Buffer.from(entry.slice(comma + 1), 'base64');
    if (comma <= 0 || given.length === 0) continue; // an entry of a form we do not know is skipped, as the scheme says
    if (version === 'v1') {
      macs ??= keys.hmac.map((k) => createHmac('sha256', k).update(content).digest());
      if (macs.some((mac) => mac.length === given.length && timingSafeEqual(mac, given))) return verified(webhookId as string, ts as string, headers);
    } else if (version === 'v1a' && given.length === 64 && v1aChecked++ < MAX_V1A_CHECKED) {
      if (keys.ed25519.some((k) => verifySignature(null, content, k, given))) return verified(webhookId as string, ts as string, headers);
    }
  }
  throw new WebhookVerificationError('no_matching_signature', 'no signature matches the configured secrets or public keys (wrong secret, or the body was changed: verify the raw bytes, before any JSON parsing)');
}

/** toleranceSeconds checked: NaN or a string would make both comparisons false and switch the replay window off. */
export function toleranceOf(opts: Pick<VerifyOptions, 'toleranceSeconds'>): number {
  return optionalNumber(opts.toleranceSeconds, 300, 'toleranceSeconds', { min: 0 });
}

/**
 * The raw body as bytes. A parsed object (a JSON parser ran first) or an ArrayBuffer is refused with
 * words saying what to pass, rather than failing deep inside Buffer.
 */
export function rawBytes(rawBody: string | Uint8Array): Buffer {
  if (typeof rawBody === 'string') return Buffer.from(rawBody, 'utf8');
  if (rawBody instanceof Uint8Array) return Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  if ((rawBody as unknown) instanceof ArrayBuffer) throw new TypeError('rawBody is an ArrayBuffer: pass new Uint8Array(arrayBuffer) (or a Buffer or the text)');
  throw new TypeError(
    `rawBody must be the body as received, a string or a Buffer/Uint8Array (got ${describe(rawBody)}): a body already parsed as JSON cannot be verified; read the raw bytes before any JSON parser`,
  );
}

function verified(webhookId: string, ts: string, headers: HeadersLike): VerifiedHeaders {
  return { webhookId, timestamp: new Date(Number(ts) * 1000), correlationId: header(headers, 'x-correlation-id') };
}

/** Parses a verified body: `{ operations: [...] }` with an operationId and a sequenceNumber in each. */
export function parseBody(rawBody: string | Uint8Array): NotificationBody {
  let body: unknown;
  try {
    body = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBytes(rawBody).toString('utf8'));
  } catch {
    throw new WebhookVerificationError('invalid_body', 'the body is not JSON');
  }
  checkBody(body);
  return body;
}

export function checkBody(body: unknown): asserts body is NotificationBody {
  const ops = (body as { operations?: unknown })?.operations;
  if (!Array.isArray(ops)) throw new WebhookVerificationError('invalid_body', 'the body has no operations array');
  for (const [i, op] of ops.entries()) {
    const o = op as { operationId?: unknown; sequenceNumber?: unknown };
    if (typeof o?.operationId !== 'string' || o.operationId === '' || !Number.isSafeInteger(o.sequenceNumber) || (o.sequenceNumber as number) < 1) {
      throw new WebhookVerificationError('invalid_body', `operations[${i}] lacks an operationId or a positive sequenceNumber`);
    }
  }
}

/**
 * Verifies a notification the hub sent (Standard Webhooks: `v1` HMAC-SHA256 with any of `secrets`, or
 * `v1a` ed25519 with any of `publicKeys`; the timestamp within `toleranceSeconds`, default 300 s either
 * way) and returns its parsed body. `rawBody` must be the bytes as received, before any JSON parsing.
 * Throws WebhookVerificationError (its `reason` says which check failed).
 */
export function verifyNotification(rawBody: string | Uint8Array, headers: HeadersLike, opts: VerifyOptions | readonly string[]): NotificationBody {
  // A list alone is the HMAC secrets: verifyNotification(body, headers, ['whsec_…']).
  const o: VerifyOptions = isSecretList(opts) ? { secrets: opts } : opts;
  if (typeof o === 'string') throw new TypeError('the third argument is the options ({ secrets: [secret] }) or an array of secrets, not one secret as a string');
  verifyHeaders(rawBody, headers, parseKeys(o), o);
  return parseBody(rawBody);
}

function isSecretList(opts: VerifyOptions | readonly string[]): opts is readonly string[] {
  return Array.isArray(opts);
}
