/**
 * The store queries behind the console's Notifications and Sites views: GET /admin/v1/insights/notifications
 * (per issuer health), GET /admin/v1/issuers/{issuerId}/replay-preview, a page of dead letters with their
 * cards and reasons (GET /admin/v1/notifications?state=dead), and a page of a site's inbox files, on a store
 * holding `--notifications` outbox rows (1,000,000 by default) spread over 60 days across 5 busy issuers,
 * with 20 more issuers that sent nothing, on the PostgreSQL that TRACKHUB_TEST_DATABASE_URL or
 * BENCH_DATABASE_URL names (a new database, dropped after). Each query runs 20 times after one warm-up;
 * prints p50 and p95, against a baseline of the same run: `select count(*) from outbox`. The
 * insights run from the hourly roll-ups (migration 0019) and live (`rollups: false`, the reference).
 *
 *   npx tsx bench/insights-notifications.ts [--notifications 1000000]
 */
import { sql } from 'kysely';
import { type Db, migrate, openStore } from '../src/store/db.ts';
import { listInboxFiles } from '../src/store/inbox-file-reports.ts';
import { notificationInsights } from '../src/store/notification-insights.ts';
import { listNotifications, previewIssuerReplay } from '../src/store/notifications.ts';
import { onBenchPostgres } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';

const { notifications: N } = benchArgs('insights-notifications', { notifications: { type: 'number', default: 1_000_000 } });
const DAYS = 60;
const RUNS = 20;
const TARGET_MS = 200;
const BUSY = 5;
const IDLE = 20;

/**
 * Outbox rows as the dispatcher leaves them: 1 in 97 dead, 1 in 300 pending (1 in 3 of those put off by a
 * 503 for 10 minutes, the throttle), 1 in 40 batched under the row before it, the rest delivered 1 to 30 s
 * after commit; an operation for every dead row (the dead-letter page looks their cards up); a newest
 * attempt for every dead row; 5,000 inbox files for one site, each with 25 rejected lines listed.
 */
