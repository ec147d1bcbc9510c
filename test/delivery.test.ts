import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { sql } from 'kysely';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher, type DispatcherOptions } from '../src/delivery/dispatcher.ts';
import { deliveryMetrics } from '../src/delivery/metrics.ts';
import { parseRetryAfter } from '../src/delivery/retry-after.ts';
import { newWebhookSecret } from '../src/delivery/signing.ts';
import { createLogger } from '../src/logger.ts';
import { type NotificationTls, upsertIssuer } from '../src/store/issuers.ts';
import { replayIssuerSince, replayNotification } from '../src/store/notifications.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { type Fault, faultReceiver } from './helpers/faults.ts';
import { makePki } from './helpers/pki.ts';
import { waitFor } from './helpers/processes.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';

// Delivery behaviour does not depend on the store; PostgreSQL when CI has it (faster to create).
// PostgreSQL only: these tests need what the external server offers (two processes, LISTEN, connection loss).
const KIND = 'postgres' as const;
const log = createLogger(process.env.DEBUG_DELIVERY ? 'debug' : 'silent');

let store: TestStore | undefined;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await store?.close();
  store = undefined;
});

async function setup() {
  store = await freshStore(KIND);
  return store;
}

async function issuer(s: TestStore, issuerId: string, url: string, extra: { maxOps?: number; secrets?: string[]; auth?: { tokenUrl: string; clientId: string; clientSecret: string }; tls?: NotificationTls } = {}) {
  await upsertIssuer(s.db, {
    issuerId, name: issuerId, notificationBaseUrl: url, jwks: { keys: [] }, webhookSecrets: extra.secrets ?? [newWebhookSecret()],
    notificationAuth: extra.auth ?? null, notificationTls: extra.tls ?? null, maxOperationsPerNotification: extra.maxOps ?? 1, autoTrackShipment: false, enabled: true,
  });
}

let seq = 0;
async function seed(s: TestStore, issuerId: string, n: number): Promise<string[]> {
  const rows = Array.from({ length: n }, () => {
    seq++;
    const id = `msg_${String(seq).padStart(6, '0')}`;
    return { id, issuer_id: issuerId, operation_id: `op_${seq}`, sequence_number: 1, correlation_id: `corr_${seq}`, payload: JSON.stringify({ operationId: `op_${seq}`, sequenceNumber: 1 }) };
  });
  await insertOutbox(s.db, rows);
  return rows.map((r) => r.id);
}

function dispatcher(s: TestStore, o: Partial<DispatcherOptions> = {}) {
  const d = new Dispatcher({ db: s.db, log, retryScheduleMs: [50, 50, 50, 50, 50], leaseMs: 10_000, allowPrivateTargets: true, idleWaitMs: 20, ...o });
  cleanups.push(() => d.stop());
  return d;
}

async function rx(decide?: (hit: import('./helpers/faults.ts').Hit, n: number) => Fault, tls?: import('node:https').ServerOptions) {
  const r = await faultReceiver(decide, tls);
  cleanups.push(() => r.close());
  return r;
}

/** A gate the test opens: what waits on `opened` goes on once `open()` is called. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/**
 * An issuer endpoint that answers each request with the status `answer` gives, which may wait (for a
 * gate the test opens): a request held this way is provably in flight for as long as the test says.
 * Over HTTPS it also records the TLS connections it refused, and why.
 */
async function answeringReceiver(answer: (webhookId: string, n: number) => number | Promise<number>, tls?: HttpsServerOptions) {
  const hits: { id: string; at: number; clientCn?: string }[] = [];
  const tlsRefusals: string[] = [];
  const state = { inFlight: 0, maxInFlight: 0 };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    res.on('close', () => state.inFlight--);
    req.resume();
    req.on('end', async () => {
      const id = String(req.headers['webhook-id']);
      const peer = (req.socket as TLSSocket).getPeerCertificate?.();
      hits.push({ id, at: Date.now(), clientCn: peer?.subject?.CN as string | undefined });
      const status = await answer(id, hits.length - 1);
      if (!res.destroyed) res.writeHead(status).end();
    });
  };
  const server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  // A client certificate missing (OpenSSL's refusal) or not trusted (Node's, after the handshake).
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => tlsRefusals.push(String(socket.authorizationError ?? err.code)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, state, tlsRefusals };
}

const outbox = (s: TestStore) => s.db.selectFrom('outbox').selectAll().orderBy('id').execute();
const attemptsOf = (s: TestStore, id: string) => s.db.selectFrom('delivery_attempts').selectAll().where('notification_id', '=', id).orderBy('attempt').execute();
const rowOf = (s: TestStore, id: string) => s.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const ms = (d: Date | string) => new Date(d).getTime();
/** The store's own clock (leases and due times are judged by it). */
const storeNow = async (s: TestStore) => ms((await sql<{ t: Date }>`select clock_timestamp() as t`.execute(s.db)).rows[0].t);

/**
 * A clock that stands still unless the test moves it, for the dispatcher's `now`: the times it records
 * (attempted_at, next_attempt_at) are then exact. It starts at the real time, so rows it makes due
 * (judged by the store's clock) fall due as real time passes.
 */
function frozenClock(at = Date.now()) {
  const clock = { ms: at, now: () => clock.ms };
  return clock;
}

/** How long the row waits after its last attempt: next_attempt_at minus that attempt's attempted_at. */
async function waitAfterLastAttempt(s: TestStore, id: string): Promise<number> {
  const row = await rowOf(s, id);
  const last = (await attemptsOf(s, id)).at(-1);
  if (!last) throw new Error(`no attempt of ${id}`);
  return ms(row.next_attempt_at) - ms(last.attempted_at);
}

