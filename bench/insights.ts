/**
 * The store queries behind the insights (GET /admin/v1/insights/summary and /sites), the search of each
 * kind (GET /admin/v1/search), a card's timeline (…/cards/{cardId}/timeline) and the stuck lists
 * (GET /admin/v1/insights/stuck, its defaults) on a store holding `--operations` operations (1,000,000 by
 * default) spread over 60 days, on the PostgreSQL that TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL
 * names (a new database, dropped after). Each query runs 20 times after one warm-up; prints p50 and p95,
 * against a baseline of the same run: `select count(*) from operations`, and what it found. The summary
 * and sites are also timed computed live from operations (no roll-up: the approach before migration
 * 0016, 5 runs) and the first call's cost, which rolls up the window's hours (once per hour, ever).
 *
 *   npx tsx bench/insights.ts [--operations 1000000]
 */
import { sql } from 'kysely';
import { siteAlertFigures } from '../src/store/alert-figures.ts';
import { readCardTimeline, searchCards } from '../src/store/card-timeline.ts';
import { type Db, migrate, openStore } from '../src/store/db.ts';
import { insightsSummary, siteInsights } from '../src/store/insights.ts';
import { readStuck } from '../src/store/stuck.ts';
import { onBenchPostgres } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';

const { operations: N } = benchArgs('insights', { operations: { type: 'number', default: 1_000_000 } });
const DAYS = 60;
const RUNS = 20;
const LIVE_RUNS = 5;
const TARGET_MS = 200;
const TIMELINE_OPS = 8;

/**
 * What search, the timeline and the stuck lists read besides operations: a notification for every 4th
 * operation with its attempts (1 in 300 still pending, so the pending list has old rows; 1 in 40 batched
 * under the row before it, waiting as 'batched' with no attempts of its own), a CARD_SHIPPED site report
 * for 1 in 20 operations, and one card with TIMELINE_OPS finished operations, 3 notifications each and 2
 * attempts per notification.
 */
async function seedCardsAndDelivery(db: Db, now: Date): Promise<void> {
  const at = now.toISOString();
  await sql`
    insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, last_error, batch_id, next_attempt_at, created_at, delivered_at)
    select 'wh_' || g, 'BENCHBANK' || (g % 5), 'op_bench_' || g, 2, 'corr_' || g, '{}', st,
      case st when 'delivered' then 1 when 'batched' then 0 else 3 end, case when st in ('pending', 'dead') then 'HTTP 503' end,
      case g % 40 when 4 then 'wh_' || g when 8 then 'wh_' || (g - 4) end, c + interval '1 hour', c, case when st = 'delivered' then c + interval '1 second' end
    from (select g, case when g % 40 = 8 then 'batched' when g % 300 = 0 then 'pending' when g % 97 = 0 then 'dead' else 'delivered' end as st,
            ${at}::timestamptz - make_interval(secs => g::float8 * ${(DAYS * 86400) / N}) as c
          from generate_series(4, ${N}, 4) g) x`.execute(db);
  await sql`
    insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, created_at, updated_at)
    select 'op_tl_' || k, 'BENCHBANK0', 'card_timeline', tt, 'h', 'SUCCESSFUL', false,
      jsonb_build_object('operationId', 'op_tl_' || k, 'issuerId', 'BENCHBANK0', 'cardId', 'card_timeline', 'trackingType', tt, 'correlationId', 'corr_tl_' || k,
        'request', jsonb_build_object('trackingType', tt), 'status', 'SUCCESSFUL', 'open', false, 'startTime', c, 'updatedAt', c, 'endTime', c, 'sequenceNumber', 3), c, c
    from (select k, (array['PRODUCTION','SHIPMENT','RETURN'])[k % 3 + 1] as tt, ${at}::timestamptz - make_interval(days => k) as c
          from generate_series(1, ${TIMELINE_OPS}) k) x`.execute(db);
  await sql`
    insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, created_at, delivered_at)
    select 'wh_tl_' || k || '_' || s, 'BENCHBANK0', 'op_tl_' || k, s, 'corr_tl_' || k, '{}', 'delivered', 2, c, c + interval '1 minute'
    from generate_series(1, ${TIMELINE_OPS}) k, generate_series(1, 3) s, lateral (select ${at}::timestamptz - make_interval(days => k) as c) t`.execute(db);
  await sql`
    insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, error, latency_ms)
    select n.id, a, n.created_at + make_interval(mins => a), case when a = n.attempts and n.state = 'delivered' then 200 else 503 end,
      case when a < n.attempts or n.state <> 'delivered' then 'HTTP 503' end, 40 + a
    from outbox n, generate_series(1, n.attempts) a`.execute(db);
  await sql`
    insert into site_events (site_id, event_id, issuer_id, card_id, type, occurred_at, carrier, tracking_number, received_at, matched_operation_id)
    select (array['LONDON','MADRID','PARIS','OSLO'])[(g / 7) % 4 + 1], 'ev_' || g, 'BENCHBANK' || (g % 5), 'card_' || g, 'CARD_SHIPPED', c - interval '1 hour',
      'fedex', '7712' || g, c, 'op_bench_' || g
    from (select g, ${at}::timestamptz - make_interval(secs => g::float8 * ${(DAYS * 86400) / N}) as c from generate_series(5, ${N}, 20) g) x`.execute(db);
}

