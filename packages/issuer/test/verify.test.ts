import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyNotification, WebhookVerificationError } from '../src/index.ts';
import { ed25519Keys, op, signed, webhookSecret } from './helpers.ts';

const body = { operations: [op('op-1', 1)] };
const secret = webhookSecret('current');
const old = webhookSecret('previous');

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookVerificationError);
    return (err as WebhookVerificationError).reason;
  }
  throw new Error('did not throw');
}

describe('verifyNotification: v1 (HMAC-SHA256)', () => {
  it('accepts a notification signed with the secret and returns its parsed body', () => {
    const n = signed(body, { secrets: [secret] });
    expect(verifyNotification(n.body, n.headers, { secrets: [secret] })).toEqual(body);
    // The secrets alone as the third argument, and the raw bytes as a Buffer, work the same.
    expect(verifyNotification(n.body, n.headers, [secret])).toEqual(body);
    expect(verifyNotification(Buffer.from(n.body), n.headers, { secrets: [secret] })).toEqual(body);
  });

  it('accepts what the standardwebhooks library signs (an independent implementation of the scheme)', () => {
    const text = JSON.stringify(body);
    const at = new Date();
    const headers = { 'webhook-id': 'msg_lib', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_lib', at, text) };
    expect(verifyNotification(text, headers, { secrets: [secret] })).toEqual(body);
  });

  it('refuses a wrong secret, a changed body, a changed id and a changed timestamp', () => {
    const n = signed(body, { secrets: [secret] });
    expect(reason(() => verifyNotification(n.body, n.headers, { secrets: [old] }))).toBe('no_matching_signature');
    expect(reason(() => verifyNotification(n.body.replace('op-1', 'op-2'), n.headers, { secrets: [secret] }))).toBe('no_matching_signature');
    expect(reason(() => verifyNotification(`${n.body} `, n.headers, { secrets: [secret] }))).toBe('no_matching_signature');
    expect(reason(() => verifyNotification(n.body, { ...n.headers, 'webhook-id': 'msg_other' }, { secrets: [secret] }))).toBe('no_matching_signature');
    const ts = String(Number(n.headers['webhook-timestamp']) - 1);
    expect(reason(() => verifyNotification(n.body, { ...n.headers, 'webhook-timestamp': ts }, { secrets: [secret] }))).toBe('no_matching_signature');
  });

  it('during a rotation: one entry per secret in the header, either secret configured verifies', () => {
    const both = signed(body, { secrets: [old, secret] });
    expect(both.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verifyNotification(both.body, both.headers, { secrets: [secret] })).toEqual(body);
    expect(verifyNotification(both.body, both.headers, { secrets: [old] })).toEqual(body);
    // The receiver holding both secrets accepts a notification signed with only the new one, or only the old.
    for (const s of [old, secret]) {
      const n = signed(body, { secrets: [s] });
      expect(verifyNotification(n.body, n.headers, { secrets: [old, secret] })).toEqual(body);
    }
  });

  it('refuses a truncated or garbled signature, and entries of unknown versions alone', () => {
    const n = signed(body, { secrets: [secret] });
    const sig = n.headers['webhook-signature'];
    for (const bad of [sig.slice(0, -4), 'v1,', 'v1', 'v2,AAAA', `v1a,${sig.slice(3)}`, sig.replace('v1,', 'v1,x')]) {
      expect(reason(() => verifyNotification(n.body, { ...n.headers, 'webhook-signature': bad }, { secrets: [secret] }))).toBe('no_matching_signature');
    }
    // A valid entry among unknown ones still verifies.
    expect(verifyNotification(n.body, { ...n.headers, 'webhook-signature': `v2,AAAA ${sig}` }, { secrets: [secret] })).toEqual(body);
    const many = Array.from({ length: 17 }, () => sig).join(' ');
    expect(reason(() => verifyNotification(n.body, { ...n.headers, 'webhook-signature': many }, { secrets: [secret] }))).toBe('invalid_signature_header');
  });
});

describe('verifyNotification: timestamp tolerance', () => {
  const now = Math.floor(Date.now() / 1000);
  it('accepts up to 300 s either way by default, refuses beyond, naming which way', () => {
    for (const skew of [-300, 300, 0]) {
      const n = signed(body, { secrets: [secret], at: now + skew });
      expect(verifyNotification(n.body, n.headers, { secrets: [secret], now: () => now * 1000 })).toEqual(body);
    }
    const past = signed(body, { secrets: [secret], at: now - 301 });
    expect(reason(() => verifyNotification(past.body, past.headers, { secrets: [secret], now: () => now * 1000 }))).toBe('timestamp_too_old');
    const ahead = signed(body, { secrets: [secret], at: now + 301 });
    expect(reason(() => verifyNotification(ahead.body, ahead.headers, { secrets: [secret], now: () => now * 1000 }))).toBe('timestamp_in_future');
  });

  it('takes another tolerance', () => {
    const n = signed(body, { secrets: [secret], at: now - 20 });
    expect(reason(() => verifyNotification(n.body, n.headers, { secrets: [secret], toleranceSeconds: 10, now: () => now * 1000 }))).toBe('timestamp_too_old');
    expect(verifyNotification(n.body, n.headers, { secrets: [secret], toleranceSeconds: 30, now: () => now * 1000 })).toEqual(body);
  });

  it('refuses a timestamp that is not seconds', () => {
    const n = signed(body, { secrets: [secret] });
    for (const ts of ['12.5', '-1', 'now', `${Date.now()}000`]) {
      expect(reason(() => verifyNotification(n.body, { ...n.headers, 'webhook-timestamp': ts }, { secrets: [secret] }))).toBe('invalid_timestamp');
    }
  });
});

describe('verifyNotification: v1a (ed25519)', () => {
  it('verifies with the whpk_ public key, refuses another key and a changed body', () => {
    const hub = ed25519Keys();
    const other = ed25519Keys();
    const n = signed(body, { ed25519: [hub.sign] });
    expect(n.headers['webhook-signature']).toMatch(/^v1a,/);
    expect(verifyNotification(n.body, n.headers, { publicKeys: [hub.publicKey] })).toEqual(body);
    expect(verifyNotification(n.body, n.headers, { publicKeys: [other.publicKey, hub.publicKey] })).toEqual(body);
    expect(reason(() => verifyNotification(n.body, n.headers, { publicKeys: [other.publicKey] }))).toBe('no_matching_signature');
    expect(reason(() => verifyNotification(n.body.replace('1', '2'), n.headers, { publicKeys: [hub.publicKey] }))).toBe('no_matching_signature');
  });

  it('during a switch both signatures come: a receiver with either the secret or the key verifies', () => {
    const hub = ed25519Keys();
    const n = signed(body, { secrets: [secret], ed25519: [hub.sign] });
    expect(verifyNotification(n.body, n.headers, { publicKeys: [hub.publicKey] })).toEqual(body);
    expect(verifyNotification(n.body, n.headers, { secrets: [secret] })).toEqual(body);
    // A v1a signature is not taken for an HMAC one, nor the other way round.
    expect(reason(() => verifyNotification(n.body, n.headers, { secrets: [old], publicKeys: [ed25519Keys().publicKey] }))).toBe('no_matching_signature');
  });

  it('checks at most 4 v1a entries (the hub sends 2 at most): forged extra ones cannot multiply the work', () => {
    const hub = ed25519Keys();
    const n = signed(body, { ed25519: [hub.sign] });
    const real = n.headers['webhook-signature'];
    const forged = `v1a,${Buffer.alloc(64, 7).toString('base64')}`;
    const withForged = (count: number) => ({ ...n.headers, 'webhook-signature': [...Array(count).fill(forged), real].join(' ') });
    expect(verifyNotification(n.body, withForged(1), { publicKeys: [hub.publicKey] })).toEqual(body);
    expect(verifyNotification(n.body, withForged(3), { publicKeys: [hub.publicKey] })).toEqual(body);
    // The real one fifth: never looked at.
    expect(reason(() => verifyNotification(n.body, withForged(4), { publicKeys: [hub.publicKey] }))).toBe('no_matching_signature');
    expect(reason(() => verifyNotification(n.body, withForged(15), { publicKeys: [hub.publicKey] }))).toBe('no_matching_signature');
  });
});

describe('verifyNotification: headers, body and configuration', () => {
  it('names the missing header', () => {
    const n = signed(body, { secrets: [secret] });
    for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const { [h]: _, ...rest } = n.headers;
      expect(() => verifyNotification(n.body, rest, { secrets: [secret] })).toThrow(new RegExp(`missing_header: the ${h} header`));
    }
  });

  it('reads headers in any case, from a fetch Headers too', () => {
    const n = signed(body, { secrets: [secret] });
    const upper = Object.fromEntries(Object.entries(n.headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyNotification(n.body, upper, { secrets: [secret] })).toEqual(body);
    expect(verifyNotification(n.body, new Headers(n.headers), { secrets: [secret] })).toEqual(body);
  });

  it('refuses a signed body that is not a notification, after the signature', () => {
    for (const b of ['not json', '{"operations":{}}', '{"operations":[{"operationId":"x"}]}', '{"operations":[{"operationId":"x","sequenceNumber":0}]}']) {
      const n = signed(b, { secrets: [secret] });
      expect(reason(() => verifyNotification(n.body, n.headers, { secrets: [secret] }))).toBe('invalid_body');
    }
  });

  it('refuses a configuration without keys, or with a malformed secret or key, without echoing it', () => {
    const n = signed(body, { secrets: [secret] });
    expect(() => verifyNotification(n.body, n.headers, {})).toThrow(TypeError);
    expect(() => verifyNotification(n.body, n.headers, { secrets: ['whsec_not base64!'] })).toThrow(/secrets\[0\] is not a webhook secret/);
    expect(() => verifyNotification(n.body, n.headers, { publicKeys: ['whpk_AAAA'] })).toThrow(/publicKeys\[0\]/);
    try {
      verifyNotification(n.body, n.headers, { secrets: ['whsec_s3cr3t value'] });
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cr3t');
    }
  });
});
