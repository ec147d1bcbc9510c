import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminToken } from '../src/store/admin-tokens.ts';
import { PERCENTILE_ERROR } from '../src/store/insight-rollup.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const WINDOW = 'from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z';
const at = (hhmm: string, day = '2026-01-01') => `${day}T${hhmm}:00.000Z`;
const cp = (status: string) => ({ checkpointTime: at('01:00'), message: status, status, raw: { code: status, description: status } });

/**
 * Percentiles are read from log-scale buckets (src/store/insight-rollup.ts): each within PERCENTILE_ERROR
 * (plus the answer's rounding to the millisecond) of percentile_cont's exact value, written here.
 */
function near(exact: number) {
  return expect.toSatisfy((v: unknown) => typeof v === 'number' && Math.abs(v - exact) <= exact * PERCENTILE_ERROR + 0.001, `within ${PERCENTILE_ERROR} of ${exact}`);
}

interface Seed {
  id: string;
  type: 'SHIPMENT' | 'PRODUCTION';
  created: string;
  /** When it finished (its updated_at and endTime); absent: still open. */
  ended?: string;
  status?: 'SUCCESSFUL' | 'FAILED';
  errorCode?: string;
  carrier?: string;
  shipment?: { status: string; checkpoints: string[] };
  site?: string;
  requestSite?: string;
}

