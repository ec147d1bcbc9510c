import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarrierFigureFlusher } from '../src/carriers/figures.ts';
import { PROVIDER_NAMES } from '../src/carriers/provider.ts';
import { createProvider } from '../src/carriers/registry.ts';
import { rateLimitText } from '../src/http/routes/admin-carriers.ts';
import { createLogger } from '../src/logger.ts';
import { createAdminToken } from '../src/store/admin-tokens.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const noCalls = () => Promise.reject(new Error('no calls in this test'));
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** Configured secrets: none may show in the view, which only says whether one is set. */
const SECRETS = {
  TRACKHUB_CARRIER_FEDEX_CLIENT_SECRET: 'fedex-client-secret-9f2c41d7',
  TRACKHUB_CARRIER_UPS_CLIENT_SECRET: 'ups-client-secret-51be09aa',
  TRACKHUB_CARRIER_UPS_WEBHOOK_SECRET: 'ups-webhook-credential-7e3d90c2',
  TRACKHUB_CARRIER_DHL_API_KEY: 'dhl-api-key-0b6f12e8',
  TRACKHUB_CARRIER_DHL_WEBHOOK_SECRET: 'dhl-push-token-44c1a9f0',
};

interface View {
  provider: string;
  usable: boolean;
  budget: { count: number; perMs: number; text: string; maxBatch: number };
  window: { start: string; end: string; used: number; remaining: number; wanted: number } | null;
  lastWindow: { start: string; end: string; used: number; wanted: number; usedShare: number } | null;
  pausedUntil: string | null;
  demand: { wantedPerSecond: number | null; suppliedPerSecond: number; overloaded: boolean };
  breaker: { state: string; until: string | null; changedAt: string | null };
  totals: { calls: number; fallbacks: number; deadlineWaits: number; pushes: number };
  overdue: { parcels: number; at: string | null };
  push: { webhookConfigured: boolean; lastPushAt: string | null; subscriptions: number | null };
  unknownCodes: { total: number; codes: { code: string; seen: number; firstSeenAt: string; firstExample: string | null; lastSeenAt: string; lastExample: string | null }[] };
}

describe('rateLimitText', () => {
  it('writes a budget as its setting is written', () => {
    expect(rateLimitText({ count: 1400, perMs: 10_000 })).toBe('1400/10s');
    expect(rateLimitText({ count: 60, perMs: 3_600_000 })).toBe('60/1h');
    expect(rateLimitText({ count: 250, perMs: 86_400_000 })).toBe('250/1d');
    expect(rateLimitText({ count: 5, perMs: 1500 })).toBe('5/1500ms');
  });
});

