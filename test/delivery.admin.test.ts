import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/delivery/dispatcher.ts';
import { createLogger } from '../src/logger.ts';
import { getIssuer } from '../src/store/issuers.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { faultReceiver } from './helpers/faults.ts';
import { issuerKey } from './helpers/issuer.ts';
import { runCli } from './helpers/processes.ts';

// PostgreSQL only: these tests need what the external server offers (two processes, LISTEN, connection loss).
const KIND = 'postgres' as const;
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function putIssuer(app: TestApp['app'], issuerId: string, body: Record<string, unknown>) {
  const key = await issuerKey();
  return app.inject({ method: 'PUT', url: `/admin/v1/issuers/${issuerId}`, headers: auth, payload: { name: 'Bank', notificationBaseUrl: 'https://bank.example', jwks: { keys: [key.publicJwk] }, ...body } });
}

/** Outbox rows in every state, as the dispatcher leaves them. */
async function seedStates(app: TestApp) {
  const db = app.store.db;
  await putIssuer(app.app, 'ISSUER_AD1', {});
  await putIssuer(app.app, 'ISSUER_AD2', {});
  const rows = Array.from({ length: 7 }, (_, i) => ({
    id: `msg_${String(i + 1).padStart(4, '0')}`, issuer_id: i < 5 ? 'ISSUER_AD1' : 'ISSUER_AD2', operation_id: `op_${i + 1}`, sequence_number: 1,
    correlation_id: `corr_${i + 1}`, payload: JSON.stringify({ operationId: `op_${i + 1}`, sequenceNumber: 1 }),
  }));
  await insertOutbox(db, rows);
  // msg_0001 delivered; msg_0002, msg_0003 dead; msg_0004 head of a batch carrying msg_0005; msg_0006, msg_0007 dead (AD2)
  await db.updateTable('outbox').set({ state: 'delivered', attempts: 1, delivered_at: new Date() }).where('id', '=', 'msg_0001').execute();
  await db.updateTable('outbox').set({ state: 'dead', attempts: 10, last_error: 'HTTP 500' }).where('id', 'in', ['msg_0002', 'msg_0003', 'msg_0006', 'msg_0007']).execute();
  await db.updateTable('outbox').set({ batch_id: 'msg_0004' }).where('id', 'in', ['msg_0004', 'msg_0005']).execute();
  await db.updateTable('outbox').set({ state: 'batched' }).where('id', '=', 'msg_0005').execute();
  await db.insertInto('delivery_attempts').values([
    { notification_id: 'msg_0002', attempt: 1, http_status: 500, error: null, latency_ms: 12, response_body: 'boom' },
    { notification_id: 'msg_0002', attempt: 2, http_status: null, error: 'ECONNREFUSED: connect ECONNREFUSED', latency_ms: 1, response_body: null },
  ]).execute();
}