describe(`delivery under faults (${KIND})`, () => {
  it('500: the attempt is logged with status and the first 2 KB of the body, then retried with the same webhook-id', async () => {
    const s = await setup();
    const r = await rx((_h, n) => (n === 0 ? { status: 500, body: 'x'.repeat(5000) } : { status: 204 }));
    await issuer(s, 'ISSUER_F01', r.url);
    const [id] = await seed(s, 'ISSUER_F01', 1);
    const d = dispatcher(s);
    expect(await d.runOnce()).toBe(1);
    let [row] = await outbox(s);
    expect(row).toMatchObject({ state: 'pending', attempts: 1, last_error: 'HTTP 500' });
    const [a1] = await attemptsOf(s, id);
    expect(a1).toMatchObject({ attempt: 1, http_status: 500, error: null });
    expect(a1.response_body).toHaveLength(2048);
    await waitFor('retry', async () => (await d.runOnce()) > 0 || undefined, 20_000, 10);
    [row] = await outbox(s);
    expect(row.state).toBe('delivered');
    expect(r.hits.map((h) => h.headers['webhook-id'])).toEqual([id, id]);
    expect((await attemptsOf(s, id)).map((a) => a.http_status)).toEqual([500, 204]);
  });

  it('503 with Retry-After (seconds or HTTP date) waits that long, but at most twice the scheduled delay', async () => {
    const s = await setup();
    const answers = [
      { status: 503, headers: { 'retry-after': '3' } }, // 3 s: longer than the 2 s schedule, under 4 s
      { status: 503, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } }, // capped at 4 s
      { status: 503, headers: { 'retry-after': '0' } }, // shorter than the schedule: the schedule wins
    ];
    let ids: string[] = [];
    const r = await rx((h) => answers[ids.indexOf(String(h.headers['webhook-id']))]);
    await issuer(s, 'ISSUER_F02', r.url);
    ids = await seed(s, 'ISSUER_F02', 3);
    // random = 0.5: no jitter, so the scheduled delay is exactly 2 s; the clock stands still, so every
    // wait is exactly what the dispatcher decided.
    const clock = frozenClock();
    const d = dispatcher(s, { retryScheduleMs: [2000], random: () => 0.5, now: clock.now });
    expect(await d.runOnce()).toBe(3);
    const rows = await outbox(s);
    expect(rows.map((x) => x.id)).toEqual(ids);
    for (const id of ids) expect((await attemptsOf(s, id)).map((a) => [a.http_status, ms(a.attempted_at)])).toEqual([[503, clock.ms]]);
    expect(await Promise.all(ids.map((id) => waitAfterLastAttempt(s, id)))).toEqual([3000, 4000, 2000]);
  });

  it('parses Retry-After as seconds and as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('429: the endpoint is slowed down (concurrency and rate halve), then grows back as it recovers', async () => {
    const s = await setup();
    let troubled = true;
    const allSixteenIn = gate(); // the 429s wait until all 16 requests are in: 16 in flight at once, provably
    const firstAfterRecovery = gate();
    let recoveredAt = -1;
    const r = await answeringReceiver(async (_id, n) => {
      if (troubled) {
        if (n === 15) allSixteenIn.open();
        await allSixteenIn.opened;
        return 429;
      }
      if (recoveredAt < 0) recoveredAt = n;
      if (n === recoveredAt) await firstAfterRecovery.opened;
      return 204;
    });
    const other = await rx();
    await issuer(s, 'ISSUER_F03', r.url);
    await issuer(s, 'ISSUER_F3B', other.url);
    const ids = await seed(s, 'ISSUER_F03', 60);
    const d = dispatcher(s, { perIssuerConcurrency: 16, retryScheduleMs: Array(20).fill(20) });
    await d.runOnce(); // 16 sent at once, 16 answered 429
    expect(r.state.maxInFlight).toBe(16);
    const slowed = d.endpointState('ISSUER_F03');
    expect(slowed?.limit).toBe(1);
    expect(slowed?.rate).toBeLessThanOrEqual(2);
    const rate0 = slowed?.rate as number;
    troubled = false;
    const hitsBefore = r.hits.length;
    d.start();
    // Concurrency 1: while the first request after the trouble is held, nothing more goes to that
    // endpoint, even once the rate allows another. The barrier: another issuer's notification, committed
    // after that, is claimed and sent; the round that claimed it would have claimed for ISSUER_F03 too if
    // it had room.
    await waitFor('first request after the trouble', () => r.hits.length > hitsBefore || undefined, 20_000, 10);
    const firstAt = r.hits[hitsBefore].at; // it started before it arrived: the rate's next slot opens by firstAt + 1000 / rate0
    await waitFor("the rate's next slot open", () => Date.now() > firstAt + 1000 / rate0 + 50 || undefined, 20_000, 20);
    await seed(s, 'ISSUER_F3B', 1);
    d.kick();
    await waitFor('the barrier notification sent', () => other.hits.length === 1 || undefined, 20_000, 10);
    expect(d.endpointState('ISSUER_F03')).toMatchObject({ limit: 1, inFlight: 1 });
    expect(r.hits.length - hitsBefore).toBe(1);
    firstAfterRecovery.open();
    // Rate: the endpoint's rate grows by one per success from rate0, so request i+1 starts at least
    // 1000 / (rate0 + i) ms after request i. Request 0 was held longer than its slot, so the gap from it
    // proves nothing; from request 1 to request 4 the three gaps add up to the sum for i = 1..3. A lower
    // bound: a slow machine only makes the gaps longer; a dispatcher ignoring the rate sends them at once.
    // The 50 ms margin covers arrival times (what the receiver records) jittering around start times.
    await waitFor('five requests after the trouble', () => r.hits.length >= hitsBefore + 5 || undefined, 30_000, 10);
    const after = r.hits.slice(hitsBefore);
    const atLeast = [1, 2, 3].reduce((sum, i) => sum + 1000 / (rate0 + i), 0);
    expect(after[4].at - after[1].at).toBeGreaterThanOrEqual(Math.floor(atLeast) - 50);
    await waitFor('all delivered', async () => (await outbox(s)).every((x) => x.state === 'delivered') || undefined, 30_000, 50);
    expect(new Set(r.hits.map((h) => h.id))).toEqual(new Set(ids));
    const recovered = d.endpointState('ISSUER_F03');
    expect(recovered?.limit).toBeGreaterThan(8);
    expect(recovered?.rate).toBeUndefined();
  });

  it('410: the endpoint is disabled and its notifications kept; a PUT of the issuer re-enables it and they arrive', async () => {
    const s = await setup();
    let gone = true;
    const r = await rx(() => (gone ? { status: 410 } : { status: 204 }));
    await issuer(s, 'ISSUER_F04', r.url);
    const ids = await seed(s, 'ISSUER_F04', 5);
    const other = await rx();
    await issuer(s, 'ISSUER_F4B', other.url);
    const clock = frozenClock();
    const d = dispatcher(s, { perIssuerConcurrency: 1, issuerRefreshMs: 50, now: clock.now });
    d.start();
    const disabledAt = () => s.db.selectFrom('issuers').select('endpoint_disabled_at').where('issuer_id', '=', 'ISSUER_F04').executeTakeFirstOrThrow();
    await waitFor('endpoint disabled', async () => (await disabledAt()).endpoint_disabled_at ?? undefined, 20_000, 20);
    // The 410 made the other four due at once; a barrier shows the dispatcher went round since: another
    // issuer's notification committed now is sent (and the issuers re-read, every 50 ms, meanwhile).
    await seed(s, 'ISSUER_F4B', 1);
    d.kick();
    await waitFor('the barrier notification delivered', async () => (await outbox(s)).find((x) => x.issuer_id === 'ISSUER_F4B' && x.state === 'delivered'), 20_000, 20);
    expect(r.hits).toHaveLength(1); // nothing more is sent to a gone endpoint
    expect((await outbox(s)).filter((x) => x.issuer_id === 'ISSUER_F04').map((x) => x.state)).toEqual(['pending', 'pending', 'pending', 'pending', 'pending']);
    gone = false;
    // Once the store has the 410, the store alone decides: the re-enable shows at the next re-read.
    await issuer(s, 'ISSUER_F04', r.url); // what PUT /admin/v1/issuers/{id} does
    await waitFor('all delivered', async () => (await outbox(s)).every((x) => x.state === 'delivered') || undefined, 20_000, 20);
    expect(new Set(r.hits.map((h) => h.headers['webhook-id']))).toEqual(new Set(ids));
  });

  // A hang is cut by the timeout (the error says so); a reset or a cut body is recorded as what it is,
  // without waiting for a timeout long enough that waiting for it could not go unnoticed.
  it.each([
    ['hang past the timeout', 'hang' as Fault, 300, /^timeout after 300 ms$/],
    ['connection reset', 'reset' as Fault, 30_000, /ECONNRESET|socket|closed/i],
    ['close mid-body', 'close-mid-body' as Fault, 30_000, /closed|terminated|socket|aborted/i],
  ])('%s: recorded as a network error and sent again later', async (_name, fault, timeoutMs, expected) => {
    const s = await setup();
    let failing = true;
    const r = await rx(() => (failing ? fault : { status: 204 }));
    await issuer(s, 'ISSUER_F05', r.url);
    const [id] = await seed(s, 'ISSUER_F05', 1);
    const d = dispatcher(s, { timeoutMs });
    expect(await d.runOnce()).toBe(1);
    const [row] = await outbox(s);
    expect(row.state).toBe('pending');
    const [a] = await attemptsOf(s, id);
    expect(a.http_status).toBeNull();
    expect(a.error).toMatch(expected);
    if (timeoutMs > 300) {
      expect(a.error).not.toMatch(/timeout/);
      expect(a.latency_ms).toBeLessThan(timeoutMs);
    }
    failing = false;
    await waitFor('retry', async () => (await d.runOnce()) > 0 || undefined, 20_000, 10);
    expect((await outbox(s))[0].state).toBe('delivered');
    expect(r.hits.map((h) => h.headers['webhook-id'])).toEqual([id, id]);
  });

  it('receiver down: connection refused is recorded, and the notification arrives once it is back', async () => {
    const s = await setup();
    const r = await rx();
    await r.down();
    await issuer(s, 'ISSUER_F06', r.url);
    const [id] = await seed(s, 'ISSUER_F06', 1);
    const d = dispatcher(s);
    await d.runOnce();
    const [a] = await attemptsOf(s, id);
    expect(a.error).toMatch(/ECONNREFUSED/);
    await r.up();
    await waitFor('retry', async () => (await d.runOnce()) > 0 || undefined, 20_000, 10);
    expect((await outbox(s))[0].state).toBe('delivered');
    expect(r.hits.map((h) => h.headers['webhook-id'])).toEqual([id]);
  });

  it('redirects are not followed', async () => {
    const s = await setup();
    const elsewhere = await rx();
    const r = await rx(() => ({ status: 307, headers: { location: `${elsewhere.url}/x` } }));
    await issuer(s, 'ISSUER_F07', r.url);
    const [id] = await seed(s, 'ISSUER_F07', 1);
    await dispatcher(s).runOnce();
    expect(elsewhere.hits).toHaveLength(0);
    expect((await attemptsOf(s, id))[0].http_status).toBe(307);
    expect((await outbox(s))[0].state).toBe('pending');
  });

  it('signs with every secret during a rotation (one v1 entry each)', async () => {
    const s = await setup();
    const r = await rx();
    const [newer, older] = [newWebhookSecret(), newWebhookSecret()];
    await issuer(s, 'ISSUER_F08', r.url, { secrets: [newer, older] });
    await seed(s, 'ISSUER_F08', 1);
    await dispatcher(s).runOnce();
    const [hit] = r.hits;
    expect(String(hit.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [newer, older]) expect(new Webhook(secret).verify(hit.body, hit.headers as Record<string, string>)).toBeTruthy();
  });

  it('batching: up to maxOperationsPerNotification operations per POST, the same batch and webhook-id on every retry', async () => {
    const s = await setup();
    const seen = new Map<string, number>();
    const r = await rx((h) => {
      const id = String(h.headers['webhook-id']);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      return seen.get(id) === 1 ? { status: 500 } : { status: 204 };
    });
    await issuer(s, 'ISSUER_F09', r.url, { maxOps: 3 });
    const ids = await seed(s, 'ISSUER_F09', 7);
    const d = dispatcher(s);
    await d.runOnce();
    await waitFor('retries', async () => {
      await d.runOnce();
      return (await outbox(s)).filter((x) => x.state === 'delivered').length === 3 || undefined;
    }, 20_000, 20);
    const bodies = new Map<string, string[]>();
    for (const h of r.hits) bodies.set(String(h.headers['webhook-id']), [...(bodies.get(String(h.headers['webhook-id'])) ?? []), h.body]);
    expect([...bodies.keys()]).toEqual([ids[0], ids[3], ids[6]]);
    for (const [, sent] of bodies) {
      expect(sent).toHaveLength(2);
      expect(sent[1]).toBe(sent[0]); // the retry carries exactly the same operations
    }
    const operationIds = (await outbox(s)).map((r) => r.operation_id);
    expect(JSON.parse(bodies.get(ids[0])?.[0] as string).operations.map((o: { operationId: string }) => o.operationId)).toEqual(operationIds.slice(0, 3));
    expect(JSON.parse(bodies.get(ids[6])?.[0] as string).operations).toHaveLength(1);
  });

  it('a 2xx is a delivery even when the body never ends: only its first 2 KB are read', async () => {
    const s = await setup();
    const r = await rx(() => 'endless-200');
    await issuer(s, 'ISSUER_F06', r.url);
    const [id] = await seed(s, 'ISSUER_F06', 1);
    // Reading the whole body would end only at the timeout, as a timeout: a delivery recorded with a
    // latency under it shows the hub stopped reading on its own.
    const timeoutMs = 30_000;
    const d = dispatcher(s, { timeoutMs });
    expect(await d.runOnce()).toBe(1);
    const [row] = await outbox(s);
    expect(row.state).toBe('delivered');
    const [a] = await attemptsOf(s, id);
    expect(a).toMatchObject({ http_status: 200, error: null });
    expect(a.latency_ms).toBeLessThan(timeoutMs);
    expect(a.response_body).toHaveLength(2048);
  });

  it.each([502, 503, 504, 'timeout'] as const)('%s slows the endpoint down; success grows it back', async (what) => {
    const s = await setup();
    let failing = true;
    const r = await rx(() => (!failing ? { status: 204 } : what === 'timeout' ? 'hang' : { status: what }));
    await issuer(s, 'ISSUER_SD1', r.url);
    await seed(s, 'ISSUER_SD1', 4);
    const d = dispatcher(s, { perIssuerConcurrency: 4, timeoutMs: 300, retryScheduleMs: [0, 0, 0] });
    await d.runOnce();
    expect(r.hits).toHaveLength(4);
    const slowed = d.endpointState('ISSUER_SD1');
    expect(slowed?.limit).toBe(1); // halved on each of the 4 failures: 4, 2, 1, 1
    expect(slowed?.rate).toBeDefined();
    failing = false;
    await waitFor('all delivered', async () => {
      await d.runOnce();
      return (await outbox(s)).every((row) => row.state === 'delivered') ? true : undefined;
    }, 10_000, 20);
    expect(d.endpointState('ISSUER_SD1')?.limit).toBeGreaterThan(1);
  });

  // The hung issuers' sends end only at a timeout far beyond every wait here: the fast issuer's
  // notifications all delivered while every slow slot is still taken and no slow send has ended proves
  // they did not wait for the slow ones, however long the machine took.
  const HUNG_TIMEOUT_MS = 120_000;
  const slowAttempts = async (s: TestStore, issuerIds: string[]) =>
    (await s.db.selectFrom('delivery_attempts').innerJoin('outbox', 'outbox.id', 'delivery_attempts.notification_id').select('outbox.id').where('outbox.issuer_id', 'in', issuerIds).execute()).length;
  const allDelivered = async (s: TestStore, issuerId: string, n: number) => {
    const rows = (await outbox(s)).filter((x) => x.issuer_id === issuerId);
    return (rows.length === n && rows.every((x) => x.state === 'delivered')) || undefined;
  };

  it('one slow issuer never delays the others', async () => {
    const s = await setup();
    const slow = await rx(() => 'hang');
    const fast = await rx();
    await issuer(s, 'ISSUER_SLW', slow.url);
    await issuer(s, 'ISSUER_FST', fast.url);
    await seed(s, 'ISSUER_SLW', 200);
    const d = dispatcher(s, { timeoutMs: HUNG_TIMEOUT_MS, perIssuerConcurrency: 16 });
    d.start();
    await waitFor('slow issuer saturated', () => (slow.state.inFlight >= 16 ? true : undefined), 20_000, 10);
    await seed(s, 'ISSUER_FST', 50);
    d.kick();
    await waitFor('fast issuer delivered', () => allDelivered(s, 'ISSUER_FST', 50), 20_000, 20);
    expect(fast.hits).toHaveLength(50);
    // The slow one still holds all its own slots and only them; none of its sends has ended.
    expect(slow.hits.length).toBe(16);
    expect(slow.state.inFlight).toBe(16);
    expect(d.endpointState('ISSUER_SLW')?.inFlight).toBe(16);
    expect(await slowAttempts(s, ['ISSUER_SLW'])).toBe(0);
  });

  it('two hung issuers never delay a third', async () => {
    const s = await setup();
    const slowA = await rx(() => 'hang');
    const slowB = await rx(() => 'hang');
    const fast = await rx();
    await issuer(s, 'ISSUER_SLA', slowA.url);
    await issuer(s, 'ISSUER_SLB', slowB.url);
    await issuer(s, 'ISSUER_FS3', fast.url);
    await seed(s, 'ISSUER_SLA', 100);
    await seed(s, 'ISSUER_SLB', 100);
    const d = dispatcher(s, { timeoutMs: HUNG_TIMEOUT_MS, perIssuerConcurrency: 16 });
    d.start();
    await waitFor('slow issuers saturated', () => (slowA.state.inFlight >= 16 && slowB.state.inFlight >= 16 ? true : undefined), 20_000, 10);
    await seed(s, 'ISSUER_FS3', 50);
    d.kick();
    await waitFor('fast issuer delivered', () => allDelivered(s, 'ISSUER_FS3', 50), 20_000, 20);
    expect(fast.hits).toHaveLength(50);
    for (const slow of [slowA, slowB]) {
      expect(slow.hits.length).toBe(16);
      expect(slow.state.inFlight).toBe(16);
    }
    expect(await slowAttempts(s, ['ISSUER_SLA', 'ISSUER_SLB'])).toBe(0);
  });

  it("one issuer's backlog drains without waiting for idle ticks while other issuers have nothing due", async () => {
    const s = await setup();
    const busy = await rx();
    const quietA = await rx();
    const quietB = await rx();
    await issuer(s, 'ISSUER_BSY', busy.url);
    await issuer(s, 'ISSUER_QTA', quietA.url);
    await issuer(s, 'ISSUER_QTB', quietB.url);
    const ids = await seed(s, 'ISSUER_BSY', 640);
    // An idle tick of a minute: 640 rows at 16 a claim need 40 claims, so a drain within the (much
    // shorter) wait below cannot have waited for a single tick; finished sends must have led to claims.
    const d = dispatcher(s, { perIssuerConcurrency: 16, idleWaitMs: 60_000 });
    d.start();
    await waitFor('backlog drained', () => allDelivered(s, 'ISSUER_BSY', 640), 30_000, 50);
    expect(new Set(busy.hits.map((h) => h.headers['webhook-id']))).toEqual(new Set(ids));
    expect(quietA.hits.length + quietB.hits.length).toBe(0);
  });

  it('OAuth2 client credentials: token cached, one refresh on a 401 then the POST retried; the secret never logged', async () => {
    const s = await setup();
    const tokenCalls: string[] = [];
    let issued = 0;
    const tokenServer: Server = createServer((req, res) => {
      tokenCalls.push(String(req.headers.authorization));
      issued++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: `tok-${issued}`, token_type: 'Bearer', expires_in: 3600 }));
    });
    await new Promise<void>((res) => tokenServer.listen(0, '127.0.0.1', () => res()));
    cleanups.push(() => new Promise((res) => tokenServer.close(res)));
    const tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/oauth/token`;
    let valid = 'tok-1';
    const r = await rx((h) => (h.headers.authorization === `Bearer ${valid}` ? { status: 204 } : { status: 401 }));
    const clientSecret = 'very-secret-client-secret-42';
    await issuer(s, 'ISSUER_OA1', r.url, { auth: { tokenUrl, clientId: 'hub', clientSecret } });
    const lines: string[] = [];
    const debugLog = pino({ level: 'trace' }, new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }));
    const d = dispatcher(s, { log: debugLog, perIssuerConcurrency: 1 });
    await seed(s, 'ISSUER_OA1', 3);
    for (let i = 0; i < 3; i++) await d.runOnce();
    expect(tokenCalls).toEqual([`Basic ${Buffer.from(`hub:${clientSecret}`).toString('base64')}`]); // cached
    valid = 'tok-2'; // the receiver revokes tok-1
    const [revokedCase] = await seed(s, 'ISSUER_OA1', 1);
    await d.runOnce();
    expect(tokenCalls).toHaveLength(2); // refreshed once
    expect((await attemptsOf(s, revokedCase)).map((a) => a.http_status)).toEqual([204]); // retried within the attempt
    valid = 'none-will-do';
    const [refused] = await seed(s, 'ISSUER_OA1', 1);
    await d.runOnce();
    expect(tokenCalls).toHaveLength(3); // still only one refresh per attempt
    expect((await attemptsOf(s, refused)).map((a) => a.http_status)).toEqual([401]);
    expect(r.hits.filter((h) => h.headers['webhook-id'] === refused)).toHaveLength(2);
    const logged = lines.join('') + JSON.stringify(await s.db.selectFrom('delivery_attempts').selectAll().execute());
    expect(logged).not.toContain(clientSecret);
  });

  it('mTLS: presents the issuer client certificate to an HTTPS receiver that requires one; without one, or with a stranger CA\'s, the handshake is refused', async () => {
    const s = await setup();
    const pki = makePki();
    cleanups.push(() => rmSync(pki.dir, { recursive: true, force: true }));
    const tls = { key: pki.serverKey, cert: pki.serverCert, ca: pki.caCert, requestCert: true, rejectUnauthorized: true };
    const r = await answeringReceiver(() => 204, tls);
    await issuer(s, 'ISSUER_TLS', r.url, { tls: { certificatePem: pki.clientCert, privateKeyPem: pki.clientKey, caPem: pki.caCert } });
    // Trusts the receiver (its CA) but has no client certificate at all: the Admin API always asks for
    // one with notificationTls, so this is written to the store as the agent would read it.
    await issuer(s, 'ISSUER_NOC', r.url, { tls: { caPem: pki.caCert } as NotificationTls });
    // A client certificate, but from a CA the receiver does not trust.
    await issuer(s, 'ISSUER_STR', r.url, { tls: { certificatePem: pki.strangerCert, privateKeyPem: pki.strangerKey, caPem: pki.caCert } });
    const [withCert] = await seed(s, 'ISSUER_TLS', 1);
    const [without] = await seed(s, 'ISSUER_NOC', 1);
    const [stranger] = await seed(s, 'ISSUER_STR', 1);
    expect(await dispatcher(s).runOnce()).toBe(3);
    expect((await attemptsOf(s, withCert))[0].http_status).toBe(204);
    // The receiver saw one request, from the trusted certificate; the others never got past the handshake.
    expect(r.hits.map((h) => [h.id, h.clientCn])).toEqual([[withCert, 'trackhub-client']]);
    // The receiver refused both in the TLS handshake: one for sending no certificate, one for a
    // certificate it cannot verify.
    await waitFor('both refusals reported by the receiver', () => r.tlsRefusals.length >= 2 || undefined, 20_000, 10);
    expect([...r.tlsRefusals].sort()).toEqual(['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
    // Under TLS 1.3 a client finishes its side of the handshake before the server judges its certificate,
    // so what the hub sees (and records) is the receiver closing the connection before any answer: a
    // closed socket, a reset or a TLS alert, depending on timing.
    for (const id of [without, stranger]) {
      const [refused] = await attemptsOf(s, id);
      expect(refused, id).toMatchObject({ http_status: null });
      expect(refused.error, id).toMatch(/other side closed|ECONNRESET|alert|certificate|socket/i);
      expect((await rowOf(s, id)).state, id).toBe('pending');
    }
  });

  it('SSRF guard at connect time: loopback, private, link-local, IPv6 loopback, IPv4-mapped and names resolving to loopback are refused', async () => {
    const s = await setup();
    const r = await rx();
    const targets: [string, string][] = [
      ['SSRF_00001', r.url],
      ['SSRF_00002', 'http://10.0.0.1'],
      ['SSRF_00003', 'http://169.254.169.254'],
      ['SSRF_00004', `http://[::1]:${r.port}`],
      ['SSRF_00005', `http://[::ffff:127.0.0.1]:${r.port}`],
      ['SSRF_00006', `http://localhost:${r.port}`],
    ];
    const ids: string[] = [];
    for (const [issuerId, url] of targets) {
      await issuer(s, issuerId, url); // written straight to the store: this is the connect-time check
      ids.push(...(await seed(s, issuerId, 1)));
    }
    // Refused before any connection: with a long timeout, a connection attempt to an unroutable private
    // address would end as a timeout, not as the guard's refusal.
    expect(await dispatcher(s, { allowPrivateTargets: false, timeoutMs: 30_000 }).runOnce()).toBe(ids.length);
    for (const id of ids) expect((await attemptsOf(s, id))[0].error, id).toMatch(/SSRF guard/);
    expect(r.hits).toHaveLength(0);
  });

  // A replay (Admin API) and a re-enable after a 410 (a PUT of the issuer) each start the retry schedule
  // afresh: the next failure waits the schedule's FIRST delay, not the one its attempt count would reach.
  // With a still clock and no jitter, that wait is exact: next_attempt_at = attempted_at + 100 ms.
  it.each([
    ['replayed while a long wait was ahead', [100, 3_600_000, 7_200_000], 2], // by count: 7 200 000
    ['replayed once dead', [100, 200], 3], // by count: no delay left, dead again
  ])('a notification %s waits the first retry delay after its next failure', async (_name, schedule, failuresBefore) => {
    const s = await setup();
    const r = await rx(() => ({ status: 500 }));
    await issuer(s, 'ISSUER_RPL', r.url);
    const [id] = await seed(s, 'ISSUER_RPL', 1);
    const clock = frozenClock();
    const d = dispatcher(s, { retryScheduleMs: schedule, random: () => 0.5, now: clock.now });
    expect(await d.runOnce()).toBe(1);
    while ((await attemptsOf(s, id)).length < failuresBefore) await waitFor('the next retry due', async () => (await d.runOnce()) > 0 || undefined, 20_000, 10);
    const before = await rowOf(s, id);
    if (failuresBefore <= schedule.length) {
      expect(before).toMatchObject({ state: 'pending', attempts: failuresBefore });
      expect(await waitAfterLastAttempt(s, id)).toBe(schedule[failuresBefore - 1]); // the long wait
    } else {
      expect(before).toMatchObject({ state: 'dead', attempts: failuresBefore });
    }
    expect(await replayNotification(s.db, id)).toBe(true);
    expect(await d.runOnce()).toBe(1);
    expect(await rowOf(s, id)).toMatchObject({ state: 'pending', attempts: failuresBefore + 1, schedule_offset: failuresBefore, last_error: 'HTTP 500' });
    expect(await waitAfterLastAttempt(s, id)).toBe(schedule[0]);
    expect((await attemptsOf(s, id)).map((a) => [a.attempt, a.http_status, ms(a.attempted_at)])).toEqual(
      Array.from({ length: failuresBefore + 1 }, (_, i) => [i + 1, 500, clock.ms]),
    );
  });

  it('an issuer replay of dead notifications restarts their schedule too', async () => {
    const s = await setup();
    const r = await rx(() => ({ status: 500 }));
    await issuer(s, 'ISSUER_RPI', r.url);
    const [id] = await seed(s, 'ISSUER_RPI', 1);
    const clock = frozenClock();
    const d = dispatcher(s, { retryScheduleMs: [100], random: () => 0.5, now: clock.now });
    expect(await d.runOnce()).toBe(1);
    await waitFor('the retry due', async () => (await d.runOnce()) > 0 || undefined, 20_000, 10);
    expect((await rowOf(s, id)).state).toBe('dead');
    expect(await replayIssuerSince(s.db, 'ISSUER_RPI', new Date(0))).toBe(1);
    expect(await d.runOnce()).toBe(1);
    expect(await rowOf(s, id)).toMatchObject({ state: 'pending', attempts: 3 });
    expect(await waitAfterLastAttempt(s, id)).toBe(100);
  });

  it('after a 410 and a PUT of the issuer, the next failure waits the first retry delay', async () => {
    const s = await setup();
    const answers = [500, 410]; // then 500 for good
    const r = await rx((_h, n) => ({ status: answers[n] ?? 500 }));
    await issuer(s, 'ISSUER_G01', r.url);
    const [id] = await seed(s, 'ISSUER_G01', 1);
    const clock = frozenClock();
    const schedule = [100, 3_600_000, 7_200_000];
    const d = dispatcher(s, { retryScheduleMs: schedule, random: () => 0.5, now: clock.now });
    expect(await d.runOnce()).toBe(1); // 500
    expect(await waitAfterLastAttempt(s, id)).toBe(100);
    await waitFor('the retry due', async () => (await d.runOnce()) > 0 || undefined, 20_000, 10); // 410
    expect(await rowOf(s, id)).toMatchObject({ state: 'pending', attempts: 2, schedule_offset: 2, last_error: 'HTTP 410' });
    expect(await waitAfterLastAttempt(s, id)).toBe(0); // due again at once, for when the endpoint is back
    const disabled = await s.db.selectFrom('issuers').select(['endpoint_disabled_at']).where('issuer_id', '=', 'ISSUER_G01').executeTakeFirstOrThrow();
    expect(disabled.endpoint_disabled_at).not.toBeNull();
    expect(await d.runOnce()).toBe(0); // due, but nothing goes to a disabled endpoint
    await issuer(s, 'ISSUER_G01', r.url); // what PUT /admin/v1/issuers/{id} does
    expect(await d.runOnce()).toBe(1); // 500
    expect(await rowOf(s, id)).toMatchObject({ state: 'pending', attempts: 3, last_error: 'HTTP 500' });
    expect(await waitAfterLastAttempt(s, id)).toBe(schedule[0]); // by count it would be 7 200 000
    expect(r.hits.map((h) => h.headers['webhook-id'])).toEqual([id, id, id]);
  });

  it('the lease outlasts the attempt (1.5 x timeout, whatever leaseMs says): no second worker claims a row in flight', async () => {
    const s = await setup();
    const held = gate();
    const r = await answeringReceiver(async (_id, n) => {
      if (n === 0) await held.opened;
      return 204;
    });
    await issuer(s, 'ISSUER_LSE', r.url);
    const [id] = await seed(s, 'ISSUER_LSE', 1);
    const timeoutMs = 20_000;
    const first = dispatcher(s, { leaseMs: 50, timeoutMs });
    const second = dispatcher(s, { leaseMs: 50, timeoutMs });
    const beforeClaim = await storeNow(s);
    const sending = first.runOnce();
    await waitFor('the request held by the receiver', () => r.hits.length === 1 || undefined, 20_000, 10);
    const arrived = await storeNow(s); // the claim was made before this
    // The claim leased the row for 1.5 x timeout, by the store's clock.
    expect(ms((await rowOf(s, id)).next_attempt_at)).toBeGreaterThanOrEqual(beforeClaim + 1.5 * timeoutMs);
    // Well past a 50 ms lease (waited for on the store's clock), the other worker finds nothing due.
    await waitFor('a 50 ms lease long over', async () => (await storeNow(s)) > arrived + 200 || undefined, 20_000, 20);
    expect(await second.runOnce()).toBe(0);
    held.open();
    expect(await sending).toBe(1);
    expect(await second.runOnce()).toBe(0);
    expect(r.hits.map((h) => h.id)).toEqual([id]);
    expect(await rowOf(s, id)).toMatchObject({ state: 'delivered', attempts: 1 });
    expect((await attemptsOf(s, id)).map((a) => a.http_status)).toEqual([204]);
  });
});

