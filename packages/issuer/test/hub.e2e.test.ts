import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxNumbers } from '../../../src/sandbox/numbers.ts';
import { freePort, type Proc, runCli, stop, waitFor, waitReady } from '../../../test/helpers/processes.ts';
import { childProcessStore } from '../../../test/helpers/stores.ts';
import {
  MemoryNotificationStore,
  NotificationHandler,
  type NotificationMeta,
  nodeHttpListener,
  type Operation,
  TokenProvider,
  TrackhubApiError,
  TrackhubClient,
  TrackhubTokenError,
} from '../src/index.ts';

// The SDK against a real `trackhub serve --sandbox` (bin/trackhub.js, built by `npm run build`; the test
// run's global setup rebuilds dist/ when src/ is newer), on a fresh database of the test PostgreSQL.
const ADMIN = 'sdk-e2e-admin-token-0123456789abcdef';
const numbers = sandboxNumbers('7755501');

interface Received {
  op: Operation;
  meta: NotificationMeta;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('@trackhub/issuer against a real trackhub serve', () => {
  let hub: Proc | undefined;
  let hubUrl: string;
  let cleanup: () => Promise<void> = async () => {};
  const servers: Server[] = [];

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${hubUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() };
  };

  /** An issuer whose notifications go to a nodeHttpListener of its own; returns what it received. */
  async function issuer(issuerId: string, signing: 'hmac' | 'ed25519') {
    const keys = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' };
    const received: Received[] = [];
    let handler: NotificationHandler | undefined;
    // While `down`, the receiver answers 503 as a back-end that is away would (the hub keeps the notification and retries later).
    const state = { down: false };
    const server = createServer((req, res) => (handler && !state.down ? nodeHttpListener(handler)(req, res) : res.writeHead(503).end()));
    servers.push(server);
    const url = await listen(server);
    const put = await admin('PUT', `/admin/v1/issuers/${issuerId}`, { name: `SDK ${signing}`, notificationBaseUrl: url, jwks: { keys: [publicJwk] }, notificationSigning: signing });
    expect(put.status).toBe(201);
    const verifyWith = signing === 'hmac' ? { secrets: [put.body.webhookSecret as string] } : { publicKeys: [put.body.notificationPublicKey as string] };
    expect(Object.values(verifyWith)[0][0]).toMatch(signing === 'hmac' ? /^whsec_/ : /^whpk_/);
    handler = new NotificationHandler({ ...verifyWith, store: new MemoryNotificationStore(), onUpdate: (op, meta) => void received.push({ op, meta }) });
    const tokens = new TokenProvider({ hubUrl, issuerId, keyId: 'key-1', privateKey: await exportJWK(keys.privateKey) });
    return { publicJwk, url, received, tokens, state, handler, client: new TrackhubClient({ hubUrl, issuerId, tokens }) };
  }

  beforeAll(async () => {
    const store = await childProcessStore('postgres', 'trackhub-sdk-e2e');
    cleanup = store.cleanup;
    const port = await freePort();
    hubUrl = `http://127.0.0.1:${port}`;
    hub = runCli(['serve', '--sandbox'], {
      TRACKHUB_DATABASE_URL: store.url,
      TRACKHUB_PORT: String(port),
      TRACKHUB_PUBLIC_URL: hubUrl,
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true',
      TRACKHUB_DATA_DIR: store.dir,
      TRACKHUB_LOG_LEVEL: 'warn',
    });
    await waitReady(hubUrl, hub);
  });

  afterAll(async () => {
    await stop(hub);
    for (const s of servers) await new Promise((r) => s.close(r));
    await cleanup();
  });

  it('gets a token, tracks a card, receives its PENDING notification verified (HMAC), and reads trackingStatus', async () => {
    const { client, received } = await issuer('SDK_E2E_01', 'hmac');
    const tracked = await client.track('card-e2e-1', { trackingType: 'SHIPMENT', trackingNumber: numbers[0].trackingNumber }, { correlationId: 'sdk-e2e-1' });
    expect(tracked.operationId).toEqual(expect.any(String));
    const first = await waitFor('the PENDING notification', () => received.find((r) => r.op.operationId === tracked.operationId));
    expect(first.op).toMatchObject({ status: 'PENDING', sequenceNumber: 1, cardId: 'card-e2e-1', issuerId: 'SDK_E2E_01' });
    expect(first.meta).toMatchObject({ source: 'push', correlationId: 'sdk-e2e-1' });
    const status = await client.trackingStatus('card-e2e-1');
    expect(status.operations[0].operationId).toBe(tracked.operationId);
    // The same body again while the operation is open: the same operation.
    expect((await client.track('card-e2e-1', { trackingType: 'SHIPMENT', trackingNumber: numbers[0].trackingNumber })).operationId).toBe(tracked.operationId);
  });

  it('verifies ed25519 (v1a) notifications with the issuer\'s whpk_ public key', async () => {
    const { client, received } = await issuer('SDK_E2E_02', 'ed25519');
    const { operationId } = await client.track('card-e2e-2', { trackingType: 'SHIPMENT', trackingNumber: numbers[1].trackingNumber });
    const got = await waitFor('the PENDING notification', () => received.find((r) => r.op.operationId === operationId));
    expect(got.op.status).toBe('PENDING');
  });

  it('a D1 refusal is a TrackhubApiError with the hub\'s errorCode, message and correlation id', async () => {
    const { client } = await issuer('SDK_E2E_03', 'hmac');
    const notFound = await client.trackingStatus('never-tracked', { correlationId: 'sdk-e2e-404' }).catch((e) => e);
    expect(notFound).toBeInstanceOf(TrackhubApiError);
    expect(notFound).toMatchObject({ status: 404, errorCode: 'NOT_FOUND', correlationId: 'sdk-e2e-404' });
    expect(notFound.errorMessage).toEqual(expect.any(String));
    const bad = await client.track('card-e2e-3', { trackingType: 'SHIPMENT', trackingNumber: 'ab' }).catch((e) => e);
    expect(bad).toMatchObject({ status: 400, errorCode: 'FIELD_INVALID_FORMAT' });
    expect(bad.errorMessage).toMatch(/trackingNumber/);
    expect(bad.correlationId).toEqual(expect.any(String));
  });

  it('gets a new token once when the hub stops accepting the cached one (the issuer\'s keys replaced)', async () => {
    const { client, tokens, publicJwk, url } = await issuer('SDK_E2E_04', 'hmac');
    await client.track('card-e2e-4', { trackingType: 'PRODUCTION' });
    const before = await tokens.getToken();
    // A second key added: the key set that granted the cached token is gone, so the hub refuses it (401).
    const other = { ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)), kid: 'key-2', alg: 'ES256', use: 'sig' };
    const put = await admin('PUT', '/admin/v1/issuers/SDK_E2E_04', { name: 'SDK hmac', notificationBaseUrl: url, jwks: { keys: [publicJwk, other] } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const stale = await fetch(`${hubUrl}/banking/v1/issuers/SDK_E2E_04/physicalCards/card-e2e-4/trackingStatus`, { headers: { authorization: `Bearer ${before}` } });
    expect(stale.status).toBe(401);
    const status = await client.trackingStatus('card-e2e-4');
    expect(status.operations).toHaveLength(1);
    expect(await tokens.getToken()).not.toBe(before);
  });

  it('catches up through the feed: what was pushed comes back as duplicates, what was missed while down is applied', async () => {
    const { client, received, state, handler } = await issuer('SDK_E2E_06', 'hmac');
    const pushed = await client.track('card-e2e-6a', { trackingType: 'SHIPMENT', trackingNumber: numbers[2].trackingNumber });
    await waitFor('the pushed notification', () => received.find((r) => r.op.operationId === pushed.operationId));

    state.down = true;
    const missed = await client.track('card-e2e-6b', { trackingType: 'SHIPMENT', trackingNumber: numbers[3].trackingNumber });
    const page = await waitFor('the missed notification in the feed', async () => {
      const p = await client.syncNotifications({ limit: 10 });
      return p.notifications.some((n) => n.body.operations.some((o) => o.operationId === missed.operationId)) ? p : undefined;
    });
    expect(page.notifications.map((n) => n.webhookId)).toEqual(expect.arrayContaining([expect.any(String)]));
    expect(received.some((r) => r.op.operationId === missed.operationId)).toBe(false);

    const r = await client.syncNotifications({ handler: handler as NotificationHandler, limit: 1 });
    expect(r.duplicates).toBeGreaterThanOrEqual(1); // the push of card-e2e-6a, under the same webhook-id
    expect(r.applied).toBeGreaterThanOrEqual(1);
    const caughtUp = received.find((x) => x.op.operationId === missed.operationId);
    expect(caughtUp?.meta.source).toBe('sync');
    // From the cursor returned, nothing more.
    expect(await client.syncNotifications({ handler: handler as NotificationHandler, after: r.nextCursor })).toMatchObject({ applied: 0, duplicates: 0 });
    await expect(client.syncNotifications({ after: 'not-a-cursor' })).rejects.toMatchObject({ status: 400 });

    // The receiver back, nothing of the issuer is left pending: the missed notification was recorded delivered
    // when the feed was read past it (or its push, answered 200 as a duplicate of what the feed brought), and
    // later updates of the parcel, if any, are pushed. None is applied twice.
    state.down = false;
    await waitFor(
      'every notification delivered',
      async () => {
        const all = (await admin('GET', '/admin/v1/notifications?issuerId=SDK_E2E_06')).body.notifications as { state: string }[];
        return all.length >= 2 && all.every((x) => x.state === 'delivered') ? true : undefined;
      },
      30_000,
      250,
    );
    // (The sandbox parcel may have moved on meanwhile: later updates of the operation are new, not repeats.)
    const missedFirst = received.filter((x) => x.op.operationId === missed.operationId && x.op.sequenceNumber === 1);
    expect(missedFirst.map((x) => x.meta.source)).toEqual(['sync']);
    const keys = received.map((x) => `${x.op.operationId}#${x.op.sequenceNumber}`);
    expect(new Set(keys).size).toBe(keys.length); // no update applied twice
  });

  it('a refused assertion is a TrackhubTokenError naming the failed rule', async () => {
    const { publicJwk } = await issuer('SDK_E2E_05', 'hmac');
    const stranger = await generateKeyPair('ES256', { extractable: true });
    const tokens = new TokenProvider({ hubUrl, issuerId: 'SDK_E2E_05', keyId: publicJwk.kid, privateKey: await exportJWK(stranger.privateKey) });
    const err = await tokens.getToken().catch((e) => e);
    expect(err).toBeInstanceOf(TrackhubTokenError);
    expect(err).toMatchObject({ status: 400, errorCode: 'invalid_grant' });
    const wrongAud = new TokenProvider({ hubUrl, issuerId: 'SDK_E2E_05', keyId: 'key-1', privateKey: await exportJWK(stranger.privateKey), audience: 'https://elsewhere.example/token' });
    expect(await wrongAud.getToken().catch((e) => e)).toMatchObject({ errorCode: 'invalid_grant' });
  });
});
