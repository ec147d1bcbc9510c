import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERCENTILE_ERROR } from '../src/store/insight-rollup.ts';
import { ADMIN_TOKEN, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const WINDOW = 'from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z';
const at = (hhmm: string, day = '2026-01-01') => `${day}T${hhmm}:00.000Z`;

interface Row {
  id: string;
  issuer: string;
  state: 'pending' | 'delivered' | 'dead' | 'batched';
  created: string;
  /** Seconds from created to delivered (delivered rows). */
  tookS?: number;
  lastError?: string;
  nextAttemptAt?: string;
  op?: string;
  batchId?: string;
  /** The operation object sent (its sequenceNumber is the row's); '{}' when the test does not read it. */
  sent?: { sequenceNumber: number; status: string; details?: object };
}

async function seedOutbox(t: TestApp, rows: Row[]): Promise<void> {
  for (const r of rows) {
    const delivered = r.tookS === undefined ? null : new Date(new Date(r.created).getTime() + r.tookS * 1000).toISOString();
    await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, last_error, next_attempt_at, created_at, delivered_at, batch_id)
      values (${r.id}, ${r.issuer}, ${r.op ?? `op_${r.id}`}, ${r.sent?.sequenceNumber ?? 1}, ${`corr_${r.id}`}, ${r.sent ? JSON.stringify(r.sent) : '{}'}, ${r.state}, ${r.state === 'delivered' ? 1 : 3}, ${r.lastError ?? null},
        ${r.nextAttemptAt ?? r.created}, ${r.created}, ${delivered}, ${r.batchId ?? null})`.execute(t.store.db);
  }
}

describe('GET /admin/v1/insights/notifications (postgres)', () => {
  let t: TestApp;
  const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
  const ahead = (s: number) => new Date(Date.now() + s * 1000).toISOString();

  beforeAll(async () => {
    t = await testApp('postgres');
    const key = await issuerKey();
    for (const id of ['BANK_OK_01', 'BANK_GONE1', 'BANK_SLOW1', 'BANK_OFF01', 'BANK_IDLE1']) await putIssuer(t.app, id, key);
    await putIssuer(t.app, 'BANK_OFF01', key, { enabled: false });
    await sql`update issuers set endpoint_disabled_at = '2026-01-01T09:30:00Z', endpoint_disabled_reason = 'HTTP 410 Gone' where issuer_id = 'BANK_GONE1'`.execute(t.store.db);
    await seedOutbox(t, [
      // BANK_OK_01 in the window: 4 delivered (1, 2, 3, 10 s), 1 dead, 1 still pending; a batched member (not a notification).
      { id: 'n01', issuer: 'BANK_OK_01', state: 'delivered', created: at('01:00'), tookS: 1 },
      { id: 'n02', issuer: 'BANK_OK_01', state: 'delivered', created: at('02:00'), tookS: 2 },
      { id: 'n03', issuer: 'BANK_OK_01', state: 'delivered', created: at('03:00'), tookS: 3 },
      { id: 'n04', issuer: 'BANK_OK_01', state: 'delivered', created: at('04:00'), tookS: 10, batchId: 'n04' },
      { id: 'n05', issuer: 'BANK_OK_01', state: 'batched', created: at('04:00'), batchId: 'n04' },
      { id: 'n06', issuer: 'BANK_OK_01', state: 'dead', created: at('05:00'), lastError: 'HTTP 500' },
      { id: 'n07', issuer: 'BANK_OK_01', state: 'pending', created: at('23:59'), lastError: 'HTTP 500', nextAttemptAt: ahead(600) },
      // Outside the window: counted only in the figures of now.
      { id: 'n08', issuer: 'BANK_OK_01', state: 'delivered', created: at('00:00', '2026-01-02'), tookS: 99 },
      { id: 'n09', issuer: 'BANK_OK_01', state: 'dead', created: at('12:00', '2025-12-31') },
      { id: 'n10', issuer: 'BANK_OK_01', state: 'pending', created: ago(7200) },
      // BANK_SLOW1: its endpoint answered 503; the earliest retry it put off is the throttle's end.
      { id: 'n11', issuer: 'BANK_SLOW1', state: 'pending', created: ago(60), lastError: 'HTTP 503', nextAttemptAt: ahead(120) },
      { id: 'n12', issuer: 'BANK_SLOW1', state: 'pending', created: ago(50), lastError: 'HTTP 429', nextAttemptAt: ahead(30) },
      { id: 'n13', issuer: 'BANK_SLOW1', state: 'pending', created: ago(40), lastError: 'HTTP 400', nextAttemptAt: ahead(10) },
      // BANK_GONE1: disabled; a 503 retry does not make it "throttled".
      { id: 'n14', issuer: 'BANK_GONE1', state: 'pending', created: ago(30), lastError: 'HTTP 503', nextAttemptAt: ahead(60) },
    ]);
  });
  afterAll(async () => t?.close());

  const get = (q: string, headers: Record<string, string> = admin) => t.app.inject({ method: 'GET', url: `/admin/v1/insights/notifications?${q}`, headers });

  it('lists every issuer with its window figures, its backlog now and its endpoint state', async () => {
    const res = await get(WINDOW);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.from).toBe('2026-01-01T00:00:00.000Z');
    expect(body.to).toBe('2026-01-02T00:00:00.000Z');
    expect(body.issuers.map((i: { issuerId: string }) => i.issuerId)).toEqual(['BANK_GONE1', 'BANK_IDLE1', 'BANK_OFF01', 'BANK_OK_01', 'BANK_SLOW1']);
    const by = Object.fromEntries(body.issuers.map((i: { issuerId: string }) => [i.issuerId, i]));
    const ok = by.BANK_OK_01;
    expect(ok).toMatchObject({ name: 'Bank BANK_OK_01', created: 6, delivered: 4, dead: 1, pending: 1, successRate: 0.8, backlog: 2, deadNow: 2, endpoint: { state: 'ok' } });
    // percentile_cont over 1, 2, 3, 10 s: p50 2.5, p99 3 + 0.97 × 7; read from log-scale buckets, within PERCENTILE_ERROR.
    expect(Math.abs(ok.latency.p50Seconds / 2.5 - 1)).toBeLessThanOrEqual(PERCENTILE_ERROR);
    expect(Math.abs(ok.latency.p99Seconds / 9.79 - 1)).toBeLessThanOrEqual(PERCENTILE_ERROR);
    // n07, pending since the window (n10, two hours old, is newer).
    expect(ok.oldestPendingAt).toBe('2026-01-01T23:59:00.000Z');
    const age = (Date.now() - Date.parse(ok.oldestPendingAt)) / 1000;
    expect(Math.abs(ok.oldestPendingAgeSeconds - age)).toBeLessThan(5);

    expect(by.BANK_IDLE1).toEqual({
      issuerId: 'BANK_IDLE1', name: 'Bank BANK_IDLE1', created: 0, delivered: 0, dead: 0, pending: 0, successRate: null,
      latency: { p50Seconds: null, p99Seconds: null }, backlog: 0, oldestPendingAt: null, oldestPendingAgeSeconds: null, deadNow: 0, endpoint: { state: 'ok' },
    });
    expect(by.BANK_GONE1.endpoint).toEqual({ state: 'disabled', since: '2026-01-01T09:30:00.000Z', reason: 'HTTP 410 Gone' });
    expect(by.BANK_GONE1.backlog).toBe(1);
    expect(by.BANK_OFF01.endpoint).toMatchObject({ state: 'disabled', reason: 'issuer disabled (enabled: false)' });
    const slow = by.BANK_SLOW1.endpoint;
    expect(slow).toMatchObject({ state: 'throttled', reason: 'HTTP 429' });
    // n12's retry, 30 s ahead (n13's earlier one followed a 400: no slow-down).
    expect(Date.parse(slow.until) - Date.now()).toBeGreaterThan(20_000);
    expect(Date.parse(slow.until) - Date.now()).toBeLessThan(31_000);
    expect(by.BANK_SLOW1).toMatchObject({ created: 0, backlog: 3 });
  });

  it('defaults to the last 24 hours', async () => {
    const body = (await get('')).json();
    const slow = body.issuers.find((i: { issuerId: string }) => i.issuerId === 'BANK_SLOW1');
    expect(slow).toMatchObject({ created: 3, pending: 3, successRate: null });
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(86_400_000);
  });

  it("refuses a bad window with the contract's 400, and no token with 401", async () => {
    for (const [q, code, error] of [
      ['from=2026-01-01T00:00:00', 'FIELD_INVALID_FORMAT', /^from: is not an ISO 8601 time with an offset/],
      ['to=yesterday', 'FIELD_INVALID_FORMAT', /^to: /],
      ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'FIELD_INVALID_VALUE', /^from: must be before to/],
      ['from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'FIELD_INVALID_VALUE', /at most 31 days/],
      ['issuerId=BANK_OK_01', 'FIELD_UNKNOWN', /./],
    ] as const) {
      const res = await get(q);
      expect(res.statusCode, q).toBe(400);
      expect(res.json().error, q).toMatch(error);
      if (code !== 'FIELD_UNKNOWN') expect(res.json().errorCode, q).toBe(code);
    }
    expect((await get(WINDOW, {})).statusCode).toBe(401);
  });
});

describe('GET /admin/v1/notifications: dead letters with their card and reason (postgres)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp('postgres');
    await putIssuer(t.app, 'BANK_DL_01', await issuerKey());
    for (const [op, card, type] of [['op_a', 'card_A', 'SHIPMENT'], ['op_b', 'card_B', 'PRODUCTION']]) {
      await sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state)
        values (${op}, 'BANK_DL_01', ${card}, ${type}, 'h', 'PENDING', true, '{}'::jsonb)`.execute(t.store.db);
    }
    await seedOutbox(t, [
      {
        id: 'd1', issuer: 'BANK_DL_01', state: 'dead', created: at('01:00'), lastError: 'HTTP 503', op: 'op_a', batchId: 'd1',
        sent: { sequenceNumber: 3, status: 'PENDING', details: { trackingType: 'SHIPMENT', shipment: { status: 'IN_TRANSIT', checkpoints: [{ message: 'x'.repeat(5000) }] } } },
      },
      { id: 'd2', issuer: 'BANK_DL_01', state: 'batched', created: at('01:00'), op: 'op_b', batchId: 'd1', sent: { sequenceNumber: 2, status: 'SUCCESSFUL', details: { trackingType: 'PRODUCTION' } } },
      { id: 'd3', issuer: 'BANK_DL_01', state: 'dead', created: at('02:00'), lastError: 'timeout after 15000 ms', op: 'op_gone' },
      { id: 'd4', issuer: 'BANK_DL_01', state: 'pending', created: at('03:00'), op: 'op_b' },
    ]);
    await sql`insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, error, latency_ms, response_body) values
      ('d1', 1, '2026-01-01T01:00:01Z', 500, null, 10, 'first'),
      ('d1', 2, '2026-01-01T01:05:00Z', 503, null, 12, ${'  down for\n maintenance  '}),
      ('d3', 1, '2026-01-01T02:00:01Z', null, 'timeout after 15000 ms', 15000, null)`.execute(t.store.db);
  });
  afterAll(async () => t?.close());

  it('gives each notification its card, operation, tracking type, newest attempt and reason in words', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/admin/v1/notifications?state=dead', headers: admin });
    expect(res.statusCode).toBe(200);
    const [d1, d3] = res.json().notifications;
    expect(d1).toMatchObject({
      id: 'd1', operationId: 'op_a', cardId: 'card_A', trackingType: 'SHIPMENT', operationIds: ['op_a', 'op_b'],
      // What each carried operation's update said: the head's shipment status, the batched member's own.
      cards: [
        { operationId: 'op_a', cardId: 'card_A', trackingType: 'SHIPMENT', carried: { sequenceNumber: 3, status: 'PENDING', shipmentStatus: 'IN_TRANSIT' } },
        { operationId: 'op_b', cardId: 'card_B', trackingType: 'PRODUCTION', carried: { sequenceNumber: 2, status: 'SUCCESSFUL', shipmentStatus: null } },
      ],
      lastAttempt: { attempt: 2, attemptedAt: '2026-01-01T01:05:00.000Z', httpStatus: 503, error: null },
      reason: 'HTTP 503 Service Unavailable: down for maintenance',
    });
    // Its operation is gone from the store: the card is unknown, the reason still says why.
    expect(d3).toMatchObject({ operationId: 'op_gone', cardId: null, trackingType: null, reason: 'timeout after 15000 ms' });
    // Only the statuses leave the database, not the payload's checkpoints.
    expect(res.body).not.toContain('xxxxxxxx');
    const pending = (await t.app.inject({ method: 'GET', url: '/admin/v1/notifications?state=pending', headers: admin })).json().notifications;
    expect(pending).toEqual([expect.objectContaining({ id: 'd4', cardId: 'card_B', lastAttempt: null, reason: null })]);
    // The detail carries the same fields.
    const one = (await t.app.inject({ method: 'GET', url: '/admin/v1/notifications/d1', headers: admin })).json();
    expect(one).toMatchObject({ cardId: 'card_A', reason: 'HTTP 503 Service Unavailable: down for maintenance', attemptLog: [{ attempt: 1 }, { attempt: 2 }] });
  });

  it('after a replay (stored reason cleared) still says why its newest attempt failed', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/admin/v1/notifications/d3/replay', headers: admin })).statusCode).toBe(202);
    const d3 = (await t.app.inject({ method: 'GET', url: '/admin/v1/notifications/d3', headers: admin })).json();
    expect(d3).toMatchObject({ state: 'pending', lastError: null, reason: 'timeout after 15000 ms' });
  });
});
