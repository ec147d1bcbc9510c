import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ROUTES } from '../../src/carriers/registry.ts';
import { CARRIER_CODES, type CarrierCode } from '../../src/domain/carriers.ts';
import { sandboxNumbers } from '../../src/sandbox/numbers.ts';
import { assertion, issuerKey, JWT_BEARER, tokenUrl } from '../helpers/issuer.ts';
import { freePort, type Proc, type Received, receiver, runCli, stop, waitFor, waitReady } from '../helpers/processes.ts';
import { childProcessStore } from '../helpers/stores.ts';

/**
 * Every carrier code end to end: a real `trackhub serve --sandbox` process (the in-process sandbox speaks
 * each provider's API shape), SHIPMENT requests, and the signed notifications at a real receiver.
 */

const ADMIN = 'e2e-admin-token-0123456789abcdef';
const ISSUER = 'ISSUER_CAR';

interface Op {
  operationId: string;
  status: string;
  sequenceNumber: number;
  endTime?: string;
  errorCode?: string;
  details: { status?: string; shipment?: { carrier: string; status: string; trackingUrl: string } };
}
const ops = (received: Received[]) => received.flatMap((r) => JSON.parse(r.body).operations as Op[]);

// Postgres when the CI provides it (the multi-instance store), else the embedded server: one run keeps this file fast.
// PostgreSQL only: these tests need what the external server offers (two processes, LISTEN, connection loss).
const kind = 'postgres' as const;

