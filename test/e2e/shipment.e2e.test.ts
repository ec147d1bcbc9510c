import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxNumbers } from '../../src/sandbox/numbers.ts';
import { assertion, issuerKey, JWT_BEARER, tokenUrl } from '../helpers/issuer.ts';
import { freePort, type Proc, type Received, receiver, runCli, stop, waitFor, waitReady } from '../helpers/processes.ts';
import { childProcessStore, STORE_KINDS } from '../helpers/stores.ts';

const ADMIN = 'e2e-admin-token-0123456789abcdef';
const ISSUER = 'ISSUER_E2E';
const numbers = Object.fromEntries(sandboxNumbers().map((r) => [r.scenario, r.trackingNumber]));
/** A second never-found number, for an operation that stays open and is polled on as a witness of time passing. */
const witness = sandboxNumbers('7754321').find((r) => r.scenario === 'never_found')?.trackingNumber as string;

interface Op {
  operationId: string;
  status: string;
  sequenceNumber: number;
  endTime?: string;
  cardId: string;
  errorCode?: string;
  details: { status?: string; shipment?: { status: string; checkpoints?: unknown[]; lastCheckpoint?: unknown } };
}

function ops(received: Received[]): (Op & { webhookId: string })[] {
  return received.flatMap((r) => (JSON.parse(r.body).operations as Op[]).map((o) => ({ ...o, webhookId: r.headers['webhook-id'] as string })));
}

