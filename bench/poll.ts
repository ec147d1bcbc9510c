/**
 * Carrier polling: numbers polled per second against the sandbox with 1 and 2 worker processes on one
 * PostgreSQL, a backlog ten times a provider's budget (share of the budget used, the most calls in any
 * window, false TRACKING_NUMBER_NOT_FOUND, polls per parcel), the cost of the due query with 10 thousand
 * and 1 million active trackings, and a worker's memory. Needs PostgreSQL (TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL); every database it makes
 * is dropped at the end.
 *
 *   TRACKHUB_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/poll.ts [--duration 10] [--backlog-only]
 *
 * Workers are real `trackhub serve` processes with TRACKHUB_ROLE=worker; the sandbox runs in this process
 * and counts the tracking numbers it is asked about. Parcels use the "never found" story, so a poll is a
 * carrier call plus a state update and no notification: what is measured is the polling path alone.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { sql } from 'kysely';
import { decide, newOperation } from '../src/domain/operation.ts';
import { registerSandbox } from '../src/sandbox/server.ts';
import { migrate, openStore } from '../src/store/db.ts';
import { type Proc, runCli, stop, waitFor } from '../test/helpers/processes.ts';
import { freshPostgresDatabase } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';

const o = benchArgs('poll', { duration: { type: 'number', default: 10 }, 'backlog-only': { type: 'boolean' } });
const { duration } = o;
const pgBase = process.env.BENCH_DATABASE_URL || process.env.TRACKHUB_TEST_DATABASE_URL;
if (!pgBase) {
  console.log('bench/poll needs PostgreSQL: set TRACKHUB_TEST_DATABASE_URL=postgres://…');
  process.exit(0);
}
process.env.TRACKHUB_TEST_DATABASE_URL = pgBase;

/** One open SHIPMENT operation as acceptance writes it, with placeholders for the id and number. */
function stateTemplate(carrier: 'fedex' | 'ups'): string {
  const now = new Date().toISOString();
  const s = newOperation({
    operationId: '__ID__',
    issuerId: 'BENCHBANK1',
    cardId: '__ID__',
    correlationId: 'bench',
    request: { trackingType: 'SHIPMENT', trackingNumber: '__N__', carrier },
    parcel: { carrier, trackingNumber: '__N__', trackingUrl: 'https://example.test/__N__' },
    now,
  });
  return JSON.stringify(decide(s, { kind: 'accept', now }, { notFoundAfterMs: 7 * 86_400_000, expireAfterMs: 1, productionTimeoutMs: 1, returnTimeoutMs: 1 }).state);
}

/** Inserts `count` open operations in one statement; `dueFraction` of them due now, the rest later. */
async function insertOperations(db: Awaited<ReturnType<typeof openStore>>['db'], count: number, carrier: 'fedex' | 'ups', dueFraction = 1, quietEvery = 0): Promise<void> {
  const template = stateTemplate(carrier);
  // "never found" story: the two digits before the last are 97; "quiet" (known, then nothing new): 90
  // (src/sandbox/scenarios.ts). With `quietEvery` n, every n-th parcel is a quiet one.
  const story = quietEvery > 0 ? sql`(case when i % ${quietEvery} = 0 then '900' else '970' end)` : sql`'970'`;
  const number = carrier === 'fedex' ? sql`lpad(i::text, 9, '0') || ${story}` : sql`'1Z999AA1' || lpad(i::text, 7, '0') || ${story}`;
  await sql`
    insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, carrier, tracking_number, wake_at)
    select 'op_' || i, 'BENCHBANK1', 'card_' || i, 'SHIPMENT', 'h', 'PENDING', true,
      replace(replace(${template}, '__ID__', 'op_' || i), '__N__', ${number})::jsonb,
      ${carrier}, ${number},
      case when random() < ${dueFraction} then now() - interval '1 second' else now() + (random() * interval '12 hours') end
    from generate_series(1, ${count}) as i`.execute(db);
}

