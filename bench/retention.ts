/**
 * Retention during load: the track hot path (a `trackhub serve` child in the api role, autocannon, as in
 * bench/track.ts) measured without a purge, then while the retention job (src/operations/retention.ts,
 * its defaults: 1,000 operations per transaction, 50 ms between) removes a backlog of `--operations`
 * expired finished operations (500,000 by default), each with a delivered notification and 2 attempts,
 * then without again. Baseline: the mean of the two runs without a purge. Prints accepted/s and p99 each
 * way and the purge rate (rows/s), through report(). On the PostgreSQL that BENCH_DATABASE_URL or
 * TRACKHUB_TEST_DATABASE_URL names (a new database, dropped after).
 *
 *   npx tsx bench/retention.ts [--operations 500000] [--connections 32] [--duration 10] [--quick]
 *
 * --quick: 100,000 operations, 5 s runs. Target: the hot path not slowed, accepted/s with the purge
 * ≥ 0.9× the baseline (what this box's run-to-run noise allows telling apart).
 */
import autocannon from 'autocannon';
import { sql } from 'kysely';
import { createLogger } from '../src/logger.ts';
import { Retention } from '../src/operations/retention.ts';
import { migrate, openStore } from '../src/store/db.ts';
import { freePort, runCli, stop, waitReady } from '../test/helpers/processes.ts';
import { onBenchPostgres } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';
import { benchIssuer } from './lib/issuer.ts';
import { report } from './lib/report.ts';

const {
  operations: N,
  connections,
  duration,
} = benchArgs('retention', {
  operations: { type: 'number', default: 500_000, quick: 100_000 },
  connections: { type: 'number', default: 32 },
  duration: { type: 'number', default: 10, quick: 5 },
  quick: { type: 'boolean' },
});
const ADMIN = 'bench-admin-token-0123456789abcdef';
const ISSUER = 'BENCHBANK1';
const DAY = 86_400_000;
const RETENTION_MS = 400 * DAY;

/** N finished shipments finished 401 to 800 days ago, each with a delivered notification and 2 attempts. */
async function seed(db: Parameters<typeof migrate>[0]): Promise<number> {
  const start = performance.now();
  await sql`
    insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, carrier, tracking_number, created_at, updated_at)
    select 'op_old_' || g, 'OLDBANK', 'card_old_' || g, 'SHIPMENT', 'h', 'SUCCESSFUL', false,
      jsonb_build_object('operationId', 'op_old_' || g, 'issuerId', 'OLDBANK', 'cardId', 'card_old_' || g, 'trackingType', 'SHIPMENT',
        'correlationId', 'corr_old_' || g, 'request', jsonb_build_object('trackingType', 'SHIPMENT'), 'status', 'SUCCESSFUL', 'open', false,
        'startTime', f - interval '3 days', 'updatedAt', f, 'endTime', f, 'sequenceNumber', 4,
        'shipment', jsonb_build_object('carrier', 'fedex', 'trackingNumber', '7712' || g, 'trackingUrl', 'https://example.com/' || g,
          'status', 'DELIVERED', 'message', 'Delivered', 'checkpoints', jsonb_build_array(
            jsonb_build_object('checkpointTime', f - interval '1 day', 'message', 'In transit', 'city', 'Lyon', 'countryCode', 'FR', 'status', 'IN_TRANSIT'),
            jsonb_build_object('checkpointTime', f, 'message', 'Delivered', 'city', 'Paris', 'countryCode', 'FR', 'status', 'DELIVERED')))),
      'fedex', '7712' || g, f - interval '3 days', f
    from (select g, now() - interval '401 days' - make_interval(secs => g::float8 * ${(399 * 86400) / N}) as f from generate_series(1, ${N}) g) x`.execute(db);
  await sql`
    insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, created_at, delivered_at)
    select 'wh_old_' || g, 'OLDBANK', 'op_old_' || g, 4, 'corr_old_' || g, '{"operationId":"op_old_' || g || '","status":"SUCCESSFUL"}', 'delivered', 2, o.updated_at, o.updated_at + interval '1 minute'
    from generate_series(1, ${N}) g join operations o on o.operation_id = 'op_old_' || g`.execute(db);
  await sql`
    insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, error, latency_ms)
    select n.id, a, n.created_at + make_interval(secs => a * 5), case a when 2 then 204 else 503 end, case a when 1 then 'HTTP 503' end, 40
    from outbox n, generate_series(1, 2) a where n.issuer_id = 'OLDBANK'`.execute(db);
  for (const t of ['operations', 'outbox', 'delivery_attempts']) await sql`vacuum analyze ${sql.table(t)}`.execute(db);
  // The seed leaves gigabytes of dirty pages: written out now, not by a checkpoint during the measured runs
  // (the first full run measured 445 accepted/s before the purge and 253 after, both under checkpoint I/O;
  // the same accept loop on an empty and a 500,000-operation store ran alike, 2,411-2,704/s).
  await sql`checkpoint`.execute(db);
  return (performance.now() - start) / 1000;
}

