/**
 * The insight queries (GET /admin/v1/insights/summary and /sites) on a store holding `--operations`
 * operations (1,000,000 by default) spread over 60 days, on the PostgreSQL that TRACKHUB_TEST_DATABASE_URL
 * or BENCH_DATABASE_URL names (a new database, dropped after). Each query runs 5 times after one warm-up;
 * prints median and worst, against a baseline of the same run: `select count(*) from operations`.
 *
 *   npx tsx bench/insights.ts [--operations 1000000]
 */
import { sql } from 'kysely';
import { migrate, openStore } from '../src/store/db.ts';
import { insightsSummary, siteInsights } from '../src/store/insights.ts';
import { onBenchPostgres } from '../test/helpers/stores.ts';

const i = process.argv.indexOf('--operations');
const N = i > 0 ? Number(process.argv[i + 1]) : 1_000_000;
const DAYS = 60;
const RUNS = 5;
const TARGET_MS = 200;

async function time(fn: () => Promise<unknown>): Promise<{ median: number; worst: number }> {
  await fn();
  const ms: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(RUNS / 2)], worst: ms[RUNS - 1] };
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
          make_interval(secs => 3600 + (g::bigint * 7919) % 259200) as dur,
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
               'message', 'In transit', 'status', cps.st, 'checkpoints', cps.cps)) end,
        case when tt = 'SHIPMENT' then carrier end, case when tt = 'SHIPMENT' then '7712' || g end,
        created, case when open then created else created + dur end
      from s left join cps on cps.k = s.k`.execute(db);
    await sql`insert into production_sites (site_id, name) select s, s from unnest(array['LONDON','MADRID','PARIS','OSLO']) s`.execute(db);
    await sql`insert into inbox_files (site_id, file_key, name, state, accepted, rejected_count, created_at)
      select (array['LONDON','MADRID','PARIS','OSLO'])[g % 4 + 1], 'f' || g, 'f' || g || '.csv', 'done', 1000, g % 3,
        ${now.toISOString()}::timestamptz - make_interval(hours => g) from generate_series(1, 2000) g`.execute(db);
    const insertMs = performance.now() - insertStart;
    await sql`vacuum analyze operations`.execute(db);
    await sql`vacuum analyze inbox_files`.execute(db);
    const day = { from: new Date(now.getTime() - 86_400_000), to: now };
    const month = { from: new Date(now.getTime() - 31 * 86_400_000), to: now };
    const baseline = await time(() => sql`select count(*) from operations`.execute(db));
    console.log(`${N.toLocaleString('en')} operations over ${DAYS} days inserted in ${(insertMs / 1000).toFixed(1)} s (one INSERT … SELECT generate_series)`);
    console.log(`baseline select count(*) from operations: median ${baseline.median.toFixed(1)} ms, worst ${baseline.worst.toFixed(1)} ms`);
    const cases: [string, () => Promise<unknown>][] = [
      ['summary, last 24 h (default)', () => insightsSummary(db, day)],
      ['sites, last 24 h (default)', () => siteInsights(db, day)],
      ['summary, 31 days (the maximum)', () => insightsSummary(db, month)],
      ['sites, 31 days (the maximum)', () => siteInsights(db, month)],
    ];
    for (const [name, fn] of cases) {
      const t = await time(fn);
      const verdict = t.worst <= TARGET_MS ? 'within' : 'OVER';
      console.log(`${name}: median ${t.median.toFixed(1)} ms, worst ${t.worst.toFixed(1)} ms (×${(t.median / baseline.median).toFixed(2)} the baseline; ${verdict} ${TARGET_MS} ms)`);
    }
  } finally {
    await store.close();
  }
});
if (!ran) {
  console.error('set TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL to a PostgreSQL this bench may create a database on');
  process.exit(2);
}