function rssMb(pid: number | undefined): { rss: number; peak: number } {
  if (!pid) return { rss: 0, peak: 0 };
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

async function pollRate(sandboxOrigin: string, counter: { n: number }, carrier: 'fedex' | 'ups', workers: number, ops: number) {
  const db = await freshPostgresDatabase();
  const store = await openStore(db.url, { poolSize: 2 });
  const procs: Proc[] = [];
  try {
    await migrate(store.db);
    await insertOperations(store.db, ops, carrier);
    const provider = carrier.toUpperCase();
    const env = {
      TRACKHUB_DATABASE_URL: db.url,
      TRACKHUB_ROLE: 'worker',
      TRACKHUB_LOG_LEVEL: 'warn',
      [`TRACKHUB_CARRIER_${provider}_BASE_URL`]: `${sandboxOrigin}/sandbox/${carrier}`,
      [`TRACKHUB_CARRIER_${provider}_CLIENT_ID`]: 'bench',
      [`TRACKHUB_CARRIER_${provider}_CLIENT_SECRET`]: 'bench-secret',
      // No budget in the way: this measures the hub, not a carrier's limit.
      [`TRACKHUB_CARRIER_${provider}_RATE_LIMIT`]: '1000000/1s',
      // Each parcel is polled once in the run.
      TRACKHUB_POLL_MIN_INTERVAL: '1h',
    };
    counter.n = 0;
    for (let i = 0; i < workers; i++) procs.push(runCli(['serve'], env));
    await waitFor('first poll', () => counter.n > 0 || undefined, 60_000, 50);
    await new Promise((r) => setTimeout(r, 1000)); // warm-up
    const start = counter.n;
    await new Promise((r) => setTimeout(r, duration * 1000));
    const polled = counter.n - start;
    const mem = procs.map((p) => rssMb(p.child.pid));
    const left = await sql<{ n: string }>`select count(*) as n from operations where wake_at <= now()`.execute(store.db);
    console.log(
      `${carrier.padEnd(5)} ${workers} worker${workers > 1 ? 's' : ' '}: ${(polled / duration).toFixed(0).padStart(6)} numbers polled/s` +
        `  (${ops} due at start, ${left.rows[0].n} still due)  worker RSS ${mem.map((m) => `${m.rss.toFixed(0)} MB (peak ${m.peak.toFixed(0)})`).join(', ')}`,
    );
    if (polled === 0) throw new Error('nothing was polled');
    return polled / duration;
  } finally {
    for (const p of procs) await stop(p);
    await store.close();
    await db.drop();
  }
}

/**
 * A backlog ten times the budget: 500 UPS parcels due at once against a budget of 50 calls per 2 s
 * (UPS takes one number per call), half never found and half known then quiet, for `seconds`. Measured
 * at the carrier's end (the sandbox's own log of arrivals): the share of the budget used, the most calls
 * in any 2 s wherever it starts, TRACKING_NUMBER_NOT_FOUND without two "unknown" answers with one after
 * the deadline (false ones), and the spread of polls per open parcel.
 */
async function budgetBacklog(sandboxOrigin: string, log: { at: number; n: string }[], seconds: number) {
  const count = 50;
  const perMs = 2000;
  const parcels = 10 * count;
  const answers = 2;
  const notFoundAfterMs = 10_000;
  const db = await freshPostgresDatabase();
  const store = await openStore(db.url, { poolSize: 2 });
  let proc: Proc | undefined;
  try {
    await migrate(store.db);
    const acceptedAt = Date.now();
    await insertOperations(store.db, parcels, 'ups', 1, 2);
    log.length = 0;
    proc = runCli(['serve'], {
      TRACKHUB_DATABASE_URL: db.url,
      TRACKHUB_ROLE: 'worker',
      TRACKHUB_LOG_LEVEL: 'warn',
      TRACKHUB_CARRIER_UPS_BASE_URL: `${sandboxOrigin}/sandbox/ups`,
      TRACKHUB_CARRIER_UPS_CLIENT_ID: 'bench',
      TRACKHUB_CARRIER_UPS_CLIENT_SECRET: 'bench-secret',
      TRACKHUB_CARRIER_UPS_RATE_LIMIT: `${count}/${perMs}ms`,
      // Every parcel is due again within 5 s, so the backlog stays above the budget for the whole run.
      TRACKHUB_POLL_MIN_INTERVAL: '500ms',
      TRACKHUB_POLL_MAX_INTERVAL: '5s',
      TRACKHUB_NOT_FOUND_AFTER: `${notFoundAfterMs}ms`,
      TRACKHUB_NOT_FOUND_ANSWERS: String(answers),
      TRACKHUB_EXPIRE_AFTER: '1h',
    });
    await waitFor('first UPS call', () => log.length > 0 || undefined, 60_000, 20);
    const from = log[0].at;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const to = from + seconds * 1000;
    const calls = log.filter((c) => c.at >= from && c.at < to);
    console.log('calls per second:', Array.from({ length: seconds }, (_, k) => calls.filter((c) => c.at >= from + k * 1000 && c.at < from + (k + 1) * 1000).length).join(' '));
    const share = calls.length / ((count * (to - from)) / perMs);
    let busiest = 0;
    for (let i = 0, j = 0; i < calls.length; i++) {
      while (calls[j].at < calls[i].at - perMs + 1) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    const ended = await sql<{ tracking_number: string }>`
      select tracking_number from operations where state->>'errorCode' = 'TRACKING_NUMBER_NOT_FOUND'`.execute(store.db);
    const asked = new Map<string, number[]>();
    for (const c of log) asked.set(c.n, [...(asked.get(c.n) ?? []), c.at]);
    const falseNotFound = ended.rows.filter((r) => {
      const times = asked.get(r.tracking_number) ?? [];
      return times.length < answers || (times.at(-1) ?? 0) < acceptedAt + notFoundAfterMs;
    }).length;
    const open = await sql<{ tracking_number: string }>`select tracking_number from operations where is_open`.execute(store.db);
    const perParcel = open.rows.map((r) => (asked.get(r.tracking_number) ?? []).filter((t) => t >= from && t < to).length);
    const most = Math.max(...perParcel);
    const least = Math.min(...perParcel);
    console.log(
      `backlog ${parcels} parcels on a budget of ${count}/${perMs}ms for ${seconds} s: ${calls.length} calls, ${(share * 100).toFixed(1)} % of the budget (target >= 95 %),` +
        ` most in any ${perMs} ms ${busiest} (budget ${count}), ${ended.rows.length} not found of which false ${falseNotFound} (target 0),` +
        ` polls per open parcel ${least}..${most} (max/min ${(most / Math.max(1, least)).toFixed(2)}, target <= 3)`,
    );
    return { share, busiest, falseNotFound, spread: most / Math.max(1, least) };
  } finally {
    await stop(proc);
    await store.close();
    await db.drop();
  }
}

async function dueQuery(active: number): Promise<void> {
  const db = await freshPostgresDatabase();
  const store = await openStore(db.url, { poolSize: 2 });
  try {
    await migrate(store.db);
    const t0 = Date.now();
    // A realistic spread: 1 % due now, the rest waiting up to the 12 h maximum interval.
    await insertOperations(store.db, active, 'fedex', 0.01);
    await sql`analyze operations`.execute(store.db);
    const insertS = (Date.now() - t0) / 1000;
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      // The claim's inner query, as claimDueOperations runs it (inside a transaction, rolled back).
      const plan = await store.db.transaction().execute(async (tx) => {
        const r = await sql<{ 'QUERY PLAN': string }>`explain (analyze, format text)
          select operation_id from operations where wake_at <= now() order by wake_at limit 200 for update skip locked`.execute(tx);
        return r.rows.map((x) => x['QUERY PLAN']).join('\n');
      });
      times.push(Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? Number.NaN));
      if (i === 6 && !plan.includes('operations_due')) console.log(plan);
    }
    times.sort((a, b) => a - b);
    console.log(`due query, ${String(active).padStart(8)} active trackings: median ${times[3].toFixed(3)} ms, worst ${times[6].toFixed(3)} ms over 7 runs (claim of 200; insert took ${insertS.toFixed(1)} s)`);
  } finally {
    await store.close();
    await db.drop();
  }
}