describe(`notification admin API (${KIND})`, () => {
  it('refuses notification URLs on private addresses at registration (FIELD_INVALID_VALUE), unless allowed', async () => {
    t = await testApp(KIND);
    for (const url of ['http://127.0.0.1:8080', 'http://10.0.0.1', 'http://169.254.169.254', 'http://[::1]', 'http://[::ffff:127.0.0.1]', 'http://localhost:9000', 'http://100.64.0.1', 'http://[fe80::1]', 'http://[fd00::1]', 'http://0.0.0.0', 'http://224.0.0.1']) {
      const res = await putIssuer(t.app, 'ISSUER_SS1', { notificationBaseUrl: url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json(), url).toMatchObject({ errorCode: 'FIELD_INVALID_VALUE', error: expect.stringMatching(/^notificationBaseUrl: .*SSRF guard/) });
    }
    const token = await putIssuer(t.app, 'ISSUER_SS1', { notificationAuth: { tokenUrl: 'http://127.0.0.1/token', clientId: 'a', clientSecret: 'b' } });
    expect(token.json()).toMatchObject({ errorCode: 'FIELD_INVALID_VALUE', error: expect.stringMatching(/^notificationAuth.tokenUrl: /) });
    expect((await putIssuer(t.app, 'ISSUER_SS1', { notificationBaseUrl: 'https://bank.example' })).statusCode).toBe(201);
    await t.close();
    t = await testApp(KIND, { TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' });
    expect((await putIssuer(t.app, 'ISSUER_SS1', { notificationBaseUrl: 'http://127.0.0.1:8080' })).statusCode).toBe(201);
  });

  it('refuses names that would print differently than they read, and a JWK that is not a point on P-256', async () => {
    t = await testApp(KIND);
    const why = 'name: must not hold control, invisible or bidirectional formatting characters, or line separators';
    for (const name of ['Bank\u2028Two', 'Bank \u202eknaB', 'Bank\u2066x', 'Bank\u0085', 'Bank\u200btwo', '\ufeffBank', 'Bank\u200fx', 'Bank\u{e0041}', 'Bank\u3164']) {
      const issuer = await putIssuer(t.app, 'ISSUER_NM1', { name });
      expect(issuer.statusCode, JSON.stringify(name)).toBe(400);
      expect(issuer.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: why });
      const site = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/SITE-NM1', headers: auth, payload: { name } });
      expect(site.statusCode, JSON.stringify(name)).toBe(400);
      expect(site.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: why });
    }
    for (const [name, error] of [['   ', 'name: must not be blank'], ['Bank two\u00a0', 'name: must not start or end with spaces'], [' Bank', 'name: must not start or end with spaces']]) {
      expect((await putIssuer(t.app, 'ISSUER_NM1', { name })).json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error });
    }
    // Joiners stay: Persian and emoji sequences need them.
    expect((await putIssuer(t.app, 'ISSUER_NM1', { name: 'Banque Générale \ud83c\udfe6 \u0628\u200c\u0627\u0646\u06a9 \ud83d\udc68\u200d\ud83d\udc69' })).statusCode).toBe(201);
    const key = await issuerKey();
    const offCurve = { ...key.publicJwk, x: key.publicJwk.y, y: key.publicJwk.x };
    const res = await putIssuer(t.app, 'ISSUER_NM2', { jwks: { keys: [key.publicJwk, { ...offCurve, kid: 'other' }] } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: 'jwks.keys[1]: x and y are not a point on P-256 (base64url of 32 bytes each)' });
  });

  it('rotates the webhook secret: both sign during the overlap, and retirePreviousSecret ends it', async () => {
    const app = await testApp(KIND);
    t = app;
    const first = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    const second = `whsec_${Buffer.alloc(24, 2).toString('base64')}`;
    expect((await putIssuer(t.app, 'ISSUER_RT1', { webhookSecret: first })).statusCode).toBe(201);
    await putIssuer(t.app, 'ISSUER_RT1', { webhookSecret: second });
    // Read through the store (secrets are stored sealed, test/secrets.test.ts).
    const secrets = async () => (await getIssuer(app.store.db, 'ISSUER_RT1'))?.webhookSecrets;
    expect(await secrets()).toEqual([second, first]);
    const during = await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/ISSUER_RT1', headers: auth });
    expect(during.json().webhookSecretCount).toBe(2);
    expect(during.body).not.toContain(first.slice(6));
    await putIssuer(t.app, 'ISSUER_RT1', { retirePreviousSecret: true });
    expect(await secrets()).toEqual([second]);
    // Leaving webhookSecret out keeps the current one; the same secret again starts no rotation.
    await putIssuer(t.app, 'ISSUER_RT1', { webhookSecret: second });
    expect(await secrets()).toEqual([second]);
  });

  it('stores an mTLS client certificate; the private key is never returned', async () => {
    t = await testApp(KIND);
    const dir = mkdtempSync(join(tmpdir(), 'trackhub-cert-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=hub'], { cwd: dir, stdio: 'pipe' });
      const certificatePem = readFileSync(join(dir, 'c.pem'), 'utf8');
      const privateKeyPem = readFileSync(join(dir, 'k.pem'), 'utf8');
      const created = await putIssuer(t.app, 'ISSUER_TL1', { notificationTls: { certificatePem, privateKeyPem } });
      expect(created.statusCode).toBe(201);
      const read = await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/ISSUER_TL1', headers: auth });
      expect(read.json().notificationTls).toEqual({ certificatePem, hasCa: false });
      for (const body of [created.body, read.body]) expect(body).not.toContain('PRIVATE KEY');
      const mismatch = await putIssuer(t.app, 'ISSUER_TL1', { notificationTls: { certificatePem, privateKeyPem: 'not a key' } });
      expect(mismatch.json()).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: 'notificationTls.privateKeyPem: is not a PEM private key' });
      // A PUT that does not name notificationTls (a secret rotation, say) keeps the certificate and key.
      expect((await putIssuer(t.app, 'ISSUER_TL1', { webhookSecret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` })).statusCode).toBe(200);
      const kept = await getIssuer(t.store.db, 'ISSUER_TL1');
      expect(kept?.notificationTls).toEqual({ certificatePem, privateKeyPem });
      const explicitNull = await putIssuer(t.app, 'ISSUER_TL1', { notificationTls: null });
      expect(explicitNull.statusCode, explicitNull.body).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/ISSUER_TL1', headers: auth })).json().notificationTls ?? null).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows a 410-disabled endpoint on the issuer, and a PUT re-enables it', async () => {
    t = await testApp(KIND);
    await putIssuer(t.app, 'ISSUER_GN1', {});
    await t.store.db.updateTable('issuers').set({ endpoint_disabled_at: new Date(), endpoint_disabled_reason: 'HTTP 410 Gone' }).execute();
    const read = await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/ISSUER_GN1', headers: auth });
    expect(read.json().endpoint).toMatchObject({ state: 'disabled', reason: 'HTTP 410 Gone' });
    await putIssuer(t.app, 'ISSUER_GN1', {});
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/ISSUER_GN1', headers: auth })).json().endpoint).toEqual({ state: 'enabled' });
  });

  it('lists notifications by state and issuer with a stable cursor; batched operations appear inside their notification', async () => {
    t = await testApp(KIND);
    await seedStates(t);
    const list = async (qs: string) => {
      const res = await t?.app.inject({ method: 'GET', url: `/admin/v1/notifications${qs}`, headers: auth });
      expect(res?.statusCode, res?.body).toBe(200);
      return res?.json() as { notifications: { id: string; state: string; operationIds: string[] }[]; nextCursor: string | null };
    };
    expect((await list('?state=dead')).notifications.map((n) => n.id)).toEqual(['msg_0002', 'msg_0003', 'msg_0006', 'msg_0007']);
    expect((await list('?state=dead&issuerId=ISSUER_AD2')).notifications.map((n) => n.id)).toEqual(['msg_0006', 'msg_0007']);
    const pending = await list('?state=pending');
    expect(pending.notifications).toEqual([expect.objectContaining({ id: 'msg_0004', operationIds: ['op_4', 'op_5'] })]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.notifications.length).toBeLessThanOrEqual(2);
      seen.push(...page.notifications.map((n) => n.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['msg_0001', 'msg_0002', 'msg_0003', 'msg_0004', 'msg_0006', 'msg_0007']);
    const bad = await t.app.inject({ method: 'GET', url: '/admin/v1/notifications?state=lost', headers: auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errorCode).toBe('FIELD_INVALID_FORMAT');
    const badCursor = await t.app.inject({ method: 'GET', url: '/admin/v1/notifications?cursor=%%%', headers: auth });
    expect(badCursor.statusCode).toBe(400);
    // A well-formed cursor naming what is no notification id is refused before any query.
    const forged = Buffer.from(JSON.stringify(["msg' or 1=1 --"])).toString('base64url');
    const forgedCursor = await t.app.inject({ method: 'GET', url: `/admin/v1/notifications?cursor=${forged}`, headers: auth });
    expect(forgedCursor.statusCode).toBe(400);
    expect(forgedCursor.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'cursor: is not a cursor this API returned' });
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/notifications' })).statusCode).toBe(401);
  });

  it('reads one notification with its operations and attempt log', async () => {
    t = await testApp(KIND);
    await seedStates(t);
    const res = await t.app.inject({ method: 'GET', url: '/admin/v1/notifications/msg_0002', headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: 'msg_0002', issuerId: 'ISSUER_AD1', state: 'dead', attempts: 10, lastError: 'HTTP 500',
      operations: [{ operationId: 'op_2', sequenceNumber: 1 }],
      attemptLog: [
        { attempt: 1, httpStatus: 500, error: null, latencyMs: 12, responseBody: 'boom' },
        { attempt: 2, httpStatus: null, error: 'ECONNREFUSED: connect ECONNREFUSED', latencyMs: 1, responseBody: null },
      ],
    });
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/notifications/msg_0005', headers: auth })).statusCode).toBe(404); // a batched member
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/notifications/nope', headers: auth })).json()).toEqual({ errorCode: 'NOT_FOUND', error: 'no such notification' });
  });

  it('answers malformed ids and parameters with the contract error body, never a 500', async () => {
    t = await testApp(KIND);
    await seedStates(t);
    const long = 'x'.repeat(300);
    for (const [method, url] of [
      ['GET', '/admin/v1/notifications?issuerId=%00'],
      ['GET', '/admin/v1/notifications?issuerId=ISSUER_AD1%00'],
      ['GET', '/admin/v1/notifications/%00'],
      ['POST', '/admin/v1/notifications/%00/replay'],
      ['GET', `/admin/v1/notifications/${long}`],
      ['GET', '/admin/v1/notifications/%E0%A4%A'],
      ['GET', '/admin/v1/operations?cardId=%00'],
      ['GET', '/admin/v1/operations?issuerId=%00'],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: auth });
      expect(res.statusCode, url).toBe(400);
      expect(res.json(), url).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.any(String) });
    }
    const nul = await t.app.inject({ method: 'POST', url: '/admin/v1/issuers/ISSUER_AD1/replay', headers: auth, payload: { since: '2026-01-01\u0000' } });
    expect(nul.statusCode).toBe(400);
  });

  it('replays one notification (same id, fresh schedule) and an issuer\'s dead ones since a time', async () => {
    t = await testApp(KIND);
    await seedStates(t);
    const db = t.store.db;
    const one = await t.app.inject({ method: 'POST', url: '/admin/v1/notifications/msg_0002/replay', headers: auth });
    expect(one.statusCode).toBe(202);
    expect(one.json()).toEqual({ id: 'msg_0002', state: 'pending', replayed: true });
    const row = await db.selectFrom('outbox').selectAll().where('id', '=', 'msg_0002').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ state: 'pending', attempts: 10, schedule_offset: 10, last_error: null });
    expect(new Date(row.next_attempt_at).getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    expect((await t.app.inject({ method: 'POST', url: '/admin/v1/notifications/msg_9999/replay', headers: auth })).statusCode).toBe(404);

    const since = new Date(Date.now() - 60_000).toISOString();
    const all = await t.app.inject({ method: 'POST', url: '/admin/v1/issuers/ISSUER_AD1/replay', headers: auth, payload: { since } });
    expect(all.json()).toEqual({ replayed: 1 }); // msg_0003: msg_0002 is already pending, msg_0001 delivered
    const later = await t.app.inject({ method: 'POST', url: '/admin/v1/issuers/ISSUER_AD2/replay', headers: auth, payload: { since: new Date(Date.now() + 60_000).toISOString() } });
    expect(later.json()).toEqual({ replayed: 0 });
    const states = await db.selectFrom('outbox').select(['id', 'state']).orderBy('id').execute();
    expect(states.map((s) => s.state)).toEqual(['delivered', 'pending', 'pending', 'pending', 'batched', 'dead', 'dead']);
    const bad = await t.app.inject({ method: 'POST', url: '/admin/v1/issuers/ISSUER_AD1/replay', headers: auth, payload: { since: 'yesterday' } });
    expect(bad.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'since: is not an ISO 8601 time with an offset (e.g. 2026-12-01T00:00:00Z)' });
    const noSuchDay = await t.app.inject({ method: 'POST', url: '/admin/v1/issuers/ISSUER_AD1/replay', headers: auth, payload: { since: '2026-02-30T00:00:00Z' } });
    expect(noSuchDay.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'since: is not an ISO 8601 time with an offset (e.g. 2026-12-01T00:00:00Z)' });
    expect((await t.app.inject({ method: 'POST', url: '/admin/v1/issuers/NOSUCHBANK/replay', headers: auth, payload: { since } })).statusCode).toBe(404);
  });

  it('documents the notification routes in OpenAPI under admin bearer auth', async () => {
    t = await testApp(KIND);
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    for (const [path, method] of [
      ['/admin/v1/notifications', 'get'],
      ['/admin/v1/notifications/{id}', 'get'],
      ['/admin/v1/notifications/{id}/replay', 'post'],
      ['/admin/v1/issuers/{issuerId}/replay', 'post'],
    ]) {
      expect(doc.paths[path]?.[method]?.security, path).toEqual([{ adminBearer: [] }]);
    }
    expect(doc.paths['/admin/v1/notifications'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['state', 'issuerId', 'cursor']));
  });
});

describe(`delivery metrics (${KIND})`, () => {
  it('exposes outcomes, attempt latency, outbox depth and oldest pending age per issuer on /metrics', async () => {
    t = await testApp(KIND);
    await seedStates(t);
    const db = t.store.db;
    await db.updateTable('outbox').set({ created_at: new Date(Date.now() - 120_000) }).where('id', '=', 'msg_0004').execute();
    const rx = await faultReceiver(() => ({ status: 204 }));
    await db.updateTable('issuers').set({ notification_base_url: rx.url }).where('issuer_id', '=', 'ISSUER_AD2').execute();
    await insertOutbox(db, [{ id: 'msg_0100', issuer_id: 'ISSUER_AD2', operation_id: 'op_100', sequence_number: 1, correlation_id: 'c', payload: '{}' }]);
    const d = new Dispatcher({ db, log: createLogger('silent'), retryScheduleMs: [1000], leaseMs: 5000, allowPrivateTargets: true });
    await d.runOnce();
    await d.stop();
    await rx.close();
    const text = (await t.app.inject({ method: 'GET', url: '/metrics', headers: auth })).body;
    expect(text).toContain('trackhub_outbox_notifications{issuer="ISSUER_AD1",state="dead"} 2');
    expect(text).toContain('trackhub_outbox_notifications{issuer="ISSUER_AD2",state="dead"} 2');
    expect(text).toContain('trackhub_outbox_notifications{issuer="ISSUER_AD1",state="pending"} 1');
    const oldest = /trackhub_outbox_oldest_pending_seconds\{issuer="ISSUER_AD1"\} ([\d.]+)/.exec(text);
    expect(Number(oldest?.[1])).toBeGreaterThanOrEqual(119);
    expect(text).toMatch(/trackhub_notification_attempts_total\{issuer="ISSUER_AD2",outcome="delivered"\} [1-9]/);
    expect(text).toMatch(/trackhub_notification_attempt_seconds_count\{issuer="ISSUER_AD2"\} [1-9]/);
  });
});

describe('notifications CLI (postgres)', () => {
  const kind = 'postgres';
  it('lists dead notifications and replays one, or an issuer\'s since a time', async () => {
    t = await testApp(kind);
    await seedStates(t);
    const env = { TRACKHUB_DATABASE_URL: t.store.url, TRACKHUB_LOG_LEVEL: 'silent' };
    const run = async (args: string[]) => {
      const p = runCli(args, env);
      const code = await new Promise<number>((r) => p.child.once('exit', (c) => r(c ?? -1)));
      return { code, out: p.output() };
    };
    const listed = await run(['notifications', 'list', '--state', 'dead', '--issuer', 'ISSUER_AD1']);
    expect(listed.code, listed.out).toBe(0);
    expect(listed.out.trim().split('\n').map((l) => l.split('\t').slice(0, 4))).toEqual([
      ['msg_0002', 'ISSUER_AD1', 'dead', '10'],
      ['msg_0003', 'ISSUER_AD1', 'dead', '10'],
    ]);
    const limited = await run(['notifications', 'list', '--limit', '1']);
    expect(limited.out.trim().split('\n')).toHaveLength(1);
    const one = await run(['notifications', 'replay', 'msg_0002']);
    expect(one.out).toContain('replayed msg_0002');
    const bulk = await run(['notifications', 'replay', '--issuer', 'ISSUER_AD2', '--since', new Date(Date.now() - 60_000).toISOString()]);
    expect(bulk.out).toContain('replayed 2 notifications of ISSUER_AD2');
    const states = await t.store.db.selectFrom('outbox').select(['id', 'state']).where('state', '=', 'dead').execute();
    expect(states.map((s) => s.id)).toEqual(['msg_0003']);
    const missing = await run(['notifications', 'replay', 'msg_9999']);
    expect(missing.code).toBe(2);
    const bad = await run(['notifications', 'list', '--state', 'lost']);
    expect(bad.code).toBe(2);
  }, 60_000);
});
