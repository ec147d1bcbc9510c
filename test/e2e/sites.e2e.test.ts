import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxNumbers } from '../../src/sandbox/numbers.ts';
import { assertion, issuerKey, JWT_BEARER, tokenUrl } from '../helpers/issuer.ts';
import { freePort, type Proc, type Received, receiver, runCli, stop, waitFor, waitReady } from '../helpers/processes.ts';
import { childProcessStore, STORE_KINDS } from '../helpers/stores.ts';

const ADMIN = 'e2e-admin-token-0123456789abcdef';
const ISSUER = 'SITES_E2E1';
const AUTO_ISSUER = 'SITES_AUTO';
const numbers = Object.fromEntries(sandboxNumbers('7722222').filter((r) => r.carrier === 'fedex').map((r) => [r.scenario, r.trackingNumber]));

interface Op {
  operationId: string;
  status: string;
  sequenceNumber: number;
  cardId: string;
  issuerId: string;
  endTime?: string;
  errorCode?: string;
  details: { trackingType: string; status?: string; productionSite?: string; shipment?: { status: string } };
}

const ops = (received: Received[]): Op[] => received.flatMap((r) => JSON.parse(r.body).operations as Op[]);

describe.each(STORE_KINDS)('production sites end to end on %s', (kind) => {
  let sandbox: Proc;
  let hub: Proc;
  let hubUrl: string;
  let cleanup: () => Promise<void> = async () => {};
  let rx: Awaited<ReturnType<typeof receiver>>;
  const tokens: Record<string, string> = {};
  const siteKeys: Record<string, string> = {};

  const admin = (path: string, body: unknown) =>
    fetch(`${hubUrl}/admin/v1${path}`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const report = async (siteId: string, events: Record<string, unknown>[], key = siteKeys[siteId]) => {
    const res = await fetch(`${hubUrl}/sites/v1/production-sites/${siteId}/events`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ events: events.map((e) => ({ issuerId: ISSUER, occurredAt: new Date().toISOString(), ...e })) }),
    });
    return { status: res.status, body: await res.json() };
  };

  const track = async (cardId: string, body: Record<string, unknown>, issuerId = ISSUER) => {
    const res = await fetch(`${hubUrl}/banking/v1/issuers/${issuerId}/physicalCards/${cardId}/track`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens[issuerId]}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return (await res.json()).operationId as string;
  };

  const notified = (operationId: string) => ops(rx.received).filter((o) => o.operationId === operationId);
  const ended = (operationId: string, timeoutMs = 20_000) =>
    waitFor(`end of ${operationId}`, () => notified(operationId).find((o) => o.endTime), timeoutMs);

  const adminGet = async (path: string) => {
    const res = await fetch(`${hubUrl}/admin/v1${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    return res.json();
  };
  /** How many notifications the hub has made for an operation (sent or still to send), by the Admin API. */
  const madeFor = async (operationId: string) => {
    let count = 0;
    let cursor: string | null = null;
    do {
      const page: { notifications: { operationIds: string[] }[]; nextCursor: string | null } = await adminGet(`/notifications?issuerId=${ISSUER}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      count += page.notifications.filter((n) => n.operationIds.includes(operationId)).length;
      cursor = page.nextCursor;
    } while (cursor);
    return count;
  };

  /**
   * A positive barrier for "nothing was sent": a notification to ISSUER caused after the step in
   * question. The hub answers a report or a track request once what it decided is committed, so
   * anything that step made it send was in the outbox before the barrier's notification, and is shown
   * by the Admin API (madeFor) from then on; once the barrier's has arrived, the deliveries that step
   * caused would have been claimed no later than it.
   */
  let barriers = 0;
  const barrier = async () => {
    const card = `barrier-${++barriers}`;
    const op = await track(card, { trackingType: 'PRODUCTION' });
    expect((await report('BUREAU-A', [{ eventId: card, cardId: card, type: 'CARD_SHIPPED' }])).body.accepted).toBe(1);
    await ended(op);
  };

  beforeAll(async () => {
    const sandboxPort = await freePort();
    // 360,000x: the 90-hour "returned" parcel story takes under a second.
    sandbox = runCli(['sandbox', '--port', String(sandboxPort), '--speed', '360000'], {});
    await waitFor('sandbox', async () => (await fetch(`http://127.0.0.1:${sandboxPort}/sandbox/fedex/oauth/token`, { method: 'POST' })).status === 401 || undefined);
    const store = await childProcessStore(kind, 'trackhub-sites-e2e');
    const databaseUrl = store.url;
    cleanup = store.cleanup;
    const port = await freePort();
    hubUrl = `http://127.0.0.1:${port}`;
    hub = runCli(['serve'], {
      TRACKHUB_DATABASE_URL: databaseUrl,
      TRACKHUB_DATA_DIR: join(store.dir, 'data'),
      TRACKHUB_PORT: String(port),
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true',
      TRACKHUB_CARRIER_FEDEX_BASE_URL: `http://127.0.0.1:${sandboxPort}/sandbox/fedex`,
      TRACKHUB_CARRIER_FEDEX_CLIENT_ID: 'e2e-client',
      TRACKHUB_CARRIER_FEDEX_CLIENT_SECRET: 'e2e-secret-value',
      TRACKHUB_POLL_MIN_INTERVAL: '100ms',
      TRACKHUB_POLL_MAX_INTERVAL: '300ms',
      TRACKHUB_RETRY_SCHEDULE: '300ms,600ms,1s',
      // Shortened clocks: a PRODUCTION or RETURN without a report fails after 6 seconds.
      TRACKHUB_PRODUCTION_TIMEOUT: '6s',
      TRACKHUB_RETURN_TIMEOUT: '6s',
      TRACKHUB_LOG_LEVEL: 'warn',
    });
    await waitReady(hubUrl, hub);
    rx = await receiver();
    for (const [issuerId, extra] of [[ISSUER, {}], [AUTO_ISSUER, { autoTrackShipment: true }]] as const) {
      const key = await issuerKey();
      const put = await admin(`/issuers/${issuerId}`, { name: issuerId, notificationBaseUrl: rx.url, jwks: { keys: [key.publicJwk] }, ...extra });
      expect(put.status).toBe(201);
      const tok = await fetch(`${hubUrl}/authz/v1/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: JWT_BEARER, assertion: await assertion(issuerId, key, { aud: tokenUrl(hubUrl) }) }),
      });
      tokens[issuerId] = (await tok.json()).access_token;
    }
    for (const siteId of ['BUREAU-A', 'BUREAU-B']) {
      const put = await admin(`/production-sites/${siteId}`, { name: siteId, carriers: ['fedex'] });
      expect(put.status).toBe(201);
      siteKeys[siteId] = (await put.json()).apiKey;
    }
  });

  afterAll(async () => {
    await stop(hub);
    await stop(sandbox);
    await rx?.close();
    await cleanup();
  });

  it('PRODUCTION: a report after the request sends exactly one SUCCESSFUL CARD_SHIPPED; a resend is a duplicate', async () => {
    const op = await track('prod-after', { trackingType: 'PRODUCTION' });
    expect(await madeFor(op)).toBe(0); // nothing on acceptance (the hub answered once it was committed)
    const first = await report('BUREAU-A', [{ eventId: 'a-1', cardId: 'prod-after', type: 'CARD_SHIPPED' }]);
    expect(first).toEqual({ status: 202, body: { accepted: 1, duplicates: 0, rejected: [] } });
    const done = await ended(op);
    // Sequence number 1: the operation said nothing before the report.
    expect(done).toMatchObject({ status: 'SUCCESSFUL', sequenceNumber: 1, details: { trackingType: 'PRODUCTION', status: 'CARD_SHIPPED' } });
    expect(notified(op)).toEqual([done]);
    const again = await report('BUREAU-A', [{ eventId: 'a-1', cardId: 'prod-after', type: 'CARD_SHIPPED' }]);
    expect(again.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    await barrier();
    expect(notified(op)).toHaveLength(1);
    expect(await madeFor(op)).toBe(1);
  });

  it('PRODUCTION: a report that came before the request completes it on arrival', async () => {
    await report('BUREAU-A', [{ eventId: 'a-2', cardId: 'prod-before', type: 'CARD_SHIPPED' }]);
    const op = await track('prod-before', { trackingType: 'PRODUCTION', productionSite: 'BUREAU-A' });
    expect(await ended(op)).toMatchObject({ status: 'SUCCESSFUL', details: { status: 'CARD_SHIPPED', productionSite: 'BUREAU-A' } });
  });

  it("another site's key is refused, and a report for another site's card refused", async () => {
    const forbidden = await report('BUREAU-A', [{ eventId: 'b-x', cardId: 'prod-named', type: 'CARD_SHIPPED' }], siteKeys['BUREAU-B']);
    expect(forbidden).toEqual({ status: 403, body: { errorCode: 'FORBIDDEN', error: expect.any(String) } });
    const op = await track('prod-named', { trackingType: 'PRODUCTION', productionSite: 'BUREAU-A' });
    expect(await report('BUREAU-B', [{ eventId: 'b-1', cardId: 'prod-named', type: 'CARD_SHIPPED' }])).toEqual({
      status: 202,
      body: { accepted: 0, duplicates: 0, rejected: [{ index: 0, errorCode: 'FIELD_INVALID_VALUE', error: expect.stringMatching(/^cardId: .*tracked with another production site/) }] },
    });
    expect(await madeFor(op)).toBe(0); // the refused report made nothing
    // The right site's report is the barrier here: it ends the operation, and the end is its doing
    // (stamped after it was sent), the only notification there is.
    const rightSiteAt = new Date().toISOString();
    await report('BUREAU-A', [{ eventId: 'a-3', cardId: 'prod-named', type: 'CARD_SHIPPED' }]);
    const done = await ended(op);
    expect(done).toMatchObject({ status: 'SUCCESSFUL', sequenceNumber: 1 });
    expect((done.endTime as string) >= rightSiteAt, `${done.endTime} after ${rightSiteAt}`).toBe(true);
    expect(notified(op)).toEqual([done]);
    expect(await madeFor(op)).toBe(1);
  });

  it('RETURN via the site: CARD_RETURNED sends one SUCCESSFUL CARD_RETURNED', async () => {
    const op = await track('ret-site', { trackingType: 'RETURN' });
    await report('BUREAU-A', [{ eventId: 'a-4', cardId: 'ret-site', type: 'CARD_RETURNED', reason: 'addressee unknown' }]);
    expect(await ended(op)).toMatchObject({ status: 'SUCCESSFUL', sequenceNumber: 1, details: { trackingType: 'RETURN', status: 'CARD_RETURNED' } });
  });

  it("RETURN via the carrier: the card's own shipment, known from the site's report, comes back to the sender", async () => {
    const shipped = await report('BUREAU-A', [{ eventId: 'a-ret-own', cardId: 'ret-own', type: 'CARD_SHIPPED', trackingNumber: numbers.returned }]);
    expect(shipped.body.accepted).toBe(1);
    const op = await track('ret-own', { trackingType: 'RETURN' });
    const done = await ended(op);
    expect(done).toMatchObject({ status: 'SUCCESSFUL', sequenceNumber: 1, details: { trackingType: 'RETURN', status: 'CARD_RETURNED' } });
    expect(notified(op)).toHaveLength(1);
  });

  it('RETURN via the carrier: the return parcel given in the request delivered back to the sender', async () => {
    const op = await track('ret-carrier', { trackingType: 'RETURN', trackingNumber: numbers.delivered, carrier: 'fedex' });
    const done = await ended(op);
    expect(done).toMatchObject({ status: 'SUCCESSFUL', sequenceNumber: 1, details: { trackingType: 'RETURN', status: 'CARD_RETURNED' } });
    expect(notified(op)).toHaveLength(1);
  });

  it('autoTrackShipment: a CARD_SHIPPED report with a tracking number opens a SHIPMENT that runs to DELIVERED', async () => {
    const res = await report('BUREAU-A', [{ eventId: 'a-6', issuerId: AUTO_ISSUER, cardId: 'auto-card', type: 'CARD_SHIPPED', trackingNumber: numbers.delivered }]);
    expect(res.body.accepted).toBe(1);
    const pending = await waitFor('auto SHIPMENT PENDING', () => ops(rx.received).find((o) => o.issuerId === AUTO_ISSUER && o.cardId === 'auto-card'), 10_000);
    expect(pending).toMatchObject({ status: 'PENDING', sequenceNumber: 1, details: { trackingType: 'SHIPMENT', status: 'CARD_SHIPPED', productionSite: 'BUREAU-A' } });
    const done = await ended(pending.operationId);
    expect(done.details.shipment?.status).toBe('DELIVERED');
    // The issuer without the flag gets no SHIPMENT from the same kind of report.
    expect((await report('BUREAU-A', [{ eventId: 'a-7', cardId: 'no-auto-card', type: 'CARD_SHIPPED', trackingNumber: numbers.delivered }])).body.accepted).toBe(1);
    expect((await adminGet(`/operations?issuerId=${ISSUER}&cardId=no-auto-card`)).operations).toEqual([]); // no operation opened
    await barrier();
    expect(ops(rx.received).filter((o) => o.cardId === 'no-auto-card')).toEqual([]);
  });

  it('timeouts: PRODUCTION_TIMEOUT and RETURN_TIMEOUT when no report comes in time', async () => {
    const prod = await track('prod-late', { trackingType: 'PRODUCTION' });
    const ret = await track('ret-late', { trackingType: 'RETURN' });
    const [p, r] = await Promise.all([ended(prod, 30_000), ended(ret, 30_000)]);
    expect(p).toMatchObject({ status: 'FAILED', errorCode: 'PRODUCTION_TIMEOUT', sequenceNumber: 1 });
    expect(r).toMatchObject({ status: 'FAILED', errorCode: 'RETURN_TIMEOUT', sequenceNumber: 1 });
    // A report after the end changes nothing.
    await report('BUREAU-A', [{ eventId: 'a-8', cardId: 'prod-late', type: 'CARD_SHIPPED' }]);
    await barrier();
    expect(notified(prod)).toHaveLength(1);
    expect(await madeFor(prod)).toBe(1);
  });
});
