import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNREGISTERED_SITES_SHOWN } from '../src/store/insights.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const WINDOW = 'from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z';
const MADE_UP = UNREGISTERED_SITES_SHOWN + 30;

/**
 * Delivered shipments that a site made, one per site name, written straight into the store: each is a
 * PRODUCTION request naming that site (its requests) and a shipment it made (its delivery time).
 */
async function seedSites(t: TestApp, names: string[]): Promise<void> {
  await sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, carrier, created_at, updated_at)
    select k || '_' || n, 'ISSUERCAP1', 'card_' || n, k, 'h', 'SUCCESSFUL', false,
      jsonb_build_object('operationId', k || '_' || n, 'issuerId', 'ISSUERCAP1', 'cardId', 'card_' || n, 'trackingType', k, 'correlationId', 'c',
        'request', jsonb_build_object('trackingType', k, 'productionSite', n), 'productionSite', n, 'status', 'SUCCESSFUL', 'open', false,
        'startTime', '2026-01-01T01:00:00.000Z', 'endTime', '2026-01-01T03:00:00.000Z', 'updatedAt', '2026-01-01T03:00:00.000Z', 'sequenceNumber', 2,
        'shipment', jsonb_build_object('carrier', 'fedex', 'trackingNumber', '1', 'trackingUrl', 'u', 'message', '', 'status', 'DELIVERED', 'checkpoints', '[]'::jsonb)),
      case when k = 'SHIPMENT' then 'fedex' end, '2026-01-01T01:00:00Z', '2026-01-01T03:00:00Z'
    from unnest(${names}::text[]) n cross join (values ('SHIPMENT'), ('PRODUCTION')) t(k)`.execute(t.store.db);
}

describe('insights count every registered site, however many names issuers make up', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp('postgres');
    // Registered, and alphabetically after every made-up name.
    const put = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/ZZ-REAL', headers: admin, payload: { name: 'Real' } });
    expect(put.statusCode).toBe(201);
    const madeUp = Array.from({ length: MADE_UP }, (_, i) => `FAKE-${String(i).padStart(4, '0')}`);
    await seedSites(t, [...madeUp, 'ZZ-REAL']);
  });
  afterAll(async () => t?.close());

  it('GET /insights/sites keeps registered sites with their figures and reports how many other names it left out', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/admin/v1/insights/sites?${WINDOW}`, headers: admin });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.unregisteredSitesOmitted).toBe(MADE_UP - UNREGISTERED_SITES_SHOWN);
    expect(body.sites).toHaveLength(UNREGISTERED_SITES_SHOWN + 1);
    const real = body.sites.find((s: { productionSite: string }) => s.productionSite === 'ZZ-REAL');
    expect(real).toMatchObject({ registered: true, requested: 1, shipped: { count: 1 } });
    expect(body.sites.filter((s: { registered: boolean }) => !s.registered).at(-1).productionSite).toBe(`FAKE-${String(UNREGISTERED_SITES_SHOWN - 1).padStart(4, '0')}`);
  });

  it("GET /insights/summary's delivery time by site keeps registered sites and reports the cut", async () => {
    const res = await t.app.inject({ method: 'GET', url: `/admin/v1/insights/summary?${WINDOW}`, headers: admin });
    expect(res.statusCode).toBe(200);
    const { bySite, unregisteredSitesOmitted } = res.json().deliveryTime;
    expect(unregisteredSitesOmitted).toBe(MADE_UP - UNREGISTERED_SITES_SHOWN);
    expect(bySite).toHaveLength(UNREGISTERED_SITES_SHOWN + 1);
    expect(bySite.find((s: { productionSite: string }) => s.productionSite === 'ZZ-REAL')).toMatchObject({ count: 1 });
  });
});
