import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminToken } from '../src/store/admin-tokens.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

describe.each(STORE_KINDS)('GET /admin/v1/insights/site-silence on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp(kind);
    const db = t.store.db;
    const op = (id: string, open: boolean, site?: string) =>
      sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state)
        values (${id}, 'ISSUER_SIL', ${id}, 'PRODUCTION', 'h', 'PENDING', ${open}, ${JSON.stringify({ request: { trackingType: 'PRODUCTION', ...(site ? { productionSite: site } : {}) } })})`.execute(db);
    await op('w_a1', true, 'SITE-A');
    await op('w_a2', true, 'SITE-A');
    await op('w_any', true);
    await op('w_done_b', false, 'SITE-B');
    await op('w_c', true, 'SITE-C');
    // A: silent 3 days (its only report is older than the look-back); B: reported 2 h ago; C: registered an hour ago.
    await sql`insert into production_sites (site_id, name, created_at) values ('SITE-A', 'A', ${ago(5 * DAY)}), ('SITE-B', 'B', ${ago(5 * DAY)}), ('SITE-C', 'C', ${ago(3_600_000)})`.execute(db);
    await sql`insert into site_events (site_id, event_id, issuer_id, card_id, type, occurred_at, received_at)
      values ('SITE-B', 'e1', 'ISSUER_SIL', 'c1', 'CARD_SHIPPED', now(), ${ago(7_200_000)}), ('SITE-A', 'e0', 'ISSUER_SIL', 'c0', 'CARD_SHIPPED', now(), ${ago(3 * DAY)})`.execute(db);
  });
  afterAll(() => t.close());

  const get = (url = '/admin/v1/insights/site-silence', headers: Record<string, string> = admin) => t.app.inject({ method: 'GET', url, headers });

  it('lists each registered site with the requests it may answer and its silence, flagging a day of silence while requests wait', async () => {
    const res = await get();
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { at: string; silentAfterSeconds: number; lookbackSeconds: number; sites: { productionSite: string; requestsWaiting: number; silentSeconds: number; silent: boolean }[] };
    expect(body.silentAfterSeconds).toBe(86_400);
    expect(body.lookbackSeconds).toBe(2 * 86_400);
    expect(Math.abs(Date.parse(body.at) - Date.now())).toBeLessThan(60_000);
    expect(body.sites.map((s) => [s.productionSite, s.requestsWaiting, s.silent])).toEqual([
      // Requests naming no site count for every site: any may answer them.
      ['SITE-A', 3, true],
      ['SITE-B', 1, false],
      ['SITE-C', 2, false],
    ]);
    const [a, b, c] = body.sites;
    expect(a?.silentSeconds).toBe(2 * 86_400);
    expect(b?.silentSeconds).toBeGreaterThanOrEqual(7_200);
    expect(b?.silentSeconds).toBeLessThan(7_200 + 120);
    expect(c?.silentSeconds).toBeGreaterThanOrEqual(3_600);
    expect(c?.silentSeconds).toBeLessThan(3_600 + 120);
  });

  it('needs an admin token; read is enough', async () => {
    expect((await get('/admin/v1/insights/site-silence', {})).statusCode).toBe(401);
    const reader = await createAdminToken(t.store.db, 'site-watch', 'read');
    expect((await get('/admin/v1/insights/site-silence', { authorization: `Bearer ${reader.token}` })).statusCode).toBe(200);
  });

  it('refuses a query parameter it does not take with the contract error body', async () => {
    const res = await get('/admin/v1/insights/site-silence?site=SITE-A');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT' });
  });
});
