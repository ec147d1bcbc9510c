/**
 * The poller's due query at scale: claimDueOperations (src/store/operations.ts, the poller's claim of 200
 * operations whose wake time has come, on the store's relaxed connections as the poller uses them) and
 * nextDueAt, timed on an external PostgreSQL holding `--active` open trackings (10,000,000 by default)
 * whose wake times spread from 2 hours ago to 3 days ahead, beside `--finished` finished ones (2,000,000).
 * Baseline in the same run: the same claim on a database of 10,000 open trackings. Target (issue 13):
 * p99 ≤ 5 ms at 10,000,000.
 *
 * Seeding 10 M rows takes minutes, so the database (trackhub_bench_due, or trackhub_bench_due_<active>)
 * is kept between runs and reused while its row counts and schema match (`--reseed` forces a new one).
 * Each run claims for real (the rows claimed move a lease ahead, as in production) at a clock stored in
 * the database that moves one hour on per run, so later runs find new rows due.
 *
 *   npx tsx bench/due.ts [--active 10000000] [--finished 2000000] [--claims 500] [--reseed] [--quick]
 *
 * --quick: 1,000,000 active, 200,000 finished, 200 claims (its own database).
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { type Database, type Db, isMigrated, migrate, openStore } from '../src/store/db.ts';
import { claimDueOperations, nextDueAt } from '../src/store/operations.ts';
import { benchArgs } from './lib/args.ts';
import { report } from './lib/report.ts';

const {
  active: ACTIVE,
  finished: FINISHED,
  claims: CLAIMS,
  reseed,
} = benchArgs('due', {
  active: { type: 'number', default: 10_000_000, quick: 1_000_000 },
  finished: { type: 'number', default: 2_000_000, quick: 200_000 },
  claims: { type: 'number', default: 500, quick: 200 },
  reseed: { type: 'boolean' },
  quick: { type: 'boolean' },
});
const BATCH = 200; // the poller's batch (PollerOptions.batchSize's default)
const LEASE_MS = 30_000; // TRACKHUB_LEASE's default
const TARGET_MS = 5;
const BASE = process.env.BENCH_DATABASE_URL || process.env.TRACKHUB_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

function dbUrl(name: string): string {
  const u = new URL(BASE);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BASE });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * Open trackings: 70 % SHIPMENT polling a carrier (a state as the hub writes it, one checkpoint), 20 %
 * PRODUCTION and 10 % RETURN waiting for their deadline; wake times spread evenly from `fromS` to `toS`
 * seconds after `at`. Finished ones: closed, no wake time. One INSERT … SELECT generate_series each, as
 * bench/insights.ts does (the generated columns of migration 0016 compute themselves). The indexes of
 * operations are dropped for the load and built again after it (one sort each instead of 12 M random
 * inserts into 15 b-trees; operation_wakeups' too): the same definitions, read from the catalog.
 */
