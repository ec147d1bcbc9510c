import { createPublicKey, verify } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/delivery/dispatcher.ts';
import { createLogger } from '../src/logger.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';
import { waitFor } from './helpers/processes.ts';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An issuer endpoint that keeps every request it gets, raw body and headers, and answers 200. */
async function receiver() {
  const got: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

/** What the issuer does with the public key alone: node:crypto, no hub code, no SDK. */
function verifiesWith(publicKey: string, h: IncomingHttpHeaders, body: string): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.replace(/^whpk_/, ''), 'base64').toString('base64url') }, format: 'jwk' });
  const content = Buffer.from(`${h['webhook-id']}.${h['webhook-timestamp']}.${body}`);
  const v1a = String(h['webhook-signature']).split(' ').filter((s) => s.startsWith('v1a,'));
  return v1a.length > 0 && v1a.every((s) => verify(null, content, key, Buffer.from(s.slice(4), 'base64')));
}

describe('ed25519 notification signatures (Standard Webhooks v1a)', () => {
  let t: TestApp;
  const lines: string[] = [];

  async function setup() {
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('debug', sink);
    t = await testApp('postgres', { TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' }, { log });
    cleanups.push(() => t.close());
    return log;
  }

  async function put(issuerId: string, url: string, extra: Record<string, unknown>) {
    const key = await issuerKey();
    return t.app.inject({ method: 'PUT', url: `/admin/v1/issuers/${issuerId}`, headers: auth, payload: { name: issuerId, notificationBaseUrl: url, jwks: { keys: [key.publicJwk] }, ...extra } });
  }

  async function deliverOne(issuerId: string, id: string, log: ReturnType<typeof createLogger>) {
    await insertOutbox(t.store.db, [{ id, issuer_id: issuerId, operation_id: `op_${id}`, sequence_number: 1, correlation_id: `c_${id}`, payload: JSON.stringify({ operationId: `op_${id}`, sequenceNumber: 1 }) }]);
    const d = new Dispatcher({ db: t.store.db, log, retryScheduleMs: [50], leaseMs: 10_000, allowPrivateTargets: true, idleWaitMs: 20 });
    d.start();
    cleanups.push(() => d.stop());
    return d;
  }

  it('a new ed25519 issuer holds no secret; its notification verifies with the public key alone; the private key is never shown nor logged', async () => {
    const log = await setup();
    const rx = await receiver();
    const created = await put('EDBANK0001', rx.url, { notificationSigning: 'ed25519' });
    expect(created.statusCode).toBe(201);
    const view = created.json();
    expect(view.notificationSigning).toBe('ed25519');
    expect(view.notificationPublicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(view.webhookSecretCount).toBe(0);
    expect(view.webhookSecret).toBeUndefined();

    await deliverOne('EDBANK0001', 'msg_ed_000001', log);
    await waitFor('the notification', () => (rx.got.length >= 1 ? true : undefined), 10_000);
    const [hit] = rx.got;
    // Only v1a: an issuer that chose ed25519 has no shared secret to check a v1 with.
    expect(String(hit.headers['webhook-signature'])).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(verifiesWith(view.notificationPublicKey, hit.headers, hit.body)).toBe(true);
    // A changed body does not verify: the check is real.
    expect(verifiesWith(view.notificationPublicKey, hit.headers, hit.body.replace('op_', 'OP_'))).toBe(false);

    const stored = await t.store.db.selectFrom('issuers').select('notification_signing_key').where('issuer_id', '=', 'EDBANK0001').executeTakeFirstOrThrow();
    expect(stored.notification_signing_key).toMatch(/^thsb1\./);
    const { getIssuer } = await import('../src/store/issuers.ts');
    const secretKey = (await getIssuer(t.store.db, 'EDBANK0001'))?.notificationSigningPrivateKey as string;
    expect(secretKey).toMatch(/^whsk_/);
    const seed = secretKey.slice(5);
    const answers = [
      created.body,
      (await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/EDBANK0001', headers: auth })).body,
      (await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: auth })).body,
      (await t.app.inject({ method: 'GET', url: '/admin/v1/audit', headers: auth })).body,
    ];
    for (const text of [...answers, lines.join('')]) {
      expect(text).not.toContain(seed);
      expect(text).not.toContain(Buffer.from(seed, 'base64').toString('base64url'));
    }
  });

  it('a switch from hmac overlaps (v1 and v1a in one header) until retirePreviousSecret leaves v1a alone; a webhookSecret is refused with ed25519', async () => {
    const log = await setup();
    const rx = await receiver();
    const first = await put('EDBANK0002', rx.url, {});
    expect(first.statusCode).toBe(201);
    expect(first.json().notificationSigning).toBe('hmac');
    expect(first.json().notificationPublicKey).toBeUndefined();

    const switched = await put('EDBANK0002', rx.url, { notificationSigning: 'ed25519' });
    expect(switched.statusCode).toBe(200);
    expect(switched.json()).toMatchObject({ notificationSigning: 'ed25519', webhookSecretCount: 1 });
    const publicKey = switched.json().notificationPublicKey as string;

    const refused = await put('EDBANK0002', rx.url, { webhookSecret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error).toMatch(/^webhookSecret: not used with notificationSigning ed25519/);

    await deliverOne('EDBANK0002', 'msg_ed_000002', log);
    await waitFor('the notification', () => (rx.got.length >= 1 ? true : undefined), 10_000);
    const parts = String(rx.got[0].headers['webhook-signature']).split(' ');
    expect(parts.map((p) => p.slice(0, p.indexOf(',')))).toEqual(['v1', 'v1a']);
    expect(verifiesWith(publicKey, rx.got[0].headers, rx.got[0].body)).toBe(true);

    // Absent notificationSigning keeps ed25519; retirePreviousSecret drops the shared secret; the key stays.
    const retired = await put('EDBANK0002', rx.url, { retirePreviousSecret: true });
    expect(retired.json()).toMatchObject({ notificationSigning: 'ed25519', webhookSecretCount: 0, notificationPublicKey: publicKey });

    // And back to hmac: a secret is made (returned once), the key signs beside it until retired.
    const back = await put('EDBANK0002', rx.url, { notificationSigning: 'hmac' });
    expect(back.json()).toMatchObject({ notificationSigning: 'hmac', webhookSecretCount: 1, notificationPublicKey: publicKey });
    expect(back.json().webhookSecret).toMatch(/^whsec_/);
    const done = await put('EDBANK0002', rx.url, { retirePreviousSecret: true });
    expect(done.json().notificationPublicKey).toBeUndefined();
    expect(done.json().webhookSecretCount).toBe(1);
  });

  it('notificationSigning outside hmac | ed25519 is a 400 naming the field', async () => {
    await setup();
    const res = await put('EDBANK0003', 'https://bank.example', { notificationSigning: 'rsa' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/notificationSigning/);
  });
});