/** What the dispatcher writes down and tells operators for each kind of answer. */
describe(`delivery outcomes as recorded and reported (${KIND})`, () => {
  /** The attempts counter's value for one issuer and outcome (the registry is the process's, shared by every test). */
  const attemptsCounted = async (issuer: string, outcome: string) =>
    (await deliveryMetrics.outcomes.get()).values.find((v) => v.labels.issuer === issuer && v.labels.outcome === outcome)?.value ?? 0;
  const latencyOf = async (issuer: string) => {
    const values = (await deliveryMetrics.latency.get()).values.filter((v) => v.labels.issuer === issuer);
    return { count: values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0, sum: values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0 };
  };
  /** A logger whose lines the test reads. */
  const capturedLog = () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk))); cb(); } }));
    return { logger, lines };
  };

  it('a 2xx is a delivery from 200 to 299; a 300 is a failure, retried (redirects are not followed)', async () => {
    const s = await setup();
    const statusOf = new Map<string, number>();
    const r = await answeringReceiver((id) => statusOf.get(id) ?? 500);
    await issuer(s, 'ISSUER_O2X', r.url);
    const [a, b, c] = await seed(s, 'ISSUER_O2X', 3);
    statusOf.set(a, 200).set(b, 299).set(c, 300);
    expect(await dispatcher(s).runOnce()).toBe(3);
    expect((await outbox(s)).map((x) => [x.id, x.state, x.last_error])).toEqual([
      [a, 'delivered', null],
      [b, 'delivered', null],
      [c, 'pending', 'HTTP 300'],
    ]);
  });

  it('an endpoint slowed down grows back on 200s, and not on 300s', async () => {
    const s = await setup();
    let answer = 503;
    const r = await answeringReceiver(() => answer);
    await issuer(s, 'ISSUER_OGB', r.url);
    await seed(s, 'ISSUER_OGB', 4);
    const d = dispatcher(s, { perIssuerConcurrency: 4, retryScheduleMs: Array(20).fill(0) });
    await d.runOnce();
    expect(d.endpointState('ISSUER_OGB')?.limit).toBe(1);
    answer = 300; // neither a success nor a sign of overload: the limit stays where it is
    for (let i = 0; i < 4; i++) await d.runOnce();
    expect(d.endpointState('ISSUER_OGB')?.limit).toBe(1);
    answer = 200;
    await waitFor('all delivered', async () => {
      await d.runOnce();
      return (await outbox(s)).every((row) => row.state === 'delivered') || undefined;
    }, 10_000, 20);
    expect(d.endpointState('ISSUER_OGB')?.limit).toBeGreaterThan(1);
  });

  it('never has more sends in flight than its concurrency, round after round', async () => {
    const s = await setup();
    const held = gate();
    const r = await answeringReceiver(async () => {
      await held.opened;
      return 204;
    });
    await issuer(s, 'ISSUER_OCC', r.url);
    await seed(s, 'ISSUER_OCC', 6);
    const d = dispatcher(s, { concurrency: 2, perIssuerConcurrency: 10 });
    d.start();
    await waitFor('two requests held by the receiver', () => r.hits.length === 2 || undefined, 20_000, 10);
    // Rounds go on every 20 ms (idleWaitMs) while both slots are taken: none may claim more. However
    // slow the machine, a correct dispatcher cannot fail this; one that lost count sends the other 4.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.hits).toHaveLength(2);
    held.open();
    await waitFor('all delivered', async () => (await outbox(s)).every((x) => x.state === 'delivered') || undefined, 20_000, 20);
    expect(r.hits).toHaveLength(6);
    expect(r.state.maxInFlight).toBe(2);
  });

  it('counts each outcome per issuer in the metrics, and times attempts in seconds', async () => {
    const s = await setup();
    const statusOf = new Map<string, number>();
    const r = await answeringReceiver((id) => statusOf.get(id) ?? 204);
    await issuer(s, 'ISSUER_OMX', r.url);
    await issuer(s, 'ISSUER_OMG', r.url);
    const [delivered, failing, dying] = await seed(s, 'ISSUER_OMX', 3);
    const [gone] = await seed(s, 'ISSUER_OMG', 1);
    statusOf.set(failing, 500).set(dying, 500).set(gone, 410);
    const before = {
      delivered: await attemptsCounted('ISSUER_OMX', 'delivered'),
      retry: await attemptsCounted('ISSUER_OMX', 'retry'),
      dead: await attemptsCounted('ISSUER_OMX', 'dead'),
      disabled: await attemptsCounted('ISSUER_OMG', 'endpoint_disabled'),
      latency: await latencyOf('ISSUER_OMX'),
    };
    // The one that dies does so at its first failure: it was replayed at the end of its schedule.
    await s.db.updateTable('outbox').set({ attempts: 1 }).where('id', '=', dying).execute();
    expect(await dispatcher(s, { retryScheduleMs: [60_000] }).runOnce()).toBe(4);
    expect(await attemptsCounted('ISSUER_OMX', 'delivered')).toBe(before.delivered + 1);
    expect(await attemptsCounted('ISSUER_OMX', 'retry')).toBe(before.retry + 1);
    expect(await attemptsCounted('ISSUER_OMX', 'dead')).toBe(before.dead + 1);
    expect(await attemptsCounted('ISSUER_OMG', 'endpoint_disabled')).toBe(before.disabled + 1);
    const latency = await latencyOf('ISSUER_OMX');
    expect(latency.count).toBe(before.latency.count + 3);
    // Seconds: three loopback answers take well under a minute, and more than nothing.
    expect(latency.sum - before.latency.sum).toBeGreaterThan(0);
    expect(latency.sum - before.latency.sum).toBeLessThan(60);
    expect(await rowOf(s, dying)).toMatchObject({ state: 'dead' });
    expect(await rowOf(s, delivered)).toMatchObject({ state: 'delivered' });
  });

  it('says which notification died and why, and which endpoint answered 410 (stored as the reason)', async () => {
    const s = await setup();
    const statusOf = new Map<string, number>();
    const r = await answeringReceiver((id) => statusOf.get(id) ?? 204);
    await issuer(s, 'ISSUER_OLD', r.url);
    await issuer(s, 'ISSUER_OLG', r.url);
    const [dying] = await seed(s, 'ISSUER_OLD', 1);
    const [gone] = await seed(s, 'ISSUER_OLG', 1);
    statusOf.set(dying, 500).set(gone, 410);
    const { logger, lines } = capturedLog();
    expect(await dispatcher(s, { log: logger, retryScheduleMs: [] }).runOnce()).toBe(2);
    expect(lines.filter((l) => l.level === 40).map(({ msg, notificationId, issuerId, reason }) => ({ msg, notificationId, issuerId, reason }))).toEqual(
      expect.arrayContaining([
        { msg: 'notification dead after last attempt', notificationId: dying, issuerId: 'ISSUER_OLD', reason: 'HTTP 500' },
        { msg: 'issuer endpoint answered 410 Gone: disabled until the issuer is updated; notifications kept', notificationId: undefined, issuerId: 'ISSUER_OLG', reason: undefined },
      ]),
    );
    const stored = await s.db.selectFrom('issuers').select(['endpoint_disabled_at', 'endpoint_disabled_reason']).where('issuer_id', '=', 'ISSUER_OLG').executeTakeFirstOrThrow();
    expect(stored.endpoint_disabled_at).not.toBeNull();
    expect(stored.endpoint_disabled_reason).toBe('HTTP 410 Gone');
  });

  it('stores an answer holding NUL characters without them (PostgreSQL text cannot hold one)', async () => {
    const s = await setup();
    const r = await rx(() => ({ status: 500, body: 'be\u0000fore\u0000' }));
    await issuer(s, 'ISSUER_ONU', r.url);
    const [id] = await seed(s, 'ISSUER_ONU', 1);
    expect(await dispatcher(s).runOnce()).toBe(1);
    expect((await attemptsOf(s, id)).map((a) => a.response_body)).toEqual(['before']);
  });
});
