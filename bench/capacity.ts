/**
 * The capacity model's measurements (docs/scaling.md): rows and bytes per card in each table and index,
 * and WAL per card, from cards made through the real paths.
 *
 *   node scripts/build.mjs && npx tsx bench/capacity.ts [--cards 2000] [--quick]
 *
 * A hub (`trackhub serve`, one process) on an embedded store of its own (its own server, so the WAL read
 * is this run's alone) and the carrier sandbox (`trackhub sandbox`, FedEx, 360,000x). Each card lives the
 * full life: a PRODUCTION track request, the site's CARD_SHIPPED report (Site API, batches of 500) naming
 * a FedEx number, which opens the SHIPMENT (the issuer has autoTrackShipment), polled to DELIVERED; every
 * update notified to a local receiver (204). When every operation is closed and no notification is
 * pending, it reads each table's rows, heap (with TOAST) and index bytes, then again after VACUUM FULL (the
 * churn of the outbox and operations leaves dead rows a live system's autovacuum reuses), and the WAL
 * written between the first request and the last delivery.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sandboxNumbers } from '../src/sandbox/numbers.ts';
import { socketUrl, stopEmbeddedServer } from '../src/store/embedded.ts';
import { assertion, issuerKey, JWT_BEARER, tokenUrl } from '../test/helpers/issuer.ts';
import { freePort, runCli, stop, waitFor, waitReady } from '../test/helpers/processes.ts';
import { benchArgs } from './lib/args.ts';
import { type Figure, fmt, report } from './lib/report.ts';
import { scaleReceiver } from './scale/cluster.ts';

const { cards: CARDS } = benchArgs('capacity', { cards: { type: 'number', default: 2000, quick: 500 }, quick: { type: 'boolean' } });
const ADMIN = 'capacity-bench-admin-token-0123456789abcdef';
const ISSUER = 'CAPACITY01';
const SITE = 'CAPSITE-1';
const PER_DAY = 1_000_000;
const RETENTION_DAYS = 400;

const dir = mkdtempSync(join(tmpdir(), 'trackhub-capacity-'));
const folder = join(dir, 'pg');
const rx = await scaleReceiver();
const sandboxPort = await freePort();
const sandbox = runCli(['sandbox', '--port', String(sandboxPort), '--speed', '360000'], {});
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const hub = runCli(['serve'], {
  TRACKHUB_DATABASE_URL: `embedded://${folder}`,
  TRACKHUB_DATA_DIR: join(dir, 'data'),
  TRACKHUB_PORT: String(port),
  TRACKHUB_ADMIN_TOKEN: ADMIN,
  TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true',
  TRACKHUB_ISSUER_RATE_LIMIT: '1000000',
  TRACKHUB_SITE_RATE_LIMIT: '10000000/1s',
  TRACKHUB_CARRIER_FEDEX_BASE_URL: `http://127.0.0.1:${sandboxPort}/sandbox/fedex`,
  TRACKHUB_CARRIER_FEDEX_CLIENT_ID: 'capacity',
  TRACKHUB_CARRIER_FEDEX_CLIENT_SECRET: 'capacity-secret',
  TRACKHUB_CARRIER_FEDEX_RATE_LIMIT: '100000/1s',
  TRACKHUB_POLL_MIN_INTERVAL: '100ms',
  TRACKHUB_POLL_MAX_INTERVAL: '300ms',
  TRACKHUB_LOG_LEVEL: 'warn',
});
const client = new pg.Client({ connectionString: socketUrl(folder) });
try {
  await waitFor('sandbox', async () => (await fetch(`http://127.0.0.1:${sandboxPort}/sandbox/fedex/oauth/token`, { method: 'POST' })).status === 401 || undefined);
  await waitReady(base, hub);
  await client.connect();
  const admin = (path: string, body: unknown) =>
    fetch(`${base}/admin/v1${path}`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const key = await issuerKey();
  await admin(`/issuers/${ISSUER}`, { name: ISSUER, notificationBaseUrl: rx.url, jwks: { keys: [key.publicJwk] }, autoTrackShipment: true });
  const siteKey = ((await (await admin(`/production-sites/${SITE}`, { name: SITE, carriers: ['fedex'] })).json()) as { apiKey: string }).apiKey;
  const tok = await fetch(`${base}/authz/v1/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: JWT_BEARER, assertion: await assertion(ISSUER, key, { aud: tokenUrl(base) }) }),
  });
  const token = ((await tok.json()) as { access_token: string }).access_token;
  const lsn = async () => (await client.query<{ l: string }>('select pg_current_wal_lsn()::text as l')).rows[0].l;
  const walFrom = await lsn();

  // PRODUCTION track requests, 16 at once.
  let next = 0;
  const card = (n: number) => `cap-card-${String(n).padStart(8, '0')}`;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let n = next++; n < CARDS; n = next++) {
        const res = await fetch(`${base}/banking/v1/issuers/${ISSUER}/physicalCards/${card(n)}/track`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ trackingType: 'PRODUCTION' }),
        });
        if (res.status !== 202) throw new Error(`track ${card(n)}: HTTP ${res.status} ${await res.text()}`);
      }
    }),
  );
  // The site's reports: each card shipped with a FedEx number of its own whose story ends DELIVERED.
  for (let from = 0; from < CARDS; from += 500) {
    const events = [];
    for (let n = from; n < Math.min(CARDS, from + 500); n++) {
      const trackingNumber = sandboxNumbers(String(1_000_000 + n)).find((r) => r.scenario === 'delivered')?.trackingNumber;
      events.push({ eventId: `ev-${n}`, issuerId: ISSUER, cardId: card(n), type: 'CARD_SHIPPED', occurredAt: new Date().toISOString(), trackingNumber });
    }
    const res = await fetch(`${base}/sites/v1/production-sites/${SITE}/events`, {
      method: 'POST',
      headers: { 'x-api-key': siteKey, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    if (res.status !== 200 && res.status !== 202) throw new Error(`site events: HTTP ${res.status} ${await res.text()}`);
  }
  const count = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0].n);
  await waitFor(
    'every operation closed and every notification delivered',
    async () =>
      (await count('select count(*) as n from operations')) >= 2 * CARDS &&
      (await count('select count(*) as n from operations where is_open')) === 0 &&
      (await count("select count(*) as n from outbox where state <> 'delivered'")) === 0
        ? true
        : undefined,
    600_000,
    500,
  );
  const walBytes = Number((await client.query<{ b: string }>('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1) as b', [walFrom])).rows[0].b);

  const sizes = async () =>
    (
      await client.query<{ name: string; heap: string; indexes: string; total: string }>(
        `select c.relname as name, pg_table_size(c.oid) as heap, pg_indexes_size(c.oid) as indexes, pg_total_relation_size(c.oid) as total
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relkind = 'r' and n.nspname = 'public' order by pg_total_relation_size(c.oid) desc`,
      )
    ).rows;
  const rowsOf = async (table: string) => count(`select count(*) as n from "${table}"`);
  // The churn autovacuum must keep up with: updates per card, how many were HOT (no index entry), dead rows.
  await new Promise((r) => setTimeout(r, 2000)); // the statistics reach the shared counters within a second
  const churn = (
    await client.query<{ name: string; ins: string; upd: string; hot: string; del: string; dead: string }>(
      `select relname as name, n_tup_ins as ins, n_tup_upd as upd, n_tup_hot_upd as hot, n_tup_del as del, n_dead_tup as dead
         from pg_stat_user_tables where n_tup_ins + n_tup_upd > 0 order by n_tup_upd desc`,
    )
  ).rows;
  const before = await sizes();
  await client.query('vacuum full analyze');
  const after = await sizes();
  const indexes = (
    await client.query<{ table: string; index: string; bytes: string }>(
      `select t.relname as table, c.relname as index, pg_relation_size(c.oid) as bytes from pg_index i
         join pg_class c on c.oid = i.indexrelid join pg_class t on t.oid = i.indrelid join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = 'public' and t.relname in ('operations', 'outbox', 'delivery_attempts', 'site_events') order by bytes desc`,
    )
  ).rows;

  const migrations = (await client.query<{ name: string }>('select name from schema_migrations order by version desc limit 1')).rows[0]?.name;
  console.log(`bench/capacity: ${CARDS} cards (PRODUCTION + site report + SHIPMENT polled to DELIVERED), embedded PostgreSQL, schema up to ${migrations}`);
  console.log('table                          rows/card  bytes/card raw (heap+toast / indexes)   after VACUUM FULL (heap / indexes)');
  let rawTotal = 0;
  let compactTotal = 0;
  for (const b of before) {
    const a = after.find((x) => x.name === b.name);
    const rows = await rowsOf(b.name);
    if (rows === 0) continue;
    rawTotal += Number(b.total);
    compactTotal += Number(a?.total ?? 0);
    const per = (v: string | undefined) => fmt(Number(v ?? 0) / CARDS).padStart(7);
    console.log(
      `${b.name.padEnd(30)} ${fmt(rows / CARDS).padStart(9)}  ${per(b.total)} (${per(b.heap)} / ${per(b.indexes)})        ${per(a?.total)} (${per(a?.heap)} / ${per(a?.indexes)})`,
    );
  }
  console.log('churn per card: inserts, updates (HOT), deletes, dead rows before VACUUM');
  for (const c of churn) {
    const per = (v: string) => fmt(Number(v) / CARDS);
    console.log(`  ${c.name.padEnd(30)} ins ${per(c.ins)}  upd ${per(c.upd)} (HOT ${per(c.hot)})  del ${per(c.del)}  dead ${per(c.dead)}`);
  }
  console.log('indexes (after VACUUM FULL), bytes per card:');
  for (const x of indexes) console.log(`  ${x.table}.${x.index}: ${fmt(Number(x.bytes) / CARDS)}`);
  const perCardRaw = rawTotal / CARDS;
  const perCard = compactTotal / CARDS;
  const walPerCard = walBytes / CARDS;
  console.log(
    `per card: ${fmt(perCardRaw)} bytes as written, ${fmt(perCard)} after VACUUM FULL, WAL ${fmt(walPerCard)} bytes; notifications received ${rx.firstSeen.size} (${fmt(rx.firstSeen.size / CARDS)} a card)`,
  );
  const gb = (bytes: number) => bytes / 1e9;
  console.log(
    `at ${fmt(PER_DAY)} cards/day: ${fmt(gb(perCard * PER_DAY))} GB/day of tables and indexes (compact), WAL ${fmt(gb(walPerCard * PER_DAY))} GB/day; ${RETENTION_DAYS} days held: ${fmt(gb(perCard * PER_DAY * RETENTION_DAYS))} GB`,
  );
  const figures: Figure[] = [
    { measure: `capacity: bytes per card (tables + indexes, after VACUUM FULL; ${fmt(perCardRaw)} as written)`, value: perCard, unit: 'B' },
    { measure: 'capacity: WAL per card (its whole life)', value: walPerCard, unit: 'B' },
    { measure: `capacity: disk for ${RETENTION_DAYS} days at 1,000,000 cards/day`, value: gb(perCard * PER_DAY * RETENTION_DAYS), unit: 'GB' },
  ];
  report('capacity', figures);
} finally {
  await client.end().catch(() => undefined);
  await stop(hub);
  await stop(sandbox);
  await rx.close();
  await stopEmbeddedServer(folder);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