describe(`every carrier through the sandbox on ${kind}`, () => {
  let hub: Proc | undefined;
  let hubUrl: string;
  let cleanup: () => Promise<void> = async () => {};
  let rx: Awaited<ReturnType<typeof receiver>>;
  let secret: string;
  let token: string;

  beforeAll(async () => {
    const store = await childProcessStore(kind, 'trackhub-carriers');
    const databaseUrl = store.url;
    cleanup = store.cleanup;
    const port = await freePort();
    hubUrl = `http://127.0.0.1:${port}`;
    hub = runCli(['serve', '--sandbox'], {
      TRACKHUB_DATABASE_URL: databaseUrl,
      TRACKHUB_PORT: String(port),
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      // 36,000x: an hour of parcel life is a tenth of a second; a 90-hour return takes 9 seconds.
      TRACKHUB_SANDBOX_SPEED: '36000',
      TRACKHUB_POLL_MIN_INTERVAL: '150ms',
      TRACKHUB_POLL_MAX_INTERVAL: '600ms',
      TRACKHUB_NOT_FOUND_AFTER: '4s',
      TRACKHUB_EXPIRE_AFTER: '6s',
      TRACKHUB_RETRY_SCHEDULE: '300ms,600ms,1s,1s,2s,2s,2s,2s,2s,2s',
      TRACKHUB_LEASE: '2s',
      TRACKHUB_LOG_LEVEL: 'warn',
    });
    await waitReady(hubUrl, hub);
    rx = await receiver();
    const key = await issuerKey();
    const put = await fetch(`${hubUrl}/admin/v1/issuers/${ISSUER}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Carrier Bank', notificationBaseUrl: rx.url, jwks: { keys: [key.publicJwk] } }),
    });
    expect(put.status).toBe(201);
    secret = (await put.json()).webhookSecret;
    const tok = await fetch(`${hubUrl}/authz/v1/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion(ISSUER, key, { aud: tokenUrl(hubUrl) }) }).toString(),
    });
    token = (await tok.json()).access_token;
  }, 90_000);

  afterAll(async () => {
    await stop(hub);
    await rx?.close();
    await cleanup();
  });

  const track = async (cardId: string, trackingNumber: string, carrier?: CarrierCode) => {
    const res = await fetch(`${hubUrl}/banking/v1/issuers/${ISSUER}/physicalCards/${cardId}/track`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ trackingType: 'SHIPMENT', trackingNumber, ...(carrier ? { carrier } : {}) }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    return (await res.json()).operationId as string;
  };
  const story = (carrier: CarrierCode, scenario: string) => sandboxNumbers('5566778', [carrier]).find((n) => n.scenario === scenario) as ReturnType<typeof sandboxNumbers>[number];
  const endOf = (id: string, timeoutMs = 40_000) => waitFor(`end of ${id}`, () => ops(rx.received).find((o) => o.operationId === id && o.endTime), timeoutMs);
  const mine = (id: string) => [...new Map(ops(rx.received).filter((o) => o.operationId === id).map((o) => [o.sequenceNumber, o])).values()].sort((a, b) => a.sequenceNumber - b.sequenceNumber);

  it('a SHIPMENT for every carrier code ends DELIVERED, with the right carrier, in order, signed', async () => {
    const started = await Promise.all(
      CARRIER_CODES.map(async (carrier) => {
        const n = story(carrier, 'delivered');
        // Numbers detection cannot tell apart (NACEX, SEUR, Chronopost's S10) need the carrier field.
        return { carrier, id: await track(`card-${carrier}`, n.trackingNumber, n.detected ? undefined : carrier) };
      }),
    );
    for (const { carrier, id } of started) {
      const final = await endOf(id);
      const seen = mine(id);
      expect(seen.map((o) => o.sequenceNumber)).toEqual(seen.map((_, i) => i + 1));
      expect(seen[0]).toMatchObject({ status: 'PENDING', details: { status: 'CARD_SHIPPED' } });
      expect(final, carrier).toMatchObject({ status: 'SUCCESSFUL', details: { shipment: { carrier, status: 'DELIVERED' } } });
      expect(final.sequenceNumber).toBe(seen.length);
      // The parcel moved before it was delivered: its history holds an in-transit checkpoint. (Whether a
      // notification said IN_TRANSIT depends on a poll landing in that phase, which a loaded machine can miss.)
      const status = await fetch(`${hubUrl}/banking/v1/issuers/${ISSUER}/physicalCards/card-${carrier}/trackingStatus`, { headers: { authorization: `Bearer ${token}` } });
      const [op] = ((await status.json()) as { operations: { details: { shipment?: { checkpoints?: { status: string }[] } } }[] }).operations;
      expect(op.details.shipment?.checkpoints?.some((c) => c.status === 'IN_TRANSIT'), carrier).toBe(true);
    }
    const wh = new Webhook(secret);
    for (const r of rx.received) expect(() => wh.verify(r.body, r.headers as Record<string, string>)).not.toThrow();
  }, 90_000);

  it('returned to sender is a true end for every provider', async () => {
    // One carrier per provider, its primary route.
    const perProvider = new Map<string, CarrierCode>();
    for (const c of CARRIER_CODES) if (!perProvider.has(DEFAULT_ROUTES[c][0])) perProvider.set(DEFAULT_ROUTES[c][0], c);
    const started = await Promise.all(
      [...perProvider.values()].map(async (carrier) => {
        const n = story(carrier, 'returned');
        return { carrier, id: await track(`card-ret-${carrier}`, n.trackingNumber, n.detected ? undefined : carrier) };
      }),
    );
    for (const { carrier, id } of started) {
      const final = await endOf(id);
      expect(final, carrier).toMatchObject({ status: 'SUCCESSFUL', details: { shipment: { carrier, status: 'RETURNED_TO_SENDER' } } });
      expect(mine(id).some((o) => o.details.shipment?.status === 'RETURNING_TO_SENDER'), carrier).toBe(true);
    }
  }, 90_000);

  it('a number no carrier knows ends TRACKING_NUMBER_NOT_FOUND; a parcel gone quiet ends TRACKING_EXPIRED', async () => {
    const never = await track('card-never', story('ups', 'never_found').trackingNumber);
    const quiet = await track('card-quiet', story('dhl', 'quiet').trackingNumber);
    expect(await endOf(never)).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_NUMBER_NOT_FOUND' });
    expect(mine(never).map((o) => o.status)).toEqual(['PENDING', 'FAILED']);
    expect(await endOf(quiet)).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_EXPIRED', details: { shipment: { status: 'EXPIRED' } } });
  }, 60_000);

  it('exposes polls and breaker state per provider in /metrics', async () => {
    const text = await (await fetch(`${hubUrl}/metrics`)).text();
    for (const provider of ['fedex', 'ups', 'usps', 'dhl', 'laposte', 'aftership']) {
      expect(text).toMatch(new RegExp(`trackhub_carrier_polls_total\\{provider="${provider}",result="found"\\} [1-9]`));
      expect(text).toContain(`trackhub_carrier_breaker_state{provider="${provider}"} 0`);
    }
  });
});
