import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminToken } from '../src/store/admin-tokens.ts';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const A = 'ISSUER_CRD';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe.each(STORE_KINDS)('Admin API search, card timeline and stuck lists on %s', (kind) => {
  let t: TestApp;
  /** Operation ids by name. */
  const op: Record<string, string> = {};
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

  beforeAll(async () => {
    t = await testApp(kind);
    const a = await readyIssuer(t.app, A);
    const track = async (card: string, body: object, correlationId?: string) => {
      const res = await t.app.inject({
        method: 'POST',
        url: `/banking/v1/issuers/${A}/physicalCards/${card}/track`,
        headers: { authorization: `Bearer ${a.token}`, ...(correlationId ? { 'x-correlation-id': correlationId } : {}) },
        payload: body,
      });
      expect(res.statusCode).toBe(202);
      return res.json().operationId as string;
    };
    op.production = await track('CARD_TL_1', { trackingType: 'PRODUCTION' });
    op.shipment = await track('CARD_TL_1', { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '123456789012' }, 'corr-search-1');
    op.other = await track('CARD_TL_2', { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '223456789012' });
    op.fresh = await track('CARD_TL_3', { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '323456789012' });
    // '_' is LIKE's any-character: a prefix search for CARD_TL must not find CARDXTL9.
    op.lookalike = await track('CARDXTL9', { trackingType: 'PRODUCTION' });

    const db = t.store.db;
    // The production operation is older than the shipment: the timeline shows the shipment first.
    await sql`update operations set created_at = ${ago(6 * DAY)}::timestamptz where operation_id = ${op.production}`.execute(db);
    // The shipment: two checkpoints, the carrier's last word 4 days ago; asked 5 days ago.
    const checkpoints = [
      { checkpointTime: ago(5 * DAY), message: 'Picked up', status: 'IN_TRANSIT', raw: { code: 'PU', description: 'Picked up' } },
      { checkpointTime: ago(4 * DAY), message: 'At hub', status: 'IN_TRANSIT', raw: { code: 'AR', description: 'Arrived' } },
    ];
    const shipment = { carrier: 'fedex', trackingNumber: '123456789012', trackingUrl: 'https://example.test/t', status: 'IN_TRANSIT', message: 'At hub', lastUpdatedAt: ago(4 * DAY), checkpoints };
    await sql`update operations set created_at = ${ago(5 * DAY)}::timestamptz, state = jsonb_set(state, '{shipment}', ${JSON.stringify(shipment)}::jsonb)
      where operation_id = ${op.shipment}`.execute(db);
    // CARD_TL_2: asked 3.5 days ago, the carrier never said anything; a site reported it shipped 3 days ago.
    await sql`update operations set created_at = ${ago(3.5 * DAY)}::timestamptz where operation_id = ${op.other}`.execute(db);
    await sql`insert into site_events (site_id, event_id, issuer_id, card_id, type, occurred_at) values ('SITE_1', 'ev-1', ${A}, 'CARD_TL_2', 'CARD_SHIPPED', ${ago(3 * DAY)}::timestamptz)`.execute(db);
    // A notification (head) carrying the shipment's update 2 and, batched, CARD_TL_2's: dead after two attempts.
    // Each row's payload is the operation object it sent: the timeline says which statuses it carried.
    const sent = (sequenceNumber: number, status: string, shipmentStatus?: string) =>
      JSON.stringify({ sequenceNumber, status, details: { trackingType: 'SHIPMENT', ...(shipmentStatus ? { shipment: { status: shipmentStatus } } : {}) } });
    await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, batch_id, created_at, last_error) values
      ('msg_timelinehead00000000001', ${A}, ${op.shipment}, 2, 'c1', ${sent(2, 'PENDING', 'INFO_RECEIVED')}, 'dead', 2, 'msg_timelinehead00000000001', ${ago(2 * DAY)}::timestamptz, 'HTTP 500'),
      ('msg_timelinememb00000000001', ${A}, ${op.other}, 2, 'c2', ${sent(2, 'PENDING')}, 'batched', 0, 'msg_timelinehead00000000001', ${ago(2 * DAY)}::timestamptz, null),
      ('msg_timelinepend00000000001', ${A}, ${op.shipment}, 3, 'c3', ${sent(3, 'PENDING', 'IN_TRANSIT')}, 'pending', 1, null, ${ago(2 * HOUR)}::timestamptz, 'timeout')`.execute(db);
    await sql`insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, error, latency_ms) values
      ('msg_timelinehead00000000001', 2, ${ago(DAY)}::timestamptz, 500, 'HTTP 500', 40),
      ('msg_timelinehead00000000001', 1, ${ago(2 * DAY)}::timestamptz, 503, 'HTTP 503', 30)`.execute(db);
  });
  afterAll(() => t.close());

  const get = (url: string, headers: Record<string, string> = admin) => t.app.inject({ method: 'GET', url, headers });
  const search = async (q: string) => {
    const res = await get(`/admin/v1/search?q=${encodeURIComponent(q)}`);
    expect(res.statusCode).toBe(200);
    return res.json().matches as { kind: string; issuerId: string; cardId: string; operationId?: string }[];
  };

  it('finds by operation id, tracking number, correlation id and webhook-id, exactly', async () => {
    expect(await search(op.shipment)).toEqual([{ kind: 'operation', issuerId: A, cardId: 'CARD_TL_1', operationId: op.shipment }]);
    expect(await search('123456789012')).toEqual([{ kind: 'tracking_number', issuerId: A, cardId: 'CARD_TL_1', operationId: op.shipment }]);
    expect(await search('12345678901')).toEqual([]);
    expect(await search('corr-search-1')).toEqual([{ kind: 'correlation_id', issuerId: A, cardId: 'CARD_TL_1', operationId: op.shipment }]);
    // The webhook-id of a batch names every operation it carried.
    const carried = await search('msg_timelinehead00000000001');
    expect(carried.map((m) => [m.kind, m.cardId, m.operationId]).sort()).toEqual(
      [
        ['notification', 'CARD_TL_1', op.shipment],
        ['notification', 'CARD_TL_2', op.other],
      ].sort(),
    );
  });

  it('finds cards by the start of their id, taking _ literally', async () => {
    expect(await search('CARD_TL')).toEqual([
      { kind: 'card', issuerId: A, cardId: 'CARD_TL_1' },
      { kind: 'card', issuerId: A, cardId: 'CARD_TL_2' },
      { kind: 'card', issuerId: A, cardId: 'CARD_TL_3' },
    ]);
    expect((await search('CARDX')).map((m) => m.cardId)).toEqual(['CARDXTL9']);
    expect(await search('CARD%')).toEqual([]);
    const limited = await get('/admin/v1/search?q=CARD&limit=2');
    expect(limited.json().matches).toHaveLength(2);
  });

  it('answers a card timeline: operations newest first, checkpoints in order, notifications with their attempts', async () => {
    const res = await get(`/admin/v1/issuers/${A}/cards/CARD_TL_1/timeline`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.operations.map((o: { operation: { operationId: string } }) => o.operation.operationId)).toEqual([op.shipment, op.production]);
    const [ship] = body.operations;
    expect(ship).toMatchObject({ open: true, carrier: 'fedex', trackingNumber: '123456789012' });
    expect(ship.operation.details.shipment.checkpoints.map((c: { raw: { code: string } }) => c.raw.code)).toEqual(['PU', 'AR']);
    const sent = ship.notifications.filter((n: { notificationId: string }) => n.notificationId.startsWith('msg_timeline'));
    expect(sent.map((n: { sequenceNumber: number }) => n.sequenceNumber)).toEqual([2, 3]);
    expect(sent[0]).toMatchObject({ notificationId: 'msg_timelinehead00000000001', batched: false, state: 'dead', attempts: 2, lastError: 'HTTP 500' });
    expect(sent[0].attemptLog.map((a: { attempt: number; httpStatus: number }) => [a.attempt, a.httpStatus])).toEqual([
      [1, 503],
      [2, 500],
    ]);
    expect(sent[1]).toMatchObject({ state: 'pending', attempts: 1, attemptLog: [] });
    // What each update carried, read from its own payload.
    expect(sent.map((n: { carried: object }) => n.carried)).toEqual([
      { sequenceNumber: 2, status: 'PENDING', shipmentStatus: 'INFO_RECEIVED' },
      { sequenceNumber: 3, status: 'PENDING', shipmentStatus: 'IN_TRANSIT' },
    ]);
    expect(sent[1].nextAttemptAt).toEqual(expect.any(String));
    // A batched update shows the notification that carried it, its state and attempts.
    const other = (await get(`/admin/v1/issuers/${A}/cards/CARD_TL_2/timeline`)).json();
    const member = other.operations[0].notifications.find((n: { sequenceNumber: number }) => n.sequenceNumber === 2);
    expect(member).toMatchObject({ notificationId: 'msg_timelinehead00000000001', batched: true, state: 'dead', attempts: 2 });
    expect(member.carried).toEqual({ sequenceNumber: 2, status: 'PENDING', shipmentStatus: null });
    expect(member.attemptLog).toHaveLength(2);
  });

  it('answers 404 for a card with no operation and 400 for malformed ids', async () => {
    const unknown = await get(`/admin/v1/issuers/${A}/cards/NO_SUCH_CARD/timeline`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ errorCode: 'NOT_FOUND' });
    expect((await get('/admin/v1/issuers/short/cards/CARD_TL_1/timeline')).statusCode).toBe(400);
    expect((await get(`/admin/v1/issuers/${A}/cards/${'C'.repeat(49)}/timeline`)).statusCode).toBe(400);
    expect((await get(`/admin/v1/issuers/${A}/cards/bad%20card/timeline`)).json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT' });
  });

  it('lists stuck parcels and notifications by their thresholds, each naming its card', async () => {
    const stuck = async (query: string) => {
      const res = await get(`/admin/v1/insights/stuck?${query}`);
      expect(res.statusCode).toBe(200);
      return res.json();
    };
    const byDefault = await stuck('');
    expect(byDefault.thresholds).toEqual({ scanDays: 3, siteDays: 2, pendingHours: 1 });
    // Silent for 4 days (the shipment: still stuck at scanDays=4, not at 5) and never scanned in 3.5 days (CARD_TL_2); CARD_TL_3 was just asked.
    expect(byDefault.noScan.items.map((i: { cardId: string }) => i.cardId)).toEqual(['CARD_TL_1', 'CARD_TL_2']);
    expect(byDefault.noScan.items[0]).toMatchObject({ issuerId: A, operationId: op.shipment, status: 'IN_TRANSIT', lastScanAt: expect.any(String) });
    expect(byDefault.noScan.items[1]).toMatchObject({ operationId: op.other, status: 'PENDING', lastScanAt: null });
    expect(byDefault.noScan.byStatus).toEqual([
      { status: 'IN_TRANSIT', count: 1 },
      { status: 'PENDING', count: 1 },
    ]);
    expect((await stuck('scanDays=4')).noScan.items.map((i: { cardId: string }) => i.cardId)).toEqual(['CARD_TL_1']);
    expect((await stuck('scanDays=5')).noScan.items).toEqual([]);
    expect((await stuck('scanDays=3&limit=1')).noScan.items).toHaveLength(1);
    expect(byDefault.siteShippedNoScan.items).toEqual([
      expect.objectContaining({ issuerId: A, cardId: 'CARD_TL_2', operationId: op.other, siteId: 'SITE_1', status: 'PENDING' }),
    ]);
    expect((await stuck('siteDays=4')).siteShippedNoScan.items).toEqual([]);
    expect(byDefault.pendingNotifications.items).toEqual([
      expect.objectContaining({ issuerId: A, cardId: 'CARD_TL_1', operationId: op.shipment, notificationId: 'msg_timelinepend00000000001', attempts: 1 }),
    ]);
    expect((await stuck('pendingHours=3')).pendingNotifications.items).toEqual([]);
  });

  it('refuses bad input with 400 before any query', async () => {
    // No q at all asks nothing: no match (the bare path answers, as every Admin API read does).
    expect((await get('/admin/v1/search')).json()).toEqual({ matches: [] });
    for (const url of [
      '/admin/v1/search?q=',
      `/admin/v1/search?q=${'a'.repeat(129)}`,
      '/admin/v1/search?q=%01abc',
      '/admin/v1/search?q=%20abc',
      '/admin/v1/search?q=caf%C3%A9',
      '/admin/v1/search?q=abc&limit=0',
      '/admin/v1/search?q=abc&limit=101',
      '/admin/v1/search?q=abc&other=1',
      '/admin/v1/insights/stuck?scanDays=0',
      '/admin/v1/insights/stuck?siteDays=x',
      '/admin/v1/insights/stuck?pendingHours=721',
      '/admin/v1/insights/stuck?limit=501',
      // Ajv makes these ±Infinity and lets them through any minimum and maximum (the fuzz test's 500).
      '/admin/v1/insights/stuck?scanDays=1&pendingHours=1e309',
      '/admin/v1/insights/stuck?scanDays=-1e309',
      '/admin/v1/search?q=abc&limit=1e400',
      '/admin/v1/operations?limit=1e309',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json(), url).toMatchObject({ errorCode: expect.any(String), error: expect.any(String) });
    }
  });

  it('needs an admin token; the read scope is enough', async () => {
    const reader = await createAdminToken(t.store.db, 'card-reader', 'read');
    for (const url of ['/admin/v1/search?q=CARD', `/admin/v1/issuers/${A}/cards/CARD_TL_1/timeline`, '/admin/v1/insights/stuck']) {
      expect((await get(url, {})).statusCode, url).toBe(401);
      expect((await get(url, { authorization: `Bearer ${reader.token}` })).statusCode, url).toBe(200);
    }
  });
});