/** Operations written as the store holds them (a state and its columns), at chosen times. */
async function seed(t: TestApp, ops: Seed[]): Promise<void> {
  for (const o of ops) {
    const status = o.ended ? (o.status ?? 'SUCCESSFUL') : 'PENDING';
    const state = {
      operationId: o.id,
      issuerId: 'ISSUER_INS',
      cardId: `CARD_${o.id}`,
      trackingType: o.type,
      correlationId: `corr_${o.id}`,
      request: { trackingType: o.type, ...(o.requestSite ? { productionSite: o.requestSite } : {}) },
      status,
      open: !o.ended,
      startTime: o.created,
      ...(o.ended ? { endTime: o.ended } : {}),
      updatedAt: o.ended ?? o.created,
      sequenceNumber: 1,
      ...(o.shipment ? { shipment: { carrier: o.carrier, trackingNumber: '1', trackingUrl: 'u', message: '', status: o.shipment.status, checkpoints: o.shipment.checkpoints.map(cp) } } : {}),
      ...(o.errorCode ? { errorCode: o.errorCode } : {}),
      ...(o.site ? { productionSite: o.site } : {}),
    };
    await sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, carrier, created_at, updated_at)
      values (${o.id}, 'ISSUER_INS', ${`CARD_${o.id}`}, ${o.type}, 'h', ${status}, ${!o.ended}, ${JSON.stringify(state)}::jsonb, ${o.carrier ?? null}, ${o.created}, ${o.ended ?? o.created})`.execute(t.store.db);
  }
}

describe.each(STORE_KINDS)('Admin API insights on %s', (kind) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await testApp(kind);
    await seed(t, [
      // Shipments opened in the window.
      { id: 'S1', type: 'SHIPMENT', created: at('01:10'), ended: at('03:10'), carrier: 'fedex', site: 'LONDON', shipment: { status: 'DELIVERED', checkpoints: ['INFO_RECEIVED', 'IN_TRANSIT', 'DELIVERED'] } },
      { id: 'S2', type: 'SHIPMENT', created: at('01:20'), ended: at('05:20'), carrier: 'fedex', requestSite: 'LONDON', shipment: { status: 'DELIVERED', checkpoints: ['DELIVERED'] } },
      { id: 'S3', type: 'SHIPMENT', created: at('01:40'), carrier: 'ups', shipment: { status: 'EXCEPTION', checkpoints: ['INFO_RECEIVED', 'EXCEPTION'] } },
      { id: 'S4', type: 'SHIPMENT', created: at('01:30'), ended: at('02:00'), status: 'FAILED', errorCode: 'TRACKING_NUMBER_NOT_FOUND', carrier: 'ups' },
      { id: 'S5', type: 'SHIPMENT', created: at('01:50'), carrier: 'dhl', shipment: { status: 'OUT_FOR_DELIVERY', checkpoints: ['OUT_FOR_DELIVERY'] } },
      // Opened the day before, delivered in the window: in the delivery times, not in the funnel.
      { id: 'S6', type: 'SHIPMENT', created: at('23:00', '2025-12-31'), ended: at('02:30'), carrier: 'dhl', shipment: { status: 'DELIVERED', checkpoints: ['DELIVERED'] } },
      // Outside the window altogether.
      { id: 'S7', type: 'SHIPMENT', created: at('01:00', '2026-01-03'), ended: at('02:00', '2026-01-03'), carrier: 'fedex', shipment: { status: 'DELIVERED', checkpoints: ['DELIVERED'] } },
      // Production.
      { id: 'P1', type: 'PRODUCTION', created: at('00:00'), ended: at('06:00'), site: 'MADRID' },
      { id: 'P2', type: 'PRODUCTION', created: at('00:30'), ended: at('02:30'), requestSite: 'MADRID', site: 'MADRID' },
      { id: 'P3', type: 'PRODUCTION', created: at('10:00', '2025-12-02'), ended: at('10:00'), status: 'FAILED', errorCode: 'PRODUCTION_TIMEOUT', requestSite: 'MADRID' },
      { id: 'P4', type: 'PRODUCTION', created: at('07:00'), requestSite: 'MADRID' },
      { id: 'P5', type: 'PRODUCTION', created: at('08:00') },
    ]);
    await sql`insert into production_sites (site_id, name) values ('MADRID', 'Madrid'), ('OSLO', 'Oslo')`.execute(t.store.db);
    await sql`insert into inbox_files (site_id, file_key, name, state, accepted, duplicates, rejected_count, created_at) values
      ('OSLO', 'a', 'a.csv', 'done', 10, 2, 3, ${at('04:00')}),
      ('OSLO', 'b', 'b.csv', 'rejected', 0, 0, 5, ${at('05:00')}),
      ('OSLO', 'c', 'c.csv', 'done', 99, 0, 0, ${at('05:00', '2025-12-01')})`.execute(t.store.db);
  });
  afterAll(() => t.close());

  const get = (url: string, headers: Record<string, string> = admin) => t.app.inject({ method: 'GET', url, headers });

  it('summary: opened and finished per hour, the funnel, delivery times and rates, exactly', async () => {
    const res = await get(`/admin/v1/insights/summary?${WINDOW}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.from).toBe('2026-01-01T00:00:00.000Z');
    expect(body.to).toBe('2026-01-02T00:00:00.000Z');
    expect(body.opened).toEqual([
      { hour: '2026-01-01T00:00:00Z', trackingType: 'PRODUCTION', count: 2 },
      { hour: '2026-01-01T01:00:00Z', trackingType: 'SHIPMENT', count: 5 },
      { hour: '2026-01-01T07:00:00Z', trackingType: 'PRODUCTION', count: 1 },
      { hour: '2026-01-01T08:00:00Z', trackingType: 'PRODUCTION', count: 1 },
    ]);
    expect(body.finished).toEqual([
      { hour: '2026-01-01T02:00:00Z', trackingType: 'PRODUCTION', status: 'SUCCESSFUL', errorCode: null, count: 1 },
      { hour: '2026-01-01T02:00:00Z', trackingType: 'SHIPMENT', status: 'FAILED', errorCode: 'TRACKING_NUMBER_NOT_FOUND', count: 1 },
      { hour: '2026-01-01T02:00:00Z', trackingType: 'SHIPMENT', status: 'SUCCESSFUL', errorCode: null, count: 1 },
      { hour: '2026-01-01T03:00:00Z', trackingType: 'SHIPMENT', status: 'SUCCESSFUL', errorCode: null, count: 1 },
      { hour: '2026-01-01T05:00:00Z', trackingType: 'SHIPMENT', status: 'SUCCESSFUL', errorCode: null, count: 1 },
      { hour: '2026-01-01T06:00:00Z', trackingType: 'PRODUCTION', status: 'SUCCESSFUL', errorCode: null, count: 1 },
      { hour: '2026-01-01T10:00:00Z', trackingType: 'PRODUCTION', status: 'FAILED', errorCode: 'PRODUCTION_TIMEOUT', count: 1 },
    ]);
    // A later stage counts as having passed the earlier ones (S2 has only a DELIVERED scan).
    expect(body.funnel).toEqual({ shipments: 5, PENDING: 5, INFO_RECEIVED: 4, IN_TRANSIT: 3, OUT_FOR_DELIVERY: 3, DELIVERED: 2, exceptions: 1, failures: 1 });
    // fedex: 2 h and 4 h; dhl: S6's 3.5 h.
    expect(body.deliveryTime.byCarrier).toEqual([
      { carrier: 'dhl', count: 1, p50Seconds: near(12600), p90Seconds: near(12600) },
      { carrier: 'fedex', count: 2, p50Seconds: near(10800), p90Seconds: near(13680) },
    ]);
    expect(body.deliveryTime.bySite).toEqual([
      { productionSite: 'LONDON', count: 2, p50Seconds: near(10800), p90Seconds: near(13680) },
      { productionSite: null, count: 1, p50Seconds: near(12600), p90Seconds: near(12600) },
    ]);
    expect(body.rates).toEqual({ shipments: 5, exceptionRate: 0.2, failureRate: 0.2, finished: 7, failedFinished: 2, failureRateFinished: 0.2857 });
  });

  it('sites: request → CARD_SHIPPED latency, timeouts and inbox files per site, registered or named by a request', async () => {
    const res = await get(`/admin/v1/insights/sites?${WINDOW}`);
    expect(res.statusCode).toBe(200);
    const noFiles = { files: 0, processing: 0, done: 0, rejected: 0, accepted: 0, duplicates: 0, rejectedLines: 0 };
    expect(res.json().sites).toEqual([
      // 6 h and 2 h; P3 timed out in the window, opened before it.
      { productionSite: 'MADRID', registered: true, requested: 3, shipped: { count: 2, p50Seconds: near(14400), p90Seconds: near(20160) }, productionTimeouts: 1, inboxFiles: noFiles },
      {
        productionSite: 'OSLO',
        registered: true,
        requested: 0,
        shipped: { count: 0, p50Seconds: null, p90Seconds: null },
        productionTimeouts: 0,
        inboxFiles: { files: 2, processing: 0, done: 1, rejected: 1, accepted: 10, duplicates: 2, rejectedLines: 8 },
      },
    ]);
  });

  it('an empty window answers zeros, not errors', async () => {
    const body = (await get('/admin/v1/insights/summary?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z')).json();
    expect(body.funnel).toEqual({ shipments: 0, PENDING: 0, INFO_RECEIVED: 0, IN_TRANSIT: 0, OUT_FOR_DELIVERY: 0, DELIVERED: 0, exceptions: 0, failures: 0 });
    expect(body.rates).toEqual({ shipments: 0, exceptionRate: null, failureRate: null, finished: 0, failedFinished: 0, failureRateFinished: null });
  });

  it('defaults to the last 24 hours; offsets are honoured', async () => {
    const before = Date.now();
    const body = (await get('/admin/v1/insights/summary')).json();
    const to = Date.parse(body.to);
    expect(to).toBeGreaterThanOrEqual(before);
    expect(to - Date.parse(body.from)).toBe(24 * 3_600_000);
    const shifted = (await get('/admin/v1/insights/summary?from=2026-01-01T01:00:00%2B01:00&to=2026-01-01T02:00:00%2B01:00')).json();
    expect(shifted.from).toBe('2026-01-01T00:00:00.000Z');
    expect(shifted.opened).toEqual([{ hour: '2026-01-01T00:00:00Z', trackingType: 'PRODUCTION', count: 2 }]);
  });

  it.each([
    ['from=yesterday', 'FIELD_INVALID_FORMAT'],
    ['from=2026-01-01T00:00:00', 'FIELD_INVALID_FORMAT'],
    ['from=2026-02-30T00:00:00Z&to=2026-03-05T00:00:00Z', 'FIELD_INVALID_FORMAT'],
    ['to=2026-13-01T00:00:00Z', 'FIELD_INVALID_FORMAT'],
    ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'FIELD_INVALID_VALUE'],
    ['from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'FIELD_INVALID_VALUE'],
    ['from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:01Z', 'FIELD_INVALID_VALUE'],
    ['since=2026-01-01T00:00:00Z', 'FIELD_INVALID_FORMAT'],
  ])('refuses %s with 400 %s', async (query, code) => {
    for (const path of ['summary', 'sites']) {
      const res = await get(`/admin/v1/insights/${path}?${query}`);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ errorCode: code });
    }
  });

  it('takes 31 days exactly', async () => {
    expect((await get('/admin/v1/insights/sites?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z')).statusCode).toBe(200);
  });

  it('needs an admin token; the read scope is enough', async () => {
    const reader = await createAdminToken(t.store.db, 'insights-watch', 'read');
    for (const path of ['summary', 'sites']) {
      expect((await get(`/admin/v1/insights/${path}`, {})).statusCode).toBe(401);
      expect((await get(`/admin/v1/insights/${path}?from=bad`, {})).statusCode).toBe(401);
      expect((await get(`/admin/v1/insights/${path}?${WINDOW}`, { authorization: `Bearer ${reader.token}` })).statusCode).toBe(200);
    }
  });
});