function load(base: string, token: string, tag: string): Promise<autocannon.Result> {
  let n = 0;
  const body = JSON.stringify({ trackingType: 'SHIPMENT', trackingNumber: '123456789012', carrier: 'fedex' });
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: base,
        connections,
        duration,
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => ({
              ...req,
              path: `/banking/v1/issuers/${ISSUER}/physicalCards/ret-${process.pid}-${tag}-${n++}/track`,
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body,
            }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
}

const ran = await onBenchPostgres(async (url) => {
  const store = await openStore(url);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let hub: ReturnType<typeof runCli> | undefined;
  try {
    await migrate(store.db);
    const seedS = await seed(store.db);
    console.log(`bench/retention: ${N.toLocaleString('en')} expired finished operations, ${N.toLocaleString('en')} notifications and ${(2 * N).toLocaleString('en')} attempts seeded in ${seedS.toFixed(0)} s; ${connections} connections, ${duration} s per run`);
    hub = runCli(['serve'], {
      TRACKHUB_DATABASE_URL: url,
      TRACKHUB_PORT: String(port),
      TRACKHUB_ROLE: 'api',
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      TRACKHUB_LOG_LEVEL: 'warn',
      TRACKHUB_ISSUER_RATE_LIMIT: '1000000',
      TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true',
    });
    await waitReady(base, hub);
    const token = await benchIssuer(base, ADMIN, ISSUER, 'http://127.0.0.1:9');
    await load(base, token, 'warm');

    const before = await load(base, token, 'a');
    // The worker's job, as a worker runs it (its default batch and pause), in this process.
    const retention = new Retention({ db: store.db, log: createLogger('warn'), retentionMs: RETENTION_MS, now: () => Date.now() });
    const purgeStart = performance.now();
    const purging = retention.runOnce();
    const during = await load(base, token, 'b');
    await retention.stop();
    const purged = await purging;
    const purgeS = (performance.now() - purgeStart) / 1000;
    const after = await load(base, token, 'c');
    const left = (await sql<{ n: number }>`select count(*)::int as n from operations where issuer_id = 'OLDBANK'`.execute(store.db)).rows[0].n;

    const rate = (r: autocannon.Result) => r['2xx'] / duration;
    const baseRps = (rate(before) + rate(after)) / 2;
    const baseP99 = (before.latency.p99 + after.latency.p99) / 2;
    const rows = purged ? purged.operations + purged.notifications + purged.attempts : 0;
    for (const [label, r] of [['without purge (before)', before], ['during the purge', during], ['without purge (after)', after]] as const) {
      console.log(`${label.padEnd(23)} ${rate(r).toFixed(0)} accepted/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors}`);
    }
    console.log(`purge: ${purged?.operations ?? 0} operations, ${purged?.notifications ?? 0} notifications, ${purged?.attempts ?? 0} attempts in ${purgeS.toFixed(1)} s (${purged?.batches ?? 0} batches; stopped with the load); ${left.toLocaleString('en')} expired operations left`);
    const baseline = { measure: 'the same without a purge (mean of a run before and one after)', unit: '' };
    report('retention', [
      {
        measure: 'track accepted/s, PostgreSQL, during a retention purge',
        value: rate(during),
        unit: '/s',
        baseline: { ...baseline, value: baseRps, unit: '/s' },
        ratio: rate(during) / baseRps,
        target: '≥ 0.9× without purge (hot path not slowed)',
        met: rate(during) >= 0.9 * baseRps && during.non2xx === 0,
      },
      { measure: 'track p99, PostgreSQL, during a retention purge', value: during.latency.p99, unit: 'ms', baseline: { ...baseline, value: baseP99, unit: 'ms' }, ratio: during.latency.p99 / baseP99 },
      { measure: 'retention purge rate under that load (operations + notifications + attempts)', value: rows / purgeS, unit: 'rows/s' },
    ]);
  } finally {
    await stop(hub);
    await store.close();
  }
});
if (!ran) {
  console.error('set TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL to a PostgreSQL this bench may create a database on');
  process.exit(2);
}