console.log(`bench/poll: ${duration} s per polling run, Node ${process.version}`);
const counter = { n: 0 };
/** UPS numbers asked, and when (the carrier's own log of arrivals). */
const upsLog: { at: number; n: string }[] = [];
const sandbox = Fastify({ logger: false });
sandbox.addHook('onRequest', async (req) => {
  const ups = /\/api\/track\/v1\/details\/([^/?]+)/.exec(req.url);
  if (ups && upsLog.length < 1_000_000) upsLog.push({ at: Date.now(), n: decodeURIComponent(ups[1]) });
});
sandbox.addHook('preHandler', async (req) => {
  if (req.url.endsWith('/track/v1/trackingnumbers')) counter.n += (req.body as { trackingInfo?: unknown[] })?.trackingInfo?.length ?? 0;
  else if (req.url.includes('/api/track/v1/details/')) counter.n += 1;
});
registerSandbox(sandbox, 360);
const origin = await sandbox.listen({ host: '127.0.0.1', port: 0 });
try {
  if (o['backlog-only']) {
    await budgetBacklog(origin, upsLog, Math.max(60, duration * 6));
    process.exit(0);
  }
  const f1 = await pollRate(origin, counter, 'fedex', 1, 60_000);
  const f2 = await pollRate(origin, counter, 'fedex', 2, 60_000);
  console.log(`fedex 2 workers / 1 worker: ${(f2 / f1).toFixed(2)}x`);
  const u1 = await pollRate(origin, counter, 'ups', 1, 30_000);
  const u2 = await pollRate(origin, counter, 'ups', 2, 30_000);
  console.log(`ups   2 workers / 1 worker: ${(u2 / u1).toFixed(2)}x`);
  await budgetBacklog(origin, upsLog, Math.max(60, duration * 6));
  await dueQuery(10_000);
  await dueQuery(1_000_000);
} finally {
  await sandbox.close();
}