describe.each(STORE_KINDS)('GET /admin/v1/carriers on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp(kind, { TRACKHUB_CARRIER_FEDEX_CLIENT_ID: 'fedex-id', TRACKHUB_CARRIER_UPS_CLIENT_ID: 'ups-id', TRACKHUB_CARRIER_FEDEX_RATE_LIMIT: '20/10s', ...SECRETS });
  });
  afterAll(() => t.close());

  const get = (url = '/admin/v1/carriers', headers: Record<string, string> = admin) => t.app.inject({ method: 'GET', url, headers });
  const views = async () => {
    const res = await get();
    expect(res.statusCode).toBe(200);
    return new Map((res.json().carriers as View[]).map((v) => [v.provider, v]));
  };

  it('needs an admin token', async () => {
    expect((await get('/admin/v1/carriers', {})).statusCode).toBe(401);
    expect((await get('/admin/v1/carriers', { authorization: 'Bearer not-the-token-at-all-0000000' })).statusCode).toBe(401);
    // Reading it is an operator's everyday look: the read scope is enough.
    const reader = await createAdminToken(t.store.db, 'carrier-watch', 'read');
    expect((await get('/admin/v1/carriers', { authorization: `Bearer ${reader.token}` })).statusCode).toBe(200);
  });

  it('refuses a query parameter it does not take', async () => {
    const res = await get('/admin/v1/carriers?provider=ups');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT' });
  });

  it('lists every provider, says which are configured, and shows no secret', async () => {
    const res = await get();
    for (const secret of Object.values(SECRETS)) expect(res.body).not.toContain(secret);
    expect(res.body).not.toContain('fedex-id');
    const body = res.json() as { at: string; carriers: View[] };
    expect(body.carriers.map((c) => c.provider)).toEqual([...PROVIDER_NAMES]);
    const v = new Map(body.carriers.map((c) => [c.provider, c]));
    expect([...v.values()].filter((c) => c.usable).map((c) => c.provider)).toEqual(['fedex', 'ups', 'dhl']);
    expect(v.get('fedex')?.budget).toEqual({ count: 20, perMs: 10_000, text: '20/10s', maxBatch: 30 });
    expect(v.get('usps')?.budget).toMatchObject({ text: '60/1h', maxBatch: createProvider('usps', { baseUrl: 'http://127.0.0.1' }, noCalls).maxBatch });
    expect([...v.values()].filter((c) => c.push.webhookConfigured).map((c) => c.provider)).toEqual(['ups', 'dhl']);
    // Never polled: no window yet, nothing counted.
    expect(v.get('laposte')).toMatchObject({
      window: null,
      lastWindow: null,
      pausedUntil: null,
      demand: { wantedPerSecond: null, overloaded: false },
      breaker: { state: 'closed', until: null, changedAt: null },
      totals: { calls: 0, fallbacks: 0, deadlineWaits: 0, pushes: 0 },
      overdue: { parcels: 0, at: null },
      push: { webhookConfigured: false, lastPushAt: null, subscriptions: null },
      unknownCodes: { total: 0, codes: [] },
    });
  });

  it('shows the figures the store holds: window, last window, demand against supply, pause, breaker, totals', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(now + ms).toISOString();
    await t.store.db
      .insertInto('carrier_rate_limits')
      .values({
        provider: 'fedex',
        window_start: iso(-4000),
        used: 15,
        wanted: 700,
        paused_until: iso(60_000),
        last_window_start: iso(-20_000),
        last_window_end: iso(-10_000),
        last_used: 18,
        last_wanted: 900,
        overdue: 42,
        overdue_at: iso(-1000),
        breaker_state: 'open',
        breaker_until: iso(30_000),
        breaker_changed_at: iso(-2000),
        calls_total: 12345,
        fallbacks_total: 7,
        deadline_waits_total: 3,
        pushes_total: 0,
      })
      .execute();
    // DHL: paused in the past (over), demand below supply.
    await t.store.db
      .insertInto('carrier_rate_limits')
      .values({ provider: 'dhl', window_start: iso(-1000), used: 1, paused_until: iso(-5000), last_window_start: iso(-7000), last_window_end: iso(-2000), last_used: 1, last_wanted: 1 })
      .execute();
    const v = await views();
    const fedex = v.get('fedex') as View;
    expect(fedex.window).toEqual({ start: iso(-4000), end: iso(6000), used: 15, remaining: 5, wanted: 700 });
    expect(fedex.lastWindow).toEqual({ start: iso(-20_000), end: iso(-10_000), used: 18, wanted: 900, usedShare: 0.9 });
    expect(fedex.pausedUntil).toBe(iso(60_000));
    // 900 numbers over a 10 s window is 90 a second; 20 calls of 30 numbers per 10 s supply 60.
    expect(fedex.demand).toEqual({ wantedPerSecond: 90, suppliedPerSecond: 60, overloaded: true });
    expect(fedex.breaker).toEqual({ state: 'open', until: iso(30_000), changedAt: iso(-2000) });
    expect(fedex.totals).toEqual({ calls: 12345, fallbacks: 7, deadlineWaits: 3, pushes: 0 });
    expect(fedex.overdue).toEqual({ parcels: 42, at: iso(-1000) });
    const dhl = v.get('dhl') as View;
    expect(dhl.pausedUntil).toBeNull();
    // 1 number over 5 s against 1 call of 1 number per 5 s: not over.
    expect(dhl.demand).toEqual({ wantedPerSecond: 0.2, suppliedPerSecond: 0.2, overloaded: false });
    expect(dhl.lastWindow?.usedShare).toBe(1);
  });

  it('counts UPS Track Alert subscriptions younger than 14 days, for UPS only', async () => {
    const day = 86_400_000;
    await t.store.db
      .insertInto('ups_track_alert_subscriptions')
      .values([
        { tracking_number: '1Z0000000000000001', subscribed_at: new Date(Date.now() - day).toISOString() },
        { tracking_number: '1Z0000000000000002', subscribed_at: new Date(Date.now() - 13 * day).toISOString() },
        { tracking_number: '1Z0000000000000003', subscribed_at: new Date(Date.now() - 15 * day).toISOString() },
      ])
      .execute();
    const v = await views();
    expect(v.get('ups')?.push.subscriptions).toBe(2);
    expect(v.get('fedex')?.push.subscriptions).toBeNull();
  });

  it('lists unknown codes newest first, at most 50 a provider, with the total', async () => {
    await sql`insert into carrier_unknown_codes (provider, code, seen, first_seen_at, first_example, last_seen_at, last_example)
      select 'usps', 'U' || lpad(i::text, 2, '0'), i, now() - interval '1 hour', 'first', now() - (i || ' seconds')::interval, 'last ' || i
      from generate_series(1, 60) as i`.execute(t.store.db);
    const usps = (await views()).get('usps') as View;
    expect(usps.unknownCodes.total).toBe(60);
    expect(usps.unknownCodes.codes).toHaveLength(50);
    expect(usps.unknownCodes.codes.slice(0, 3).map((c) => c.code)).toEqual(['U01', 'U02', 'U03']);
    expect(usps.unknownCodes.codes[0]).toMatchObject({ seen: 1, firstExample: 'first', lastExample: 'last 1' });
    expect((await views()).get('fedex')?.unknownCodes).toEqual({ total: 0, codes: [] });
  });

  it('counts an accepted push, never a refused one', async () => {
    const push = (credential: string) =>
      t.app.inject({
        method: 'POST',
        url: '/carriers/v1/dhl/webhook',
        headers: { 'content-type': 'application/json', 'dhl-webhook-token': credential },
        payload: readFileSync(new URL('./fixtures/carriers/push/dhl-unified-push-express.json', import.meta.url), 'utf8'),
      });
    const refused = await push('wrong-token-0000000000');
    expect(refused.statusCode).toBe(401);
    const accepted = await push(SECRETS.TRACKHUB_CARRIER_DHL_WEBHOOK_SECRET);
    expect(accepted.statusCode, accepted.body).toBe(200);
    await new CarrierFigureFlusher(t.store.db, createLogger('silent'), () => t.context.now()).flush();
    const dhl = (await views()).get('dhl') as View;
    expect(dhl.totals.pushes).toBe(1);
    expect(Date.parse(dhl.push.lastPushAt as string)).toBeGreaterThan(Date.now() - 60_000);
  });
});