describe.each(STORE_KINDS)('end to end on %s: track → sandbox FedEx → signed notifications', (kind) => {
  let sandbox: Proc;
  let hub: Proc | undefined;
  let hubUrl: string;
  let env: Record<string, string>;
  let cleanup: () => Promise<void> = async () => {};
  let rx: Awaited<ReturnType<typeof receiver>>;
  let secret: string;
  let token: string;
  /** While true, the receiver holds requests until `release`: they are in flight when the hub is killed. */
  let hold = false;
  let heldRequests = 0;
  let release = () => {};
  const released = new Promise<void>((r) => {
    release = r;
  });

  beforeAll(async () => {
    const sandboxPort = await freePort();
    // 36,000x: a 30-hour parcel life takes 3 seconds.
    sandbox = runCli(['sandbox', '--port', String(sandboxPort), '--speed', '36000'], {});
    await waitFor('sandbox', async () => (await fetch(`http://127.0.0.1:${sandboxPort}/sandbox/fedex/oauth/token`, { method: 'POST' })).status === 401 || undefined);
    const store = await childProcessStore(kind, 'trackhub-e2e');
    const databaseUrl = store.url;
    cleanup = store.cleanup;
    const port = await freePort();
    hubUrl = `http://127.0.0.1:${port}`;
    env = {
      TRACKHUB_DATABASE_URL: databaseUrl,
      TRACKHUB_PORT: String(port),
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true',
      TRACKHUB_CARRIER_FEDEX_BASE_URL: `http://127.0.0.1:${sandboxPort}/sandbox/fedex`,
      TRACKHUB_CARRIER_FEDEX_CLIENT_ID: 'e2e-client',
      TRACKHUB_CARRIER_FEDEX_CLIENT_SECRET: 'e2e-secret-value',
      TRACKHUB_POLL_MIN_INTERVAL: '150ms',
      TRACKHUB_POLL_MAX_INTERVAL: '600ms',
      TRACKHUB_RETRY_SCHEDULE: '300ms,600ms,1s,1s,2s,2s,2s,2s,2s,2s',
      TRACKHUB_LEASE: '2s',
      TRACKHUB_DELIVERY_TIMEOUT: '1s', // the lease is never shorter than 1.5 × the attempt timeout
      TRACKHUB_LOG_LEVEL: 'info',
    };
    hub = runCli(['serve'], env);
    await waitReady(hubUrl, hub);

    rx = await receiver(async () => {
      if (hold) {
        heldRequests++;
        await released;
      }
      return 204;
    });
    const key = await issuerKey();
    const put = await fetch(`${hubUrl}/admin/v1/issuers/${ISSUER}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'E2E Bank', notificationBaseUrl: rx.url, jwks: { keys: [key.publicJwk] } }),
    });
    expect(put.status).toBe(201);
    secret = (await put.json()).webhookSecret;
    const tok = await fetch(`${hubUrl}/authz/v1/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion(ISSUER, key, { aud: tokenUrl(hubUrl) }) }).toString(),
    });
    token = (await tok.json()).access_token;
  });

  afterAll(async () => {
    await stop(hub);
    await stop(sandbox);
    await rx?.close();
    await cleanup();
  });

  /** Carrier polls the hub has made (every tracking number asked of a provider), from its own metrics. */
  const polls = async () => {
    const text = await (await fetch(`${hubUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('trackhub_carrier_polls_total{'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  };
  /** Waits until the hub has made `n` more carrier polls than `from`: a positive sign that time passed in the hub. */
  const pollsPast = (from: number, n: number) => waitFor(`${n} polls past ${from}`, async () => ((await polls()) >= from + n ? true : undefined), 60_000, 100);

  const track = async (cardId: string, trackingNumber: string) => {
    const res = await fetch(`${hubUrl}/banking/v1/issuers/${ISSUER}/physicalCards/${cardId}/track`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-correlation-id': `e2e-${cardId}` },
      body: JSON.stringify({ trackingType: 'SHIPMENT', trackingNumber }),
    });
    expect(res.status).toBe(202);
    return (await res.json()).operationId as string;
  };

  it('a SHIPMENT yields PENDING, one SUCCESSFUL per change, then DELIVERED with endTime; all signed', async () => {
    // A number never found stays open and is polled on: its polls show the hub kept working after the end.
    await track('card-e2e-clock', witness);
    const operationId = await track('card-e2e-1', numbers.delivered);
    const final = await waitFor('terminal notification', () => ops(rx.received).find((o) => o.operationId === operationId && o.endTime), 30_000);
    // Several more polling rounds happen after the end (waited for on the hub's poll counter), and every
    // notification of the operation has arrived by then (its sequence is complete): nothing more is sent.
    await pollsPast(await polls(), 3);
    const mine = ops(rx.received).filter((o) => o.operationId === operationId);
    const bySeq = new Map(mine.map((o) => [o.sequenceNumber, o]));
    expect(mine.length).toBe(bySeq.size); // no notification twice
    const seqs = [...bySeq.keys()].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(bySeq.get(1)?.status).toBe('PENDING');
    expect(bySeq.get(1)?.details.status).toBe('CARD_SHIPPED');
    expect(final.sequenceNumber).toBe(seqs.length);
    expect(final.status).toBe('SUCCESSFUL');
    expect(final.details.shipment?.status).toBe('DELIVERED');
    // Every SUCCESSFUL carries something new: the shipment's status or checkpoint count moves each time.
    const successful = seqs.slice(1).map((s) => bySeq.get(s) as Op);
    expect(successful.length).toBeGreaterThanOrEqual(2);
    const fingerprints = successful.map((o) => JSON.stringify([o.details.shipment?.status, o.details.shipment?.lastCheckpoint]));
    expect(new Set(fingerprints).size).toBe(fingerprints.length);

    const wh = new Webhook(secret);
    for (const r of rx.received) {
      expect(() => wh.verify(r.body, r.headers as Record<string, string>)).not.toThrow();
      expect(r.headers['x-correlation-id']).toMatch(/^e2e-card|^corr_/);
    }
    const status = await fetch(`${hubUrl}/banking/v1/issuers/${ISSUER}/physicalCards/card-e2e-1/trackingStatus`, { headers: { authorization: `Bearer ${token}` } });
    const latest = (await status.json()).operations[0];
    expect(latest.sequenceNumber).toBe(final.sequenceNumber);
    expect(latest.details.shipment.checkpoints.length).toBeGreaterThanOrEqual(5);
  });

  it('never-found numbers poll without notifying beyond PENDING', async () => {
    const operationId = await track('card-e2e-nf', numbers.never_found);
    await waitFor('PENDING', () => ops(rx.received).some((o) => o.operationId === operationId) || undefined, 30_000);
    // Polls of the number after its PENDING (two never-found numbers are open, polled in the same rounds:
    // six polls span at least three rounds) send nothing more, and the store holds nothing newer.
    await pollsPast(await polls(), 6);
    const mine = ops(rx.received).filter((o) => o.operationId === operationId);
    expect(mine.map((o) => o.status)).toEqual(['PENDING']);
    const status = await fetch(`${hubUrl}/banking/v1/issuers/${ISSUER}/physicalCards/card-e2e-nf/trackingStatus`, { headers: { authorization: `Bearer ${token}` } });
    expect((await status.json()).operations[0].sequenceNumber).toBe(1);
  });

  it('SIGKILL while notifications are in flight loses nothing: every one arrives after restart', async () => {
    hold = true;
    const cards = ['k1', 'k2', 'k3', 'k4'];
    const ids = await Promise.all(cards.map((c, i) => track(`card-kill-${c}`, i % 2 ? numbers.failed_attempt : numbers.delivered)));
    // Kill while the receiver is holding requests the hub has sent but not seen answered: they stay held
    // (whatever the machine's speed) until the hub is dead, then are answered on sockets nobody reads.
    await waitFor('requests in flight', () => heldRequests >= 4 || undefined);
    await stop(hub, 'SIGKILL');
    hold = false;
    release();
    hub = runCli(['serve'], env);
    await waitReady(hubUrl, hub);
    // Every operation must reach its end, with every sequence number from 1 delivered at least once.
    for (const id of ids) {
      const final = await waitFor(`end of ${id}`, () => ops(rx.received).find((o) => o.operationId === id && o.endTime), 60_000);
      const seqs = new Set(ops(rx.received).filter((o) => o.operationId === id).map((o) => o.sequenceNumber));
      for (let s = 1; s <= final.sequenceNumber; s++) expect(seqs.has(s), `${id} seq ${s}`).toBe(true);
    }
    // Duplicates are allowed, but a duplicate is the same notification: same webhook-id, same body.
    const byWebhookId = new Map<string, string>();
    for (const r of rx.received) {
      const id = r.headers['webhook-id'] as string;
      if (byWebhookId.has(id)) expect(r.body).toBe(byWebhookId.get(id));
      byWebhookId.set(id, r.body);
    }
    const perSeq = new Map<string, string>();
    for (const o of ops(rx.received)) {
      const k = `${o.operationId}#${o.sequenceNumber}`;
      if (perSeq.has(k)) expect(o.webhookId).toBe(perSeq.get(k));
      perSeq.set(k, o.webhookId);
    }
  });
});