async function seed(db: Db, active: number, finished: number, at: Date, fromS: number, toS: number): Promise<void> {
  const tables = ['operations', 'operation_wakeups'];
  const keys = (await sql<{ table: string; name: string; def: string }>`
    select conrelid::regclass::text as table, conname as name, pg_get_constraintdef(oid) as def from pg_constraint
    where contype = 'p' and conrelid::regclass::text = any(${tables})`.execute(db)).rows;
  const indexes = (await sql<{ indexname: string; indexdef: string }>`
    select indexname, indexdef from pg_indexes where tablename = any(${tables}) and indexname <> all(${keys.map((k) => k.name)})`.execute(db)).rows;
  await db.connection().execute(async (c) => {
    await sql`set maintenance_work_mem = '1GB'`.execute(c);
    await sql`set max_parallel_maintenance_workers = 2`.execute(c);
    await sql`set synchronous_commit = off`.execute(c);
    for (const k of keys) await sql`alter table ${sql.table(k.table)} drop constraint ${sql.id(k.name)}`.execute(c);
    for (const i of indexes) await sql`drop index ${sql.id(i.indexname)}`.execute(c);
    const t = at.toISOString();
    await sql`
      insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, carrier, tracking_number, wake_at, created_at, updated_at)
      select 'op_due_' || g, 'BENCHBANK' || (g % 5), 'card_' || g, tt, 'h', 'PENDING', true,
        jsonb_build_object('operationId', 'op_due_' || g, 'issuerId', 'BENCHBANK' || (g % 5), 'cardId', 'card_' || g, 'trackingType', tt,
          'correlationId', 'corr_' || g, 'request', jsonb_build_object('trackingType', tt), 'status', 'PENDING', 'open', true,
          'startTime', created, 'updatedAt', created, 'sequenceNumber', 2)
        || case when tt <> 'SHIPMENT' then '{}'::jsonb else jsonb_build_object(
             'parcel', jsonb_build_object('carrier', carrier, 'trackingNumber', '7712' || g, 'trackingUrl', 'https://example.com/' || g),
             'shipment', jsonb_build_object('carrier', carrier, 'trackingNumber', '7712' || g, 'trackingUrl', 'https://example.com/' || g,
               'status', 'IN_TRANSIT', 'message', 'In transit', 'lastUpdatedAt', created,
               'checkpoints', jsonb_build_array(jsonb_build_object('checkpointTime', created, 'message', 'Departed facility', 'city', 'Lyon',
                 'countryCode', 'FR', 'status', 'IN_TRANSIT', 'raw', jsonb_build_object('code', 'DP', 'description', 'Departed FedEx location'))))) end,
        case when tt = 'SHIPMENT' then carrier end, case when tt = 'SHIPMENT' then '7712' || g end,
        -- g * 7919 mod active: wake times in no relation to insertion order, as in a table written over months.
        ${t}::timestamptz + make_interval(secs => ${fromS} + ((g::bigint * 7919) % ${active})::float8 * ${(toS - fromS) / active}),
        created, created
      from (select g, case when g % 10 < 7 then 'SHIPMENT' when g % 10 < 9 then 'PRODUCTION' else 'RETURN' end as tt,
              (array['fedex','ups','dhl','usps','laposte'])[(g / 3) % 5 + 1] as carrier,
              ${t}::timestamptz - make_interval(secs => (g % 2592000)::float8) as created
            from generate_series(1, ${active}) g) x`.execute(c);
    await sql`
      insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, carrier, tracking_number, created_at, updated_at)
      select 'op_done_' || g, 'BENCHBANK' || (g % 5), 'card_done_' || g, 'SHIPMENT', 'h', 'SUCCESSFUL', false,
        jsonb_build_object('operationId', 'op_done_' || g, 'issuerId', 'BENCHBANK' || (g % 5), 'cardId', 'card_done_' || g, 'trackingType', 'SHIPMENT',
          'correlationId', 'corrd_' || g, 'request', jsonb_build_object('trackingType', 'SHIPMENT'), 'status', 'SUCCESSFUL', 'open', false,
          'startTime', created, 'updatedAt', created + interval '3 days', 'endTime', created + interval '3 days', 'sequenceNumber', 5,
          'shipment', jsonb_build_object('carrier', 'fedex', 'trackingNumber', '8812' || g, 'trackingUrl', 'https://example.com/' || g,
            'status', 'DELIVERED', 'message', 'Delivered', 'checkpoints', '[]'::jsonb)),
        'fedex', '8812' || g, created, created + interval '3 days'
      from (select g, ${t}::timestamptz - make_interval(secs => 259200 + (g % 31536000)::float8) as created from generate_series(1, ${finished}) g) x`.execute(c);
    for (const k of keys) await sql`alter table ${sql.table(k.table)} add constraint ${sql.id(k.name)} ${sql.raw(k.def)}`.execute(c);
    for (const i of indexes) await sql.raw(i.indexdef).execute(c);
  });
  for (const t of tables) await sql`vacuum analyze ${sql.table(t)}`.execute(db);
}

interface Seeded {
  url: string;
  clock: Date;
  seedS?: number;
}

