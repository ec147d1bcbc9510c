import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher, type DispatcherOptions, parseRetryAfter } from '../src/delivery/dispatcher.ts';
import { newWebhookSecret } from '../src/delivery/signing.ts';
import { createLogger } from '../src/logger.ts';
import { type NotificationTls, upsertIssuer } from '../src/store/issuers.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { type Fault, faultReceiver } from './helpers/faults.ts';
import { waitFor } from './helpers/processes.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

// Delivery behaviour does not depend on the store; PostgreSQL when CI has it (faster to create).
const KIND = STORE_KINDS.at(-1) as (typeof STORE_KINDS)[number];
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

const outbox = (s: TestStore) => s.db.selectFrom('outbox').selectAll().orderBy('id').execute();
const attemptsOf = (s: TestStore, id: string) => s.db.selectFrom('delivery_attempts').selectAll().where('notification_id', '=', id).orderBy('attempt').execute();

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
    await waitFor('retry', async () => (await d.runOnce()) > 0 || undefined, 2000, 10);
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
    // random = 0.5: no jitter, so the scheduled delay is exactly 2 s.
    const d = dispatcher(s, { retryScheduleMs: [2000], random: () => 0.5 });
    expect(await d.runOnce()).toBe(3);
    const rows = await outbox(s);
    const waits = await Promise.all(rows.map(async (row) => {
      const [a] = await attemptsOf(s, row.id);
      return new Date(row.next_attempt_at).getTime() - new Date(a.attempted_at).getTime();
    }));
    expect(rows.map((x) => x.id)).toEqual(ids);
    expect(waits[0]).toBeGreaterThan(2900);
    expect(waits[0]).toBeLessThan(3500);
    expect(waits[1]).toBeGreaterThan(3900);
    expect(waits[1]).toBeLessThan(4500);
    expect(waits[2]).toBeGreaterThan(1900);
    expect(waits[2]).toBeLessThan(2500);
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
    const r = await rx(() => (troubled ? { status: 429, delayMs: 100 } : { status: 204, delayMs: 20 }));
    await issuer(s, 'ISSUER_F03', r.url);
    await seed(s, 'ISSUER_F03', 60);
    const d = dispatcher(s, { perIssuerConcurrency: 16, retryScheduleMs: Array(20).fill(20) });
    await d.runOnce(); // 16 sent at once, 16 answered 429
    expect(r.state.maxInFlight).toBe(16);
    const slowed = d.endpointState('ISSUER_F03');
    expect(slowed?.limit).toBe(1);
    expect(slowed?.rate).toBeLessThanOrEqual(2);
    troubled = false;
    r.state.maxInFlight = 0;
    const hitsBefore = r.hits.length;
    d.start();
    await new Promise((res) => setTimeout(res, 1000));
    // Slowed: within the first second only a handful of requests, one at a time.
    expect(r.hits.length - hitsBefore).toBeLessThan(8);
    expect(r.state.maxInFlight).toBe(1);
    await waitFor('all delivered', async () => (await outbox(s)).every((x) => x.state === 'delivered') || undefined, 20_000, 50);
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
    const d = dispatcher(s, { perIssuerConcurrency: 1, issuerRefreshMs: 50 });
    d.start();
    await waitFor('endpoint disabled', async () => (await s.db.selectFrom('issuers').select('endpoint_disabled_at').executeTakeFirstOrThrow()).endpoint_disabled_at ?? undefined, 5000, 20);
    await new Promise((res) => setTimeout(res, 400));
    const hits = r.hits.length;
    expect(hits).toBe(1); // nothing more is sent to a gone endpoint
    expect((await outbox(s)).map((x) => x.state)).toEqual(['pending', 'pending', 'pending', 'pending', 'pending']);
    gone = false;
    await issuer(s, 'ISSUER_F04', r.url); // what PUT /admin/v1/issuers/{id} does
    await waitFor('all delivered', async () => (await outbox(s)).every((x) => x.state === 'delivered') || undefined, 5000, 20);
    expect(new Set(r.hits.map((h) => h.headers['webhook-id']))).toEqual(new Set(ids));
  });

  it.each([
    ['hang past the timeout', 'hang' as Fault, /timeout after 300 ms/],
    ['connection reset', 'reset' as Fault, /ECONNRESET|socket|closed/i],
    ['close mid-body', 'close-mid-body' as Fault, /closed|terminated|socket|aborted/i],
  ])('%s: recorded as a network error and sent again later', async (_name, fault, expected) => {
    const s = await setup();
    let failing = true;
    const r = await rx(() => (failing ? fault : { status: 204 }));
    await issuer(s, 'ISSUER_F05', r.url);
    const [id] = await seed(s, 'ISSUER_F05', 1);
    const d = dispatcher(s, { timeoutMs: 300 });
    const t0 = Date.now();
    await d.runOnce();
    expect(Date.now() - t0).toBeLessThan(2000);
    const [row] = await outbox(s);
    expect(row.state).toBe('pending');
    const [a] = await attemptsOf(s, id);
    expect(a.http_status).toBeNull();
    expect(a.error).toMatch(expected);
    failing = false;
    await waitFor('retry', async () => (await d.runOnce()) > 0 || undefined, 2000, 10);
    expect((await outbox(s))[0].state).toBe('delivered');
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
    await waitFor('retry', async () => (await d.runOnce()) > 0 || undefined, 2000, 10);
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
    }, 3000, 20);
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
    const d = dispatcher(s, { timeoutMs: 2000 });
    const t0 = Date.now();
    await d.runOnce();
    expect(Date.now() - t0).toBeLessThan(1500);
    const [row] = await outbox(s);
    expect(row.state).toBe('delivered');
    const [a] = await attemptsOf(s, id);
    expect(a).toMatchObject({ http_status: 200, error: null });
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

  it('one slow issuer never delays the others', async () => {
    const s = await setup();
    const slow = await rx(() => 'hang');
    const fast = await rx();
    await issuer(s, 'ISSUER_SLW', slow.url);
    await issuer(s, 'ISSUER_FST', fast.url);
    await seed(s, 'ISSUER_SLW', 200);
    const d = dispatcher(s, { timeoutMs: 10_000, perIssuerConcurrency: 16 });
    d.start();
    await waitFor('slow issuer saturated', () => (slow.state.inFlight >= 16 ? true : undefined), 5000, 10);
    const t0 = Date.now();
    await seed(s, 'ISSUER_FST', 50);
    d.kick();
    await waitFor('fast issuer served', () => (fast.hits.length === 50 ? true : undefined), 5000, 5);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(slow.hits.length).toBe(16); // the slow one still holds only its own slots
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
    const d = dispatcher(s, { timeoutMs: 10_000, perIssuerConcurrency: 16 });
    d.start();
    await waitFor('slow issuers saturated', () => (slowA.state.inFlight >= 16 && slowB.state.inFlight >= 16 ? true : undefined), 5000, 10);
    const t0 = Date.now();
    await seed(s, 'ISSUER_FS3', 50);
    d.kick();
    await waitFor('fast issuer served', () => (fast.hits.length === 50 ? true : undefined), 5000, 5);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it("one issuer's backlog drains without waiting for idle ticks while other issuers have nothing due", async () => {
    const s = await setup();
    const busy = await rx();
    const quietA = await rx();
    const quietB = await rx();
    await issuer(s, 'ISSUER_BSY', busy.url);
    await issuer(s, 'ISSUER_QTA', quietA.url);
    await issuer(s, 'ISSUER_QTB', quietB.url);
    await seed(s, 'ISSUER_BSY', 640);
    // A long idle tick: if only ticks claimed more, 640 rows at 16 a claim would take 40 ticks (20 s).
    const d = dispatcher(s, { perIssuerConcurrency: 16, idleWaitMs: 500 });
    const t0 = Date.now();
    d.start();
    await waitFor('backlog drained', () => (busy.hits.length >= 640 ? true : undefined), 15_000, 10);
    expect(Date.now() - t0).toBeLessThan(5000);
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

  it('mTLS: presents the issuer client certificate to an HTTPS receiver that requires one', async () => {
    const s = await setup();
    const pki = makePki();
    cleanups.push(() => rmSync(pki.dir, { recursive: true, force: true }));
    const tls = { key: pki.serverKey, cert: pki.serverCert, ca: pki.caCert, requestCert: true, rejectUnauthorized: true };
    const r = await rx(undefined, tls);
    await issuer(s, 'ISSUER_TLS', r.url, { tls: { certificatePem: pki.clientCert, privateKeyPem: pki.clientKey, caPem: pki.caCert } });
    await issuer(s, 'ISSUER_NOC', r.url, { tls: { certificatePem: pki.clientCert, privateKeyPem: pki.clientKey, caPem: pki.caCert } });
    await s.db.updateTable('issuers').set({ notification_tls: JSON.stringify({ certificatePem: '', privateKeyPem: '', caPem: pki.caCert }) }).where('issuer_id', '=', 'ISSUER_NOC').execute();
    const [withCert] = await seed(s, 'ISSUER_TLS', 1);
    const [without] = await seed(s, 'ISSUER_NOC', 1);
    await dispatcher(s).runOnce();
    expect((await attemptsOf(s, withCert))[0].http_status).toBe(204);
    expect(r.hits.map((h) => h.clientCn)).toEqual(['trackhub-client']);
    const [refused] = await attemptsOf(s, without);
    expect(refused.http_status).toBeNull();
    expect(refused.error).toBeTruthy();
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
    const t0 = Date.now();
    await dispatcher(s, { allowPrivateTargets: false }).runOnce();
    expect(Date.now() - t0).toBeLessThan(3000);
    for (const id of ids) expect((await attemptsOf(s, id))[0].error, id).toMatch(/SSRF guard/);
    expect(r.hits).toHaveLength(0);
  });

  it('prunes attempts older than 30 days of delivered notifications only', async () => {
    const s = await setup();
    await issuer(s, 'ISSUER_PRN', 'http://127.0.0.1:9');
    const [delivered, dead] = await seed(s, 'ISSUER_PRN', 2);
    await s.db.updateTable('outbox').set({ state: 'delivered' }).where('id', '=', delivered).execute();
    await s.db.updateTable('outbox').set({ state: 'dead' }).where('id', '=', dead).execute();
    const old = new Date(Date.now() - 31 * 86_400_000);
    const recent = new Date(Date.now() - 29 * 86_400_000);
    await s.db.insertInto('delivery_attempts').values([
      { notification_id: delivered, attempt: 1, attempted_at: old, http_status: 500, error: null, latency_ms: 1, response_body: null },
      { notification_id: delivered, attempt: 2, attempted_at: recent, http_status: 204, error: null, latency_ms: 1, response_body: null },
      { notification_id: dead, attempt: 1, attempted_at: old, http_status: 500, error: null, latency_ms: 1, response_body: null },
    ]).execute();
    expect(await dispatcher(s).pruneAttempts()).toBe(1);
    const left = await s.db.selectFrom('delivery_attempts').select(['notification_id', 'attempt']).orderBy('notification_id').orderBy('attempt').execute();
    expect(left).toEqual([{ notification_id: delivered, attempt: 2 }, { notification_id: dead, attempt: 1 }]);
  });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makePki() {
  const dir = mkdtempSync(join(tmpdir(), 'trackhub-pki-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca');
  for (const [name, cn, ext] of [['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1'], ['client', 'trackhub-client', 'extendedKeyUsage=clientAuth']]) {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { dir, caCert: read('ca.crt'), serverKey: read('server.key'), serverCert: read('server.crt'), clientKey: read('client.key'), clientCert: read('client.crt') };
}