async function seed(db: Db, now: Date): Promise<void> {
  const at = now.toISOString();
  await sql`insert into issuers (issuer_id, name, notification_base_url, jwks)
    select id, id, 'https://bank.example', '{"keys":[]}'::jsonb
    from (select 'BENCHBANK' || k as id from generate_series(0, ${BUSY - 1}) k union all select 'IDLEBANK' || lpad(k::text, 2, '0') from generate_series(0, ${IDLE - 1}) k) b`.execute(db);
  await sql`
    insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, last_error, batch_id, next_attempt_at, created_at, delivered_at)
    select 'wh_' || lpad(g::text, 8, '0'), 'BENCHBANK' || (g % ${BUSY}), 'op_' || g, 1, 'corr_' || g, '{}', st,
      case st when 'delivered' then 1 when 'batched' then 0 else 3 end,
      case when st = 'dead' then 'HTTP 500' when st = 'pending' and g % 900 = 0 then 'HTTP 503' end,
      case g % 40 when 1 then 'wh_' || lpad(g::text, 8, '0') when 2 then 'wh_' || lpad((g - 1)::text, 8, '0') end,
      case when st = 'pending' and g % 900 = 0 then ${at}::timestamptz + interval '10 minutes' else c end,
      c, case when st = 'delivered' then c + make_interval(secs => 1 + g % 30) end
    from (select g, case when g % 40 = 2 then 'batched' when g % 300 = 0 then 'pending' when g % 97 = 0 then 'dead' else 'delivered' end as st,
            ${at}::timestamptz - make_interval(secs => g::float8 * ${(DAYS * 86400) / N}) as c
          from generate_series(1, ${N}) g) x`.execute(db);
  await sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, created_at, updated_at)
    select operation_id, issuer_id, 'card_' || operation_id, 'SHIPMENT', 'h', 'FAILED', false, '{}'::jsonb, created_at, created_at from outbox where state = 'dead'`.execute(db);
  await sql`insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, latency_ms, response_body)
    select id, 3, created_at + interval '1 hour', 500, 40, 'Internal error: try later' from outbox where state = 'dead'`.execute(db);
  await sql`insert into production_sites (site_id, name) values ('MADRID', 'Madrid')`.execute(db);
  await sql`insert into inbox_files (site_id, file_key, name, state, lines_done, accepted, rejected_count, rejected, created_at, updated_at)
    select 'MADRID', 'f' || g || '|1|1', 'f' || g || '.csv', 'done', 1025, 1000, 25,
      (select jsonb_agg(jsonb_build_object('line', l, 'errorCode', 'FIELD_INVALID_FORMAT', 'error', 'cardId: bad')) from generate_series(1, 25) l),
      ${at}::timestamptz - make_interval(mins => g), ${at}::timestamptz - make_interval(mins => g)
    from generate_series(1, 5000) g`.execute(db);
}

async function time(fn: () => Promise<unknown>): Promise<{ p50: number; p95: number; found: unknown }> {
  const found = await fn();
  const ms: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(RUNS / 2)], p95: ms[Math.ceil(RUNS * 0.95) - 1], found };
}

/** What a case found, so a figure is never that of an empty answer. */
function describe(found: unknown): string {
  if (Array.isArray(found)) {
    const busy = found.filter((r) => r.created > 0);
    return `${found.length} issuers, ${busy.reduce((n, r) => n + r.created, 0)} notifications in the window, ${found.filter((r) => r.endpoint.state === 'throttled').length} throttled, backlog ${found.reduce((n, r) => n + r.backlog, 0)}`;
  }
  const f = found as Record<string, unknown>;
  if ('count' in f) return `${f.count} to replay`;
  if ('notifications' in f) return `${(f.notifications as unknown[]).length} dead letters, first card ${(f.notifications as { cardId: string }[])[0]?.cardId}`;
  if ('files' in f) return `${(f.files as unknown[]).length} files`;
  return '';
}

const ran = await onBenchPostgres(async (url) => {
  const store = await openStore(url);
  try {
    await migrate(store.db);
    const db = store.db;
    const now = new Date();
    const insertStart = performance.now();
    await seed(db, now);
    const insertMs = performance.now() - insertStart;
    for (const t of ['outbox', 'issuers', 'operations', 'delivery_attempts', 'inbox_files']) await sql`vacuum analyze ${sql.table(t)}`.execute(db);
    console.log(`${N.toLocaleString('en')} outbox rows over ${DAYS} days for ${BUSY} issuers (${IDLE} more idle), with dead letters' operations and attempts and 5,000 inbox files, inserted in ${(insertMs / 1000).toFixed(1)} s`);
    const baseline = await time(() => sql`select count(*) from outbox`.execute(db));
    console.log(`baseline select count(*) from outbox: p50 ${baseline.p50.toFixed(1)} ms, p95 ${baseline.p95.toFixed(1)} ms`);
    const day = { from: new Date(now.getTime() - 86_400_000), to: now, now };
    const month = { from: new Date(now.getTime() - 31 * 86_400_000), to: now, now };
    // The first read of a store rolls its closed hours (once); the figures below are the reads after it.
    const rollStart = performance.now();
    await notificationInsights(db, month);
    console.log(`first 31-day read, rolling ${(31 * 24).toLocaleString('en')} hours: ${((performance.now() - rollStart) / 1000).toFixed(1)} s`);
    for (const [label, w] of [['24 h', day], ['31 days', month]] as const) {
      const same = JSON.stringify(await notificationInsights(db, w)) === JSON.stringify(await notificationInsights(db, w, false));
      console.log(`${label}: rolled answer ${same ? 'equals' : 'DIFFERS FROM'} the live one`);
    }
    const cases: [string, () => Promise<unknown>][] = [
      ['insights/notifications, last 24 h (default), rolled', () => notificationInsights(db, day)],
      ['insights/notifications, last 24 h (default), live (rollups: false)', () => notificationInsights(db, day, false)],
      ['insights/notifications, 31 days (the maximum), rolled', () => notificationInsights(db, month)],
      ['insights/notifications, 31 days (the maximum), live (rollups: false)', () => notificationInsights(db, month, false)],
      ['replay-preview, dead since 7 days', () => previewIssuerReplay(db, { issuerId: 'BENCHBANK1', since: new Date(now.getTime() - 7 * 86_400_000) })],
      ['replay-preview, dead and delivered since 60 days', () => previewIssuerReplay(db, { issuerId: 'BENCHBANK1', since: new Date(now.getTime() - 60 * 86_400_000), includeDelivered: true })],
      ['notifications?state=dead, a page of 100 with cards and reasons', () => listNotifications(db, { state: 'dead', limit: 100 })],
      ['inbox-files, first page of 50', () => listInboxFiles(db, 'MADRID', { limit: 50 })],
    ];
    for (const [name, fn] of cases) {
      const t = await time(fn);
      const verdict = t.p95 <= TARGET_MS ? 'within' : 'OVER';
      console.log(`${name}: p50 ${t.p50.toFixed(1)} ms, p95 ${t.p95.toFixed(1)} ms (×${(t.p50 / baseline.p50).toFixed(2)} the baseline; ${verdict} ${TARGET_MS} ms); ${describe(t.found)}`);
    }
  } finally {
    await store.close();
  }
});
if (!ran) {
  console.error('set TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL to a PostgreSQL this bench may create a database on');
  process.exit(2);
}