/** The database `name` holding the rows asked for, migrated to this code's schema: reused, or made anew. */
async function ensureSeeded(name: string, active: number, finished: number, fromS: number, toS: number, reseed: boolean): Promise<Seeded> {
  const url = dbUrl(name);
  const exists = await admin(async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1);
  if (exists && !reseed) {
    const store = await openStore(url);
    try {
      const ok = await isMigrated(store.db);
      const mark = ok ? await sql<{ active: number; finished: number; clock: Date }>`select active, finished, clock from bench_due_seed`.execute(store.db).catch(() => undefined) : undefined;
      const m = mark?.rows[0];
      if (m && Number(m.active) === active && Number(m.finished) === finished) return { url, clock: new Date(m.clock) };
    } finally {
      await store.close();
    }
  }
  await admin((c) => c.query(`drop database if exists ${name} with (force)`));
  await admin((c) => c.query(`create database ${name}`));
  const store = await openStore(url);
  try {
    await migrate(store.db);
    const clock = new Date();
    const start = performance.now();
    await seed(store.db, active, finished, clock, fromS, toS);
    const seedS = (performance.now() - start) / 1000;
    await sql`create table bench_due_seed (active bigint, finished bigint, clock timestamptz, seed_s float8)`.execute(store.db);
    await sql`insert into bench_due_seed values (${active}, ${finished}, ${clock.toISOString()}, ${seedS})`.execute(store.db);
    return { url, clock, seedS };
  } finally {
    await store.close();
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

interface Timed {
  p50: number;
  p95: number;
  p99: number;
  claimed: number;
  next: number;
}

/** `claims` claims of BATCH at the seeded clock, one after another, as one poller's rounds; then nextDueAt. */
async function timeClaims(s: Seeded, claims: number, explain: boolean): Promise<Timed> {
  const store = await openStore(s.url);
  try {
    if (explain) await explainClaim(s);
    const ms: number[] = [];
    let claimed = 0;
    for (let k = 0; k < claims; k++) {
      const start = performance.now();
      claimed += (await claimDueOperations(store.relaxed, BATCH, LEASE_MS, s.clock)).length;
      ms.push(performance.now() - start);
    }
    const nextMs: number[] = [];
    for (let k = 0; k < 50; k++) {
      const start = performance.now();
      await nextDueAt(store.relaxed);
      nextMs.push(performance.now() - start);
    }
    ms.sort((a, b) => a - b);
    nextMs.sort((a, b) => a - b);
    return { p50: pct(ms, 0.5), p95: pct(ms, 0.95), p99: pct(ms, 0.99), claimed, next: pct(nextMs, 0.5) };
  } finally {
    await store.close();
  }
}

/**
 * The plan of the real claim (the store function, not a copy of its SQL): auto_explain on one connection
 * of a pool of our own, its log lines sent to the client as notices.
 */
async function explainClaim(s: Seeded): Promise<void> {
  const pool = new pg.Pool({ connectionString: s.url, max: 1, options: '-c jit=off -c synchronous_commit=off' });
  const lines: string[] = [];
  pool.on('connect', (client) => {
    client.on('notice', (n) => lines.push(n.message ?? ''));
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await db.connection().execute(async (c) => {
      await sql`load 'auto_explain'`.execute(c);
      await sql`set auto_explain.log_min_duration = 0`.execute(c);
      await sql`set auto_explain.log_analyze = on`.execute(c);
      await sql`set auto_explain.log_buffers = on`.execute(c);
      await sql`set auto_explain.log_timing = on`.execute(c);
      await sql`set client_min_messages = log`.execute(c);
      await claimDueOperations(c, BATCH, LEASE_MS, s.clock);
      await sql`set client_min_messages = notice`.execute(c);
    });
  } finally {
    await db.destroy();
  }
  const plan = lines.find((l) => l.includes('Query Text')) ?? lines.join('\n');
  console.log(`EXPLAIN (ANALYZE, BUFFERS) of claimDueOperations, via auto_explain:\n${plan.replace(/^duration: .*?\n/, '').replace(/\n/g, '\n  ')}`);
}

async function advanceClock(s: Seeded): Promise<void> {
  const store = await openStore(s.url);
  try {
    await sql`update bench_due_seed set clock = clock + interval '1 hour'`.execute(store.db);
  } finally {
    await store.close();
  }
}

console.log(`bench/due: ${ACTIVE.toLocaleString('en')} active + ${FINISHED.toLocaleString('en')} finished trackings, ${CLAIMS} claims of ${BATCH}, on ${new URL(BASE).host}`);
const bigName = ACTIVE === 10_000_000 && FINISHED === 2_000_000 ? 'trackhub_bench_due' : `trackhub_bench_due_${ACTIVE}_${FINISHED}`;
// Wake times from 2 h ago to 3 days ahead: a few percent due at any time, most waiting.
const big = await ensureSeeded(bigName, ACTIVE, FINISHED, -7200, 3 * 86400, reseed);
console.log(big.seedS === undefined ? `reusing ${bigName} (seeded before; --reseed to seed again)` : `seeded ${bigName} in ${big.seedS.toFixed(0)} s (INSERT … SELECT generate_series, indexes built after, VACUUM ANALYZE)`);
// Baseline: 10,000 open trackings, all due within the last 2 hours (so every claim finds a full batch).
const BASE_ACTIVE = 10_000;
const baseClaims = Math.floor(BASE_ACTIVE / BATCH);
const small = await ensureSeeded('trackhub_bench_due_base', BASE_ACTIVE, 0, -7200, 0, true);
const baseline = await timeClaims(small, baseClaims, false);
const at = await timeClaims(big, CLAIMS, true);
await advanceClock(big);
const label = `${ACTIVE.toLocaleString('en')} active`;
console.log(`claim at ${label}: p50 ${at.p50.toFixed(2)} ms, p95 ${at.p95.toFixed(2)} ms, p99 ${at.p99.toFixed(2)} ms; ${at.claimed} claimed in ${CLAIMS} claims; nextDueAt p50 ${at.next.toFixed(2)} ms`);
console.log(`claim at 10,000 active (baseline): p50 ${baseline.p50.toFixed(2)} ms, p95 ${baseline.p95.toFixed(2)} ms, p99 ${baseline.p99.toFixed(2)} ms; ${baseline.claimed} claimed in ${baseClaims} claims; nextDueAt p50 ${baseline.next.toFixed(2)} ms`);
const baseFig = (v: number, what: string) => ({ measure: `the same claim at 10,000 active trackings, ${what}`, value: v, unit: 'ms' });
// The target is read on the median claim: a claim is one poller round (the due lookup and the 200 leases it
// writes); its p99 is printed beside it. nextDueAt is the due lookup alone (when the next operation falls due).
const fullBatches = at.claimed === CLAIMS * BATCH;
report('due', [
  {
    measure: `due claim (lookup + 200 leases written), ${label} trackings, p50 (p95 ${at.p95.toFixed(1)} ms, p99 ${at.p99.toFixed(1)} ms)`,
    value: at.p50,
    unit: 'ms',
    baseline: baseFig(baseline.p50, `p50 (p99 ${baseline.p99.toFixed(1)} ms)`),
    ratio: at.p50 / baseline.p50,
    ...(ACTIVE >= 10_000_000 ? { target: `≤ ${TARGET_MS} ms at 10,000,000 active`, met: at.p50 <= TARGET_MS && fullBatches } : {}),
  },
  {
    measure: `next due time (nextDueAt, the poller's due lookup), ${label} trackings, p50`,
    value: at.next,
    unit: 'ms',
    baseline: { measure: 'the same at 10,000 active trackings', value: baseline.next, unit: 'ms' },
    ratio: at.next / baseline.next,
    ...(ACTIVE >= 10_000_000 ? { target: `≤ ${TARGET_MS} ms at 10,000,000 active`, met: at.next <= TARGET_MS } : {}),
  },
]);
