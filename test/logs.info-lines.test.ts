import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/delivery/dispatcher.ts';
import { newWebhookSecret } from '../src/delivery/signing.ts';
import { upsertIssuer } from '../src/store/issuers.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { ADMIN_TOKEN, accessToken, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';

/** A logger at info (the level bench/deliver and the chaos workers run at) whose lines the test reads. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk))); cb(); } }));
  return { logger, lines };
}

describe('one info line per track request, site-event batch and notification outcome, without secrets', () => {
  const { logger, lines } = capturedLog();
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp('postgres', {}, { log: logger });
  });
  afterAll(async () => t?.close());

  it('a track request: issuer, operation, tracking type, carrier; no card id, token or body', async () => {
    const key = await issuerKey();
    const { webhookSecret } = await putIssuer(t.app, 'LOGBANK001', key);
    const token = await accessToken(t.app, 'LOGBANK001', key);
    const res = await t.app.inject({
      method: 'POST',
      url: '/banking/v1/issuers/LOGBANK001/physicalCards/card-secret-77/track',
      headers: { authorization: `Bearer ${token}` },
      payload: { trackingType: 'SHIPMENT', trackingNumber: '123456789012', carrier: 'fedex' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const accepted = lines.filter((l) => l.msg === 'track request accepted');
    expect(accepted).toEqual([expect.objectContaining({ level: 30, issuerId: 'LOGBANK001', operationId: res.json().operationId, trackingType: 'SHIPMENT', carrier: 'fedex', created: true })]);
    const all = JSON.stringify(lines);
    for (const secret of [token, webhookSecret as string, ADMIN_TOKEN, 'card-secret-77', '123456789012']) expect(all).not.toContain(secret);
  });

  it('a Site API batch: site and counts', async () => {
    const put = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/LOG-SITE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'Log bureau', apiKey: 'sk_log_site_key_0123456789abcdef' } });
    expect(put.statusCode).toBe(201);
    const event = (id: string, cardId: string) => ({ eventId: id, issuerId: 'LOGBANK001', cardId, type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z' });
    const res = await t.app.inject({
      method: 'POST',
      url: '/sites/v1/production-sites/LOG-SITE/events',
      headers: { 'x-api-key': 'sk_log_site_key_0123456789abcdef', 'content-type': 'application/json' },
      payload: JSON.stringify({ events: [event('log-1', 'card-a'), event('log-2', 'card b'), event('log-1', 'card-a')] }),
    });
    expect(res.statusCode, res.body).toBe(202);
    expect(lines.filter((l) => l.msg === 'site events batch stored')).toEqual([expect.objectContaining({ level: 30, siteId: 'LOG-SITE', accepted: 1, duplicates: 1, rejected: 1 })]);
    expect(JSON.stringify(lines)).not.toContain('sk_log_site_key');
  });

  it('a refused Issuer or Site API request: correlation id, method, route pattern, status, error code; no card id, token or key', async () => {
    const key = await issuerKey();
    await putIssuer(t.app, 'LOGREFUSE1', key);
    const token = await accessToken(t.app, 'LOGREFUSE1', key);
    // The access token: one line naming the issuer and when it expires, never the token.
    expect(lines.filter((l) => l.msg === 'access token issued' && l.issuerId === 'LOGREFUSE1')).toEqual([expect.objectContaining({ level: 30, expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) })]);
    const refused = (correlationId: string) => lines.filter((l) => l.msg === 'request refused' && l.correlationId === correlationId);

    const bad = await t.app.inject({
      method: 'POST',
      url: '/banking/v1/issuers/LOGREFUSE1/physicalCards/card-refused-42/track',
      headers: { authorization: `Bearer ${token}`, 'x-correlation-id': 'corr-log-refused-1' },
      payload: { trackingType: 'NOPE', trackingNumber: 'tn-refused-1234' },
    });
    expect(bad.statusCode).toBe(400);
    expect(refused('corr-log-refused-1')).toEqual([
      expect.objectContaining({ level: 30, method: 'POST', route: '/banking/v1/issuers/:issuerId/physicalCards/:cardId/track', status: 400, errorCode: bad.json().errorCode, issuerId: 'LOGREFUSE1' }),
    ]);

    const anonymous = await t.app.inject({ method: 'GET', url: '/banking/v1/issuers/LOGREFUSE1/physicalCards/card-refused-42/trackingStatus', headers: { authorization: 'Bearer not-a-token-secret-xyz', 'x-correlation-id': 'corr-log-refused-2' } });
    expect(anonymous.statusCode).toBe(401);
    expect(refused('corr-log-refused-2')).toEqual([expect.objectContaining({ status: 401, errorCode: anonymous.json().errorCode, route: expect.stringContaining(':cardId') })]);

    const site = await t.app.inject({ method: 'POST', url: '/sites/v1/production-sites/LOG-SITE-X/events', headers: { 'x-api-key': 'sk_wrong_key_0123456789abcdefgh', 'content-type': 'application/json', 'x-correlation-id': 'corr-log-refused-3' }, payload: '{"events":[]}' });
    expect(site.statusCode).toBe(401);
    expect(refused('corr-log-refused-3')).toEqual([expect.objectContaining({ status: 401, siteId: 'LOG-SITE-X', errorCode: site.json().errorCode })]);

    const grant = await t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', headers: { 'x-correlation-id': 'corr-log-refused-4' }, payload: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: 'assertion-secret-abc' } });
    expect(grant.statusCode).toBe(400);
    // The token endpoint's own line, with why and the correlation id.
    expect(lines.filter((l) => l.correlationId === 'corr-log-refused-4')).toEqual([expect.objectContaining({ level: 30, msg: 'assertion refused', reason: expect.any(String) })]);

    const all = JSON.stringify(lines);
    for (const secret of [token, 'card-refused-42', 'tn-refused-1234', 'not-a-token-secret-xyz', 'sk_wrong_key', 'assertion-secret-abc']) expect(all).not.toContain(secret);
  });

  it('an Admin API write: route, target id and status, no secret', async () => {
    const put = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/LOG-ADMIN', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-correlation-id': 'corr-log-admin-1' }, payload: { name: 'Admin log bureau', apiKey: 'sk_admin_log_key_0123456789abcdef' } });
    expect(put.statusCode).toBe(201);
    expect(lines.filter((l) => l.msg === 'admin write' && l.correlationId === 'corr-log-admin-1')).toEqual([
      expect.objectContaining({ level: 30, method: 'PUT', route: '/admin/v1/production-sites/:siteId', targetId: 'LOG-ADMIN', status: 201 }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('sk_admin_log_key');
  });

  it('each notification outcome: delivered and retry at info, dead at warn, with webhook-id, issuer, status, attempt, latency', async () => {
    const statusOf = new Map<string, number>([['msg_log_ok', 204], ['msg_log_retry', 503], ['msg_log_dead', 500]]);
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(statusOf.get(String(req.headers['webhook-id'])) ?? 204).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const secret = newWebhookSecret();
    for (const issuerId of ['LOGDELIV01', 'LOGDEAD001']) {
      await upsertIssuer(t.store.db, {
        issuerId, name: issuerId, notificationBaseUrl: url, jwks: { keys: [] }, webhookSecrets: [secret],
        notificationAuth: null, notificationTls: null, maxOperationsPerNotification: 1, autoTrackShipment: false, enabled: true,
      });
    }
    const row = (id: string, issuerId: string, n: number) => ({ id, issuer_id: issuerId, operation_id: `op_log_${n}`, sequence_number: 1, correlation_id: `corr_log_${n}`, payload: JSON.stringify({ operationId: `op_log_${n}`, sequenceNumber: 1 }) });
    await insertOutbox(t.store.db, [row('msg_log_ok', 'LOGDELIV01', 1), row('msg_log_retry', 'LOGDELIV01', 2), row('msg_log_dead', 'LOGDEAD001', 3)]);
    const first = new Dispatcher({ db: t.store.db, log: logger, retryScheduleMs: [60_000], leaseMs: 10_000, allowPrivateTargets: true, idleWaitMs: 20 });
    const spent = new Dispatcher({ db: t.store.db, log: logger, retryScheduleMs: [], leaseMs: 10_000, allowPrivateTargets: true, idleWaitMs: 20 });
    try {
      // The earlier tests' notifications (to bank.example) wait: only this test's three are sent.
      await t.store.db.updateTable('outbox').set({ next_attempt_at: new Date(Date.now() + 3_600_000) }).where('issuer_id', 'not in', ['LOGDELIV01', 'LOGDEAD001']).execute();
      // The dead one is sent by a dispatcher with no retries left; the two others by one that has some.
      await t.store.db.updateTable('outbox').set({ next_attempt_at: new Date(Date.now() + 3_600_000) }).where('id', '=', 'msg_log_dead').execute();
      expect(await first.runOnce()).toBe(2);
      await t.store.db.updateTable('outbox').set({ next_attempt_at: new Date(0) }).where('id', '=', 'msg_log_dead').execute();
      expect(await spent.runOnce()).toBe(1);
    } finally {
      await first.stop();
      await spent.stop();
      server.close();
    }
    const byId = (id: string) => lines.filter((l) => l.webhookId === id);
    expect(byId('msg_log_ok')).toEqual([expect.objectContaining({ level: 30, msg: 'notification delivered', issuerId: 'LOGDELIV01', status: 204, attempt: 1, latencyMs: expect.any(Number) })]);
    expect(byId('msg_log_retry')).toEqual([expect.objectContaining({ level: 30, msg: 'notification retry scheduled', issuerId: 'LOGDELIV01', status: 503, attempt: 1, reason: 'HTTP 503', nextAttemptAt: expect.any(String) })]);
    expect(byId('msg_log_dead')).toEqual([expect.objectContaining({ level: 40, msg: 'notification dead after last attempt', issuerId: 'LOGDEAD001', status: 500, attempt: 1, reason: 'HTTP 500' })]);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });
});
