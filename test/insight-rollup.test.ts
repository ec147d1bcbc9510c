import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketPercentile, ensureRolled, PERCENTILE_ERROR } from '../src/store/insight-rollup.ts';
import { insightsSummary, siteInsights } from '../src/store/insights.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

const HOUR = 3_600_000;
const CARRIERS = ['fedex', 'ups', 'dhl'];
const SITES = ['LONDON', 'MADRID', null];
const SHIPMENT_STATUSES = ['INFO_RECEIVED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'EXCEPTION', 'DELIVERED', 'RETURNED_TO_SENDER'];

/**
 * Operations spread over the 4 days before `base`, every kind the insights tell apart: open and closed,
 * delivered or not, failed with a code, PRODUCTION with a named site, an unnamed one or none.
 */
async function seed(s: TestStore, base: number): Promise<void> {
  for (let i = 0; i < 240; i++) {
    const type = ['SHIPMENT', 'PRODUCTION', 'SHIPMENT', 'RETURN'][i % 4];
    const created = base - 4 * 24 * HOUR + i * 23 * 60_000 + (i % 7) * 1_000;
    const open = i % 5 === 0;
    const ended = open ? created : Math.min(created + (1 + (i % 9)) * 3 * HOUR + i * 997, base - 60_000);
    const status = open ? 'PENDING' : i % 11 === 0 ? 'FAILED' : 'SUCCESSFUL';
    const site = SITES[i % 3];
    const shipStatus = SHIPMENT_STATUSES[i % 6];
    const state = {
      operationId: `op_${i}`,
      trackingType: type,
      request: { trackingType: type, ...(site && i % 2 === 0 ? { productionSite: site } : {}) },
      status,
      open,
      startTime: new Date(created).toISOString(),
      ...(open ? {} : { endTime: new Date(ended).toISOString() }),
      ...(status === 'FAILED' ? { errorCode: type === 'PRODUCTION' ? 'PRODUCTION_TIMEOUT' : 'TRACKING_EXPIRED' } : {}),
      ...(!open && site && i % 2 === 1 ? { productionSite: site } : {}),
      ...(type === 'SHIPMENT' ? { shipment: { status: shipStatus, checkpoints: [{ status: SHIPMENT_STATUSES[(i + 3) % 6] }] } } : {}),
    };
    await sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, carrier, created_at, updated_at)
      values (${`op_${i}`}, 'ISS', ${`card_${i}`}, ${type}, 'h', ${status}, ${open}, ${JSON.stringify(state)}::jsonb,
        ${type === 'SHIPMENT' ? CARRIERS[i % 3] : null}, ${new Date(created).toISOString()}, ${new Date(ended).toISOString()})`.execute(s.db);
  }
}

describe.each(STORE_KINDS)('insight roll-ups on %s', (kind) => {
  let s: TestStore;
  const now = Date.now();
  // Edges inside hours, so each answer mixes rolled hours and live partial ones.
  const w = { from: new Date(now - 3 * 24 * HOUR - 17 * 60_000), to: new Date(now - 5 * HOUR + 29 * 60_000) };

  beforeAll(async () => {
    s = await freshStore(kind);
    await seed(s, now);
  });
  afterAll(() => s.close());

  it('a rolled answer equals the live computation on the same data, before and after rolling', async () => {
    const liveSummary = await insightsSummary(s.db, w, false);
    const liveSites = await siteInsights(s.db, w, false);
    expect(liveSummary.funnel.shipments).toBeGreaterThan(0);
    expect(liveSummary.deliveryTime.byCarrier.length).toBeGreaterThan(0);
    // Two instances asking at once roll each hour once (the advisory lock), so neither count doubles.
    const [a, b] = await Promise.all([insightsSummary(s.db, w), insightsSummary(s.db, w)]);
    expect(a).toEqual(liveSummary);
    expect(b).toEqual(liveSummary);
    expect(await siteInsights(s.db, w)).toEqual(liveSites);
    const rolled = await sql<{ n: number }>`select count(*)::int as n from insight_hours`.execute(s.db);
    expect(rolled.rows[0].n).toBeGreaterThan(60);
    const c = await ensureRolled(s.db, w.from, w.to);
    expect(c.rolled).not.toBeNull();
    expect(c.live).toHaveLength(2);
  });

  it("reads a carrier's update time as PostgreSQL's own cast does, with or without an offset, and gives null for any other form", async () => {
    const texts = ['2026-03-10T21:12:04.000Z', '2026-03-10T21:12:04Z', '2026-03-10T23:12:04.123+02:00', '2026-03-10T18:42:04.5-02:30'];
    const r = await sql<{ t: string; same: boolean }>`select t, insights_instant(t) = t::timestamptz as same from unnest(${texts}::text[]) t`.execute(s.db);
    expect(r.rows).toEqual(texts.map((t) => ({ t, same: true })));
    const bad = await sql<{ v: Date | null }>`select insights_instant(t) as v from unnest(${['2026-03-10 21:12', 'soon', '']}::text[]) t`.execute(s.db);
    expect(bad.rows).toEqual([{ v: null }, { v: null }, { v: null }]);
  });

  it('stays equal when an operation of a rolled hour closes later, and when an unnamed request gets its site', async () => {
    await insightsSummary(s.db, w);
    const before = await insightsSummary(s.db, w, false);
    // op_80 (an open shipment opened in a rolled hour) is delivered now; op_65 (an open PRODUCTION that named
    // no site) is completed by LONDON now.
    await sql`update operations set status = 'SUCCESSFUL', is_open = false, updated_at = now(),
        state = state || jsonb_build_object('status', 'SUCCESSFUL', 'open', false, 'endTime', now(), 'shipment', '{"status": "DELIVERED", "checkpoints": []}'::jsonb)
      where operation_id = 'op_80'`.execute(s.db);
    await sql`update operations set status = 'SUCCESSFUL', is_open = false, updated_at = now(),
        state = state || jsonb_build_object('status', 'SUCCESSFUL', 'open', false, 'endTime', now(), 'productionSite', 'LONDON')
      where operation_id = 'op_65'`.execute(s.db);
    const after = await insightsSummary(s.db, w);
    expect(after).toEqual(await insightsSummary(s.db, w, false));
    expect(after.funnel.DELIVERED).toBe(before.funnel.DELIVERED + 1);
    const sites = await siteInsights(s.db, w);
    expect(sites).toEqual(await siteInsights(s.db, w, false));
  });
});

describe('percentiles read from buckets', () => {
  /** percentile_cont: linear between the order statistics around p·(n−1). */
  function exact(values: number[], p: number): number {
    const v = [...values].sort((a, b) => a - b);
    const rank = p * (v.length - 1);
    const k = Math.floor(rank);
    return k + 1 < v.length ? v[k] + (rank - k) * (v[k + 1] - v[k]) : v[k];
  }

  it('are within PERCENTILE_ERROR of percentile_cont over the same values', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    for (const n of [1, 2, 3, 10, 101, 5000]) {
      const values = Array.from({ length: n }, () => 60 + random() * random() * 400_000);
      const buckets = new Map<number, number>();
      for (const v of values) {
        const b = Math.floor(16 * Math.log2(v));
        buckets.set(b, (buckets.get(b) ?? 0) + 1);
      }
      for (const p of [0.5, 0.9]) {
        const got = bucketPercentile([...buckets].map(([bucket, count]) => ({ bucket, n: count })), p) ?? Number.NaN;
        const want = exact(values, p);
        expect(Math.abs(got - want)).toBeLessThanOrEqual(want * PERCENTILE_ERROR);
      }
    }
    expect(bucketPercentile([], 0.5)).toBeNull();
  });
});
