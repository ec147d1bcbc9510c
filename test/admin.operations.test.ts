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
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list(`limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const body = res.json() as { operations: { operation: { operationId: string; startTime: string } }[]; nextCursor: string | null };
      seen.push(...body.operations.map((o) => o.operation.operationId));
      cursor = body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(4);
    expect(seen).toHaveLength(11);
    expect(new Set(seen).size).toBe(11);
    const all = (await list('limit=500')).json().operations.map((o: { operation: { operationId: string } }) => o.operation.operationId);
    expect(seen).toEqual(all);
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
    const anonymous = await t.app.inject({ method: 'GET', url: '/admin/v1/operations?status=DONE' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
  });
});
