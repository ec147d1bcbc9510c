import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe.each(STORE_KINDS)('Admin API operations listing on %s', (kind) => {
  let t: TestApp;
  const A = 'ISSUER_OPA';
  const B = 'ISSUER_OPB';

  beforeAll(async () => {
    t = await testApp(kind);
    const a = await readyIssuer(t.app, A);
    const b = await readyIssuer(t.app, B);
    const track = (issuer: string, token: string, card: string, body: object) =>
      t.app.inject({ method: 'POST', url: `/banking/v1/issuers/${issuer}/physicalCards/${card}/track`, headers: { authorization: `Bearer ${token}` }, payload: body });
    // 7 PRODUCTION for A, one SHIPMENT for A, one RETURN for B, one superseded PRODUCTION for B.
    for (let i = 0; i < 7; i++) expect((await track(A, a.token, `CARD_${i}`, { trackingType: 'PRODUCTION' })).statusCode).toBe(202);
    expect((await track(A, a.token, 'CARD_S', { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '123456789012' })).statusCode).toBe(202);
    expect((await track(B, b.token, 'CARD_R', { trackingType: 'RETURN' })).statusCode).toBe(202);
    expect((await track(B, b.token, 'CARD_P', { trackingType: 'PRODUCTION' })).statusCode).toBe(202);
    expect((await track(B, b.token, 'CARD_P', { trackingType: 'PRODUCTION', productionSite: 'Paris' })).statusCode).toBe(202);
  });
  afterAll(() => t.close());

  const list = (query: string) => t.app.inject({ method: 'GET', url: `/admin/v1/operations?${query}`, headers: admin });

  it('filters by issuer, card, status, tracking type, carrier and openness', async () => {
    const byIssuer = (await list(`issuerId=${A}`)).json();
    expect(byIssuer.operations).toHaveLength(8);
    expect(byIssuer.operations.every((o: { operation: { issuerId: string } }) => o.operation.issuerId === A)).toBe(true);
    const shipment = (await list(`trackingType=SHIPMENT`)).json().operations;
    expect(shipment).toHaveLength(1);
    expect(shipment[0]).toMatchObject({ carrier: 'fedex', trackingNumber: '123456789012', open: true, operation: { cardId: 'CARD_S', status: 'PENDING' } });
    const failed = (await list(`issuerId=${B}&status=FAILED`)).json().operations;
    expect(failed).toHaveLength(1);
    expect(failed[0].operation).toMatchObject({ cardId: 'CARD_P', errorCode: 'SUPERSEDED' });
    expect(failed[0].open).toBe(false);
    expect((await list(`issuerId=${B}&cardId=CARD_P`)).json().operations).toHaveLength(2);
    expect((await list(`issuerId=${B}&cardId=CARD_P&open=true`)).json().operations).toHaveLength(1);
    expect((await list(`carrier=ups`)).json().operations).toHaveLength(0);
  });

  it('pages newest first with a cursor, without gaps or repeats', async () => {
    type Listed = { open: boolean; operation: { operationId: string; cardId: string; startTime: string } };
    const seen: Listed[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list(`limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const body = res.json() as { operations: Listed[]; nextCursor: string | null };
      seen.push(...body.operations);
      cursor = body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(4);
    const ids = seen.map((o) => o.operation.operationId);
    // None missing, none twice: exactly the operations in the store.
    // created_at to the microsecond, as text that sorts as the time does (a JS Date keeps milliseconds).
    const stored = await t.store.db
      .selectFrom('operations')
      .select(['operation_id', sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')`.as('created')])
      .execute();
    expect(stored).toHaveLength(11);
    expect([...ids].sort()).toEqual(stored.map((o) => o.operation_id).sort());
    // Newest first by what the listing sorts on (creation time, then id), strictly: each before the next.
    const created = new Map(stored.map((o) => [o.operation_id, o.created]));
    for (let i = 1; i < ids.length; i++) {
      const [a, b] = [ids[i - 1], ids[i]];
      const [ca, cb] = [created.get(a) as string, created.get(b) as string];
      expect(ca > cb || (ca === cb && a > b), `${a} (${ca}) before ${b} (${cb})`).toBe(true);
    }
    // The setup made them one request after another: newest first is the reverse of that order (the
    // second CARD_P, which superseded the first, on top), and start times never go up.
    expect(seen.map((o) => [o.operation.cardId, o.open])).toEqual([
      ['CARD_P', true], ['CARD_P', false], ['CARD_R', true], ['CARD_S', true],
      ...[6, 5, 4, 3, 2, 1, 0].map((i) => [`CARD_${i}`, true]),
    ]);
    for (let i = 1; i < seen.length; i++) expect(seen[i - 1].operation.startTime >= seen[i].operation.startTime).toBe(true);
    const all = (await list('limit=500')).json().operations.map((o: Listed) => o.operation.operationId);
    expect(ids).toEqual(all);
  });

  it('refuses bad filters and cursors with the contract error body, and callers without the admin token', async () => {
    for (const [query, field] of [
      ['status=DONE', 'status'],
      ['limit=0', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      ['issuerId=short', 'issuerId'],
      ['colour=red', 'colour'],
    ]) {
      const res = await list(query);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().errorCode).toBe('FIELD_INVALID_FORMAT');
      expect(res.json().error).toContain(field);
    }
    // A filter with a fixed set of values names them.
    expect((await list('status=DONE')).json().error).toMatch(/^status: must be one of [A-Z_]+(, [A-Z_]+)+$/);
    const state = await t.app.inject({ method: 'GET', url: '/admin/v1/notifications?state=deadd', headers: admin });
    expect(state.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'state: must be one of pending, delivered, dead' });
    // Every Admin route answers an unknown query parameter the same way, those that take none included.
    for (const path of ['/admin/v1/operations', '/admin/v1/issuers', '/admin/v1/admin-tokens', '/admin/v1/audit', '/admin/v1/notifications', '/admin/v1/issuers/ISSUER_000']) {
      const res = await t.app.inject({ method: 'GET', url: `${path}?colour=red`, headers: admin });
      expect(res.statusCode, path).toBe(400);
      expect(res.json(), path).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'colour: is not a known query parameter' });
    }
    // The name is the client's: shown cut to 64 characters, and an invisible character escaped.
    const long = await t.app.inject({ method: 'GET', url: `/admin/v1/carriers?${'k'.repeat(5000)}=1`, headers: admin });
    expect(long.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: `${'k'.repeat(64)}…: is not a known query parameter` });
    const bidi = await t.app.inject({ method: 'GET', url: `/admin/v1/carriers?ab${encodeURIComponent('\u202e')}cd=1`, headers: admin });
    expect(bidi.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'ab\\u202ecd: is not a known query parameter' });
    const anonymous = await t.app.inject({ method: 'GET', url: '/admin/v1/operations?status=DONE' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
  });
});