async function time(fn: () => Promise<unknown>, runs = RUNS): Promise<{ p50: number; p95: number; first: number; found: string }> {
  const start = performance.now();
  const found = describe(await fn());
  const first = performance.now() - start;
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor((runs - 1) / 2)], p95: ms[Math.ceil(0.95 * runs) - 1], first, found };
}

/** What a query found, so a figure is never that of an empty answer. */
function describe(r: unknown): string {
  if (Array.isArray(r) && r.length === 0) return 'nothing found';
  if (Array.isArray(r)) return `${r.length} ${'kind' in r[0] ? `matches (${[...new Set(r.map((m) => m.kind))].join(', ')})` : 'rows'}`;
  if (r && typeof r === 'object' && 'noScan' in r) {
    const l = r as Awaited<ReturnType<typeof readStuck>>;
    const total = l.noScan.byStatus.reduce((n, b) => n + b.count, 0);
    return `${total} stuck shipments (${l.noScan.items.length} listed), ${l.siteShippedNoScan.items.length} site-shipped unscanned, ${l.pendingNotifications.items.length} pending notifications`;
  }
  return '';
}

const ran = await onBenchPostgres(async (url) => {
  const store = await openStore(url);
  try {
    await migrate(store.db);
    const db = store.db;
    const now = new Date();
    const insertStart = performance.now();
    // One statement: 40 % PRODUCTION, 50 % SHIPMENT, 10 % RETURN; 80 % finished (1 in 17 FAILED), the
    // rest open; shipments carry 1 to 6 checkpoints, as a state built by the hub would.
    await sql`
      with cps(k, st, cps) as (
        select k, (array['INFO_RECEIVED','IN_TRANSIT','OUT_FOR_DELIVERY','EXCEPTION','IN_TRANSIT','DELIVERED'])[k],
          (select jsonb_agg(jsonb_build_object('checkpointTime', '2026-01-01T00:00:00Z', 'message', 'Scan ' || j, 'city', 'Lyon', 'countryCode', 'FR',
             'status', (array['INFO_RECEIVED','IN_TRANSIT','IN_TRANSIT','OUT_FOR_DELIVERY','EXCEPTION','DELIVERED'])[j],
             'raw', jsonb_build_object('code', 'C' || j, 'description', 'Carrier scan number ' || j)))
           from generate_series(1, k) j)
        from generate_series(1, 6) k
      ),
      o as (
        select g,
          case when g % 10 = 0 then 'RETURN' when g % 10 < 5 then 'PRODUCTION' else 'SHIPMENT' end as tt,
          g % 5 = 0 as open,
          ${now.toISOString()}::timestamptz - make_interval(secs => g::float8 * ${(DAYS * 86400) / N}) as created,
          -- Up to three days, and never past now: a finished operation finished in the past.
          least(make_interval(secs => 3600 + (g::bigint * 7919) % 259200), ${now.toISOString()}::timestamptz - (${now.toISOString()}::timestamptz - make_interval(secs => g::float8 * ${(DAYS * 86400) / N}))) as dur,
          (array['fedex','ups','dhl','usps','laposte'])[(g / 3) % 5 + 1] as carrier,
          (array['LONDON','MADRID','PARIS','OSLO'])[(g / 7) % 4 + 1] as site
        from generate_series(1, ${N}) g
      ),
      s as (
        select o.*, case when open then 'PENDING' when g % 17 = 0 then 'FAILED' else 'SUCCESSFUL' end as status,
          case when tt <> 'SHIPMENT' then null when not open and g % 17 <> 0 then 6 else (g / 11) % 5 + 1 end as k
        from o
      )
      insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, carrier, tracking_number, created_at, updated_at)
      select 'op_bench_' || g, 'BENCHBANK' || (g % 5), 'card_' || g, tt, 'h', status, open,
        jsonb_build_object('operationId', 'op_bench_' || g, 'issuerId', 'BENCHBANK' || (g % 5), 'cardId', 'card_' || g, 'trackingType', tt,
          'correlationId', 'corr_' || g, 'request', jsonb_build_object('trackingType', tt, 'productionSite', site),
          'status', status, 'open', open, 'startTime', created, 'updatedAt', created, 'sequenceNumber', 2)
        || case when open then '{}'::jsonb else jsonb_build_object('endTime', created + dur, 'productionSite', site) end
        || case when status <> 'FAILED' then '{}'::jsonb
             else jsonb_build_object('errorCode', case tt when 'PRODUCTION' then 'PRODUCTION_TIMEOUT' when 'RETURN' then 'RETURN_TIMEOUT' else 'TRACKING_EXPIRED' end) end
        || case when tt <> 'SHIPMENT' then '{}'::jsonb
             else jsonb_build_object('shipment', jsonb_build_object('carrier', carrier, 'trackingNumber', '7712' || g, 'trackingUrl', 'https://example.com/' || g,
               'message', 'In transit', 'status', cps.st, 'checkpoints', cps.cps)
               -- An open parcel's newest carrier update, up to two days after its request: the stuck list's clock.
               || case when open then jsonb_build_object('lastUpdatedAt', least(created + make_interval(hours => g % 48), ${now.toISOString()}::timestamptz)) else '{}'::jsonb end) end,
        case when tt = 'SHIPMENT' then carrier end, case when tt = 'SHIPMENT' then '7712' || g end,
        created, case when open then created else created + dur end
      from s left join cps on cps.k = s.k`.execute(db);
    // Registered, as every issuer whose operations the hub holds is (the card search looks up a card's issuers among them).
    await sql`insert into issuers (issuer_id, name, notification_base_url, jwks)
      select 'BENCHBANK' || k, 'BENCHBANK' || k, 'https://bank.example', '{"keys":[]}'::jsonb from generate_series(0, 4) k`.execute(db);
    await sql`insert into production_sites (site_id, name) select s, s from unnest(array['LONDON','MADRID','PARIS','OSLO']) s`.execute(db);
    await sql`insert into inbox_files (site_id, file_key, name, state, accepted, rejected_count, created_at)
      select (array['LONDON','MADRID','PARIS','OSLO'])[g % 4 + 1], 'f' || g, 'f' || g || '.csv', 'done', 1000, g % 3,
        ${now.toISOString()}::timestamptz - make_interval(hours => g) from generate_series(1, 2000) g`.execute(db);
    await seedCardsAndDelivery(db, now);
    const insertMs = performance.now() - insertStart;
    for (const t of ['operations', 'inbox_files', 'outbox', 'delivery_attempts', 'site_events']) await sql`vacuum analyze ${sql.table(t)}`.execute(db);
    const day = { from: new Date(now.getTime() - 86_400_000), to: now };
    const month = { from: new Date(now.getTime() - 31 * 86_400_000), to: now };
    const baseline = await time(() => sql`select count(*) from operations`.execute(db));
    console.log(`${N.toLocaleString('en')} operations over ${DAYS} days inserted with their notifications, attempts and site reports in ${(insertMs / 1000).toFixed(1)} s (INSERT … SELECT generate_series)`);
    console.log(`baseline select count(*) from operations: p50 ${baseline.p50.toFixed(1)} ms, p95 ${baseline.p95.toFixed(1)} ms`);
    // Live first (nothing is rolled yet, and it never rolls), then with roll-ups: the first call rolls.
    const live: Record<string, number> = {};
    for (const [name, fn] of [
      ['summary, 31 days', () => insightsSummary(db, month, false)],
      ['sites, 31 days', () => siteInsights(db, month, false)],
      ['summary, last 24 h', () => insightsSummary(db, day, false)],
    ] as const) {
      const t = await time(fn, LIVE_RUNS);
      live[name] = t.p50;
      console.log(`${name}, live from operations (no roll-up): p50 ${t.p50.toFixed(1)} ms, p95 ${t.p95.toFixed(1)} ms (${LIVE_RUNS} runs)`);
    }
    const cases: [string, () => Promise<unknown>, string?][] = [
      ['summary, last 24 h (default)', () => insightsSummary(db, day), 'summary, last 24 h'],
      ['sites, last 24 h (default)', () => siteInsights(db, day)],
      ['summary, 31 days (the maximum)', () => insightsSummary(db, month), 'summary, 31 days'],
      ['sites, 31 days (the maximum)', () => siteInsights(db, month), 'sites, 31 days'],
      // The search route's store call, one per kind of text (limit 20, the route's default).
      ['search: operation id', () => searchCards(db, 'op_bench_500000', 20)],
      ['search: webhook-id (a batch head carrying 2 operations)', () => searchCards(db, 'wh_4004', 20)],
      ['search: tracking number', () => searchCards(db, '7712500005', 20)],
      ['search: correlation id', () => searchCards(db, 'corr_500000', 20)],
      ['search: card id prefix card_5000 (no exact match)', () => searchCards(db, 'card_5000', 20)],
      [`timeline: a card with ${TIMELINE_OPS} operations, ${TIMELINE_OPS * 3} notifications, ${TIMELINE_OPS * 6} attempts`, () => readCardTimeline(db, 'BENCHBANK0', 'card_timeline')],
      // GET /admin/v1/insights/site-silence's store query (the same as the site gauges and alerts), its 2-day lookback.
      ['site-silence: per registered site, requests waiting and newest report', () => siteAlertFigures(db, 2)],
      // The route's defaults: scanDays 3, siteDays 2, pendingHours 1, limit 50.
      ['stuck lists, defaults', () => readStuck(db, { now: new Date(), scanDays: 3, siteDays: 2, pendingHours: 1, limit: 50 })],
    ];
    for (const [name, fn, liveKey] of cases) {
      const t = await time(fn);
      const verdict = t.p95 <= TARGET_MS ? 'within' : 'OVER';
      const vsLive = liveKey ? `, ×${(live[liveKey] / t.p50).toFixed(1)} faster than live; first call ${t.first.toFixed(0)} ms` : '';
      console.log(`${name}: p50 ${t.p50.toFixed(1)} ms, p95 ${t.p95.toFixed(1)} ms (×${(t.p50 / baseline.p50).toFixed(2)} the baseline${vsLive}; ${verdict} ${TARGET_MS} ms)${t.found ? `; ${t.found}` : ''}`);
    }
  } finally {
    await store.close();
  }
});
if (!ran) {
  console.error('set TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL to a PostgreSQL this bench may create a database on');
  process.exit(2);
}
