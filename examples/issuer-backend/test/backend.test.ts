import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenProvider, TrackhubClient } from '@trackhub/issuer';
import { exportJWK, generateKeyPair } from 'jose';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxNumbers } from '../../../src/sandbox/numbers.ts';
import { freePort, type Proc, runCli, stop, waitFor, waitReady } from '../../../test/helpers/processes.ts';
import { childProcessStore } from '../../../test/helpers/stores.ts';
import { createBackend } from '../src/backend.js';

// The example back-end against a real `trackhub serve --sandbox` (bin/trackhub.js, built by `npm run
// build`), on a fresh database of the test PostgreSQL; sandbox parcels at 36,000x, polled often.
const ADMIN = 'example-backend-admin-token-0123456789';
const ISSUER = 'EXAMPLEB01';
const secret = `whsec_${randomBytes(32).toString('base64')}`;
const delivered = sandboxNumbers('7733301', ['fedex']).find((n) => n.scenario === 'delivered')?.trackingNumber as string;

describe('examples/issuer-backend against a real hub', () => {
  let hub: Proc | undefined;
  let hubUrl: string;
  let cleanup: () => Promise<void> = async () => {};
  const lines: string[] = [];
  const backend = createBackend({ issuerId: ISSUER, secrets: [secret], log: (l: string) => void lines.push(l) });
  let backendUrl: string;
  let client: TrackhubClient;

  beforeAll(async () => {
    const store = await childProcessStore('postgres', 'trackhub-example-backend');
    cleanup = store.cleanup;
    const port = await freePort();
    hubUrl = `http://127.0.0.1:${port}`;
    hub = runCli(['serve', '--sandbox'], {
      TRACKHUB_DATABASE_URL: store.url,
      TRACKHUB_PORT: String(port),
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      TRACKHUB_DATA_DIR: store.dir,
      TRACKHUB_SANDBOX_SPEED: '36000',
      TRACKHUB_POLL_MIN_INTERVAL: '200ms',
      TRACKHUB_POLL_MAX_INTERVAL: '1s',
      TRACKHUB_LOG_LEVEL: 'warn',
    });
    const server: Server = backend.server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    backendUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await waitReady(hubUrl, hub);
    const keys = await generateKeyPair('ES256', { extractable: true });
    const put = await fetch(`${hubUrl}/admin/v1/issuers/${ISSUER}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Example bank', notificationBaseUrl: backendUrl, webhookSecret: secret, jwks: { keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] } }),
    });
    expect(put.status, await put.text()).toBe(201);
    client = new TrackhubClient({ hubUrl, issuerId: ISSUER, tokens: new TokenProvider({ hubUrl, issuerId: ISSUER, keyId: 'k1', privateKey: await exportJWK(keys.privateKey) }) });
  });

  afterAll(async () => {
    await stop(hub);
    backend.server.closeAllConnections();
    await new Promise((r) => backend.server.close(r));
    await cleanup();
  });

  it('applies a parcel verified and in order to DELIVERED; drops a forged, a stale and a repeated notification', async () => {
    const { operationId } = await client.track('card-ex-1', { trackingType: 'SHIPMENT', trackingNumber: delivered });
    const ended = await waitFor('the SHIPMENT delivered', () => backend.cards.get('card-ex-1')?.operations[operationId]?.ended || undefined, 60_000);
    expect(ended).toBe(true);
    const card = backend.cards.get('card-ex-1');
    const history = card.history.filter((h: { operationId: string }) => h.operationId === operationId);
    // Every update once, in sequenceNumber order, from PENDING to DELIVERED.
    expect(history.map((h: { sequenceNumber: number }) => h.sequenceNumber)).toEqual(history.map((_: unknown, i: number) => i + 1));
    expect(history[0]).toMatchObject({ status: 'PENDING' });
    expect(history.at(-1)).toMatchObject({ status: 'SUCCESSFUL', detail: 'DELIVERED' });
    expect(lines.every((l) => l.endsWith('(push, signature verified)'))).toBe(true);
    // What the back-end shows of the card.
    const shown = await (await fetch(`${backendUrl}/cards/card-ex-1`)).json();
    expect(shown.operations[operationId]).toMatchObject({ trackingType: 'SHIPMENT', status: 'SUCCESSFUL', detail: 'DELIVERED', sequenceNumber: history.length });
    const applied = backend.counts.applied;

    // The same notifications through the catch-up feed: every one already had (same webhook-ids), nothing applied twice.
    // The feed serves a notification once every transaction older than its own has ended (another database's
    // on the same server, without proof it is elsewhere, included): read until it has them all.
    const caughtUp = await waitFor('the feed to serve every pushed notification', async () => {
      const r = await client.syncNotifications({ handler: backend.handler });
      return r.duplicates >= history.length ? r : undefined;
    }, 20_000, 200);
    expect(caughtUp).toMatchObject({ applied: 0, stale: 0 });
    expect(backend.counts.applied).toBe(applied);

    // An older update signed anew (another webhook-id), as a late retry would come: stale, not applied.
    const page = await client.syncNotifications({ limit: 500 });
    const second = page.notifications.find((n) => n.body.operations[0].operationId === operationId && n.body.operations[0].sequenceNumber === 2);
    expect(second).toBeDefined();
    const body = JSON.stringify(second?.body);
    const post = (headers: Record<string, string>) => fetch(`${backendUrl}/notifications/d1/v2/issuers/${ISSUER}/cards`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const id = 'msg_late_retry';
    const now = new Date();
    const signedAnew = await post({ 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, now, body) });
    expect(signedAnew.status).toBe(200);
    expect(backend.counts.stale).toBe(1);
    expect(backend.cards.get('card-ex-1').operations[operationId].detail).toBe('DELIVERED');

    // Signed with a secret that is not the issuer's: refused, nothing applied.
    const forger = new Webhook(`whsec_${randomBytes(32).toString('base64')}`);
    const forged = await post({ 'webhook-id': 'msg_forged', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': forger.sign('msg_forged', now, body) });
    expect(forged.status).toBe(401);
    expect(backend.counts).toEqual({ applied, stale: 1 });
  }, 90_000);
});
