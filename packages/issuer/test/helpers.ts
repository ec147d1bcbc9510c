import { createHmac, generateKeyPairSync, sign } from 'node:crypto';

/** A webhook secret in Standard Webhooks form, from a fixed or random key. */
export function webhookSecret(seed = 'k'): string {
  return `whsec_${Buffer.from(seed.padEnd(32, '#')).toString('base64')}`;
}

/** An ed25519 key pair as the hub shows and keeps them: `whpk_`/`whsk_` and base64 of the raw 32 bytes. */
export function ed25519Keys(): { publicKey: string; sign: (content: Buffer) => string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return { publicKey: `whpk_${raw.toString('base64')}`, sign: (content) => sign(null, content, privateKey).toString('base64') };
}

export interface Signed {
  body: string;
  headers: Record<string, string>;
}

/**
 * A notification signed the way the hub signs it — written here from the scheme, independently of the
 * SDK, so a fault in the SDK's verification cannot hide in a shared helper.
 */
export function signed(
  body: unknown,
  opts: { id?: string; at?: number; secrets?: string[]; ed25519?: ((content: Buffer) => string)[]; correlationId?: string } = {},
): Signed {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const id = opts.id ?? `msg_${Math.random().toString(36).slice(2)}`;
  const ts = String(opts.at ?? Math.floor(Date.now() / 1000));
  const content = Buffer.from(`${id}.${ts}.${text}`);
  const sigs = [
    ...(opts.secrets ?? []).map((s) => `v1,${createHmac('sha256', Buffer.from(s.slice(6), 'base64')).update(content).digest('base64')}`),
    ...(opts.ed25519 ?? []).map((f) => `v1a,${f(content)}`),
  ];
  const headers: Record<string, string> = { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sigs.join(' '), 'content-type': 'application/json' };
  if (opts.correlationId) headers['x-correlation-id'] = opts.correlationId;
  return { body: text, headers };
}

/** An operation update with the fields the handler reads (the rest as the hub sends them). */
export function op(operationId: string, sequenceNumber: number, status = 'PENDING') {
  return {
    operationId,
    sequenceNumber,
    operation: 'STANDALONE_TRACKING' as const,
    status: status as 'PENDING',
    issuerId: 'ISSUER_SDK',
    cardId: 'card-1',
    timestamp: new Date().toISOString(),
    startTime: new Date().toISOString(),
    details: { trackingType: 'SHIPMENT' },
  };
}
