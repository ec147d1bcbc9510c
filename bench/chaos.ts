/**
 * Chaos at scale, then a rolling restart: what the issuers receive while workers die or are restarted.
 *
 *   node bin/trackhub.js bench chaos [--notifications 100000] [--kills 10] [--issuers 12] [--fail-rate 0.1] [--hang-rate 0.01]
 *                                    [--seed 1] [--rate 1000] [--latency-ms 10] [--delivery-timeout-ms 2000]
 *                                    [--rolling] [--no-rolling] [--rolling-notifications 20000]
 *
 * An API process and 2 worker processes (`trackhub serve`, TRACKHUB_ROLE=api/worker) on a database of
 * their own on PostgreSQL (BENCH_DATABASE_URL or TRACKHUB_TEST_DATABASE_URL, else the trust-auth server
 * on 127.0.0.1:5432; created and dropped here). --issuers issuers whose receivers (a child process on loopback)
 * fail --fail-rate of requests with a 500, leave --hang-rate unanswered (the hub's delivery timeout, short
 * here, ends them) and answer the rest after a latency of 0 to 2 x --latency-ms. Notifications are made
 * through the real path: SHIPMENT track requests on the Issuer API at --rate per second, each one
 * notification (its update with sequenceNumber 1).
 *
 * 1. Kills: while N notifications flow, a worker is SIGKILLed K times, in turn, each once the receivers
 *    have N/(K+1) more notifications since the last (counted in work done, not wall-clock: a slower machine
 *    gets the same kills), and started again at once. Then it waits until every notification is received
 *    and none is pending. Printed: notifications, received, lost, duplicates (count and %), duplicates per
 *    kill (a repeat is charged to the last kill between its previous receipt and itself; a repeat with no
 *    kill in between is counted apart), attempts, hangs, wall time, throughput.
 * 2. Rolling restart (`--rolling` alone, or after the kills unless `--no-rolling`): while notifications
 *    flow, each worker in turn gets SIGTERM, drains, exits and is started again. Printed: lost and
 *    duplicates (expected 0 and 0: a stopping worker lets its sends finish and records them) and each
 *    worker's drain time.
 *
 * Exit status 1 when anything is lost, when the kills duplicate 0.1 % or more, or when the rolling
 * restart duplicates anything. Runs dist/ (bin/trackhub.js): build first after changing src/.
 * test/delivery.rolling.test.ts runs a small rolling restart through `chaosRun` below.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { type ChaosReceivers, chaosReceivers } from '../test/helpers/chaos-receivers.ts';
import { assertion, issuerKey, JWT_BEARER, type TestIssuerKey, tokenUrl } from '../test/helpers/issuer.ts';
import { freePort, type Proc, runCli, stop, waitFor, waitReady } from '../test/helpers/processes.ts';
import { freshDatabase } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';

export interface ChaosOptions {
  /** Notifications of the kill phase (0: no kill phase). */
  notifications: number;
  kills: number;
  /**
   * Issuers, each with its own receiver. A hung request is a timeout, which the hub takes for an overloaded
   * endpoint and halves that endpoint's concurrency and rate (AIMD): with 1 % hangs each endpoint settles
   * around a few dozen notifications a second, so the throughput grows with the issuers.
   */
  issuers: number;
  failRate: number;
  hangRate: number;
  seed: number;
  /** Track requests per second offered by the load generator. */
  rate: number;
  latencyMs: number;
  deliveryTimeoutMs: number;
  /** Notifications of the rolling-restart phase (0: none). */
  rollingNotifications: number;
  /** Progress lines (the figures are returned, and printed by the command). */
  log?: (line: string) => void;
}

export interface PhaseFigures {
  phase: 'kills' | 'rolling';
  notifications: number;
  received: number;
  lost: number;
  duplicates: number;
  duplicateRate: number;
  /** Kills: repeats charged to each kill; rolling: to each SIGTERM. */
  perStop: number[];
  /** Repeats with no kill or restart between them and the receipt before (a late answer, a slow record). */
  duplicatesOtherwise: number;
  attempts: number;
  hangs: number;
  wallMs: number;
  throughput: number;
  /** From the receiver's answer to the hub's record of it (delivered_at), sampled: p50, p90, max (ms). */
  answerToRecordMs: { p50: number; p90: number; max: number; sampled: number };
  /** Rolling: SIGTERM to exit of each worker, and their exit codes. */
  drainsMs: number[];
  exitCodes: (number | null)[];
}

const ADMIN = 'chaos-bench-admin-token-0123456789abcdef';
/** Issuer ids of 10 characters, one receiver each. */
const issuerIds = (n: number) => Array.from({ length: n }, (_, i) => `CHAOSBNK${String(i + 1).padStart(2, '0')}`);
const WORKERS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An issuer the Issuer API accepts: its key, and an access token fetched again when refused. */
interface Issuer {
  id: string;
  key: TestIssuerKey;
  token: string;
}

async function accessToken(api: string, id: string, key: TestIssuerKey): Promise<string> {
  const res = await fetch(`${api}/authz/v1/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: JWT_BEARER, assertion: await assertion(id, key, { aud: tokenUrl(api) }) }),
  });
  if (!res.ok) throw new Error(`token for ${id}: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function registerIssuers(api: string, urls: string[]): Promise<Issuer[]> {
  const out: Issuer[] = [];
  for (const [i, id] of issuerIds(urls.length).entries()) {
    const key = await issuerKey();
    const put = await fetch(`${api}/admin/v1/issuers/${id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: id, notificationBaseUrl: urls[i], jwks: { keys: [key.publicJwk] } }),
    });
    if (put.status !== 201 && put.status !== 200) throw new Error(`PUT issuer ${id}: HTTP ${put.status} ${await put.text()}`);
    out.push({ id, key, token: await accessToken(api, id, key) });
  }
  return out;
}

/**
 * Sends `count` track requests at `rate` per second (32 at once at most), each for a card of its own, and
 * returns the operation ids accepted. A request refused because the hub is busy or restarting is sent
 * again (the same body for an open operation is idempotent); any other refusal is a bug and throws.
 */
async function feed(api: string, issuers: Issuer[], prefix: string, count: number, rate: number, accepted: Set<string>): Promise<void> {
  const started = performance.now();
  let next = 0;
  const sender = async () => {
    for (let i = next++; i < count; i = next++) {
      const due = started + (i / rate) * 1000;
      if (due > performance.now()) await sleep(due - performance.now());
      const issuer = issuers[i % issuers.length];
      for (let tries = 0; ; tries++) {
        if (tries > 600) throw new Error(`track request ${prefix}-${i} not accepted after ${tries} tries`);
        try {
          const res = await request(`${api}/banking/v1/issuers/${issuer.id}/physicalCards/${prefix}-${i}/track`, {
            method: 'POST',
            headers: { authorization: `Bearer ${issuer.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: `CHAOS${i}` }),
          });
          if (res.statusCode === 202) {
            accepted.add(((await res.body.json()) as { operationId: string }).operationId);
            break;
          }
          const text = await res.body.text();
          if (res.statusCode === 401) issuer.token = await accessToken(api, issuer.id, issuer.key);
          else if (res.statusCode !== 429 && res.statusCode !== 503) throw new Error(`track request ${prefix}-${i}: HTTP ${res.statusCode} ${text}`);
        } catch (err) {
          if ((err as Error).message.startsWith('track request')) throw err;
          // the connection failed: the hub is busy; try again
        }
        await sleep(100);
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, sender));
}

/** Notifications of the issuers still pending in the store (Admin API: one page of one is enough). */
async function somePending(api: string): Promise<boolean> {
  const res = await fetch(`${api}/admin/v1/notifications?state=pending&limit=1`, { headers: { authorization: `Bearer ${ADMIN}` } });
  if (!res.ok) throw new Error(`GET /admin/v1/notifications: HTTP ${res.status}`);
  return ((await res.json()) as { notifications: unknown[] }).notifications.length > 0;
}

/**
 * The repeats of the phase's notifications, each charged to the stop (kill or SIGTERM) nearest the receipt
 * it repeats, among those from `windowMs` before that receipt to the repeat itself: a kill falls after a
 * receipt its worker did not record yet; a send cut short at a SIGTERM is processed by the receiver up
 * to its timeout after the stop. A repeat with no stop in that span is counted apart.
 */
function duplicatesOf(rx: ChaosReceivers, ids: Set<string>, stops: number[], windowMs: number) {
  const perStop = stops.map(() => 0);
  let otherwise = 0;
  let total = 0;
  for (const id of ids) {
    const times = rx.receipts.get(id);
    if (!times || times.length < 2) continue;
    const sorted = [...times].sort((a, b) => a - b);
    for (let j = 1; j < sorted.length; j++) {
      total++;
      let charged = -1;
      for (let k = 0; k < stops.length; k++) {
        if (stops[k] < sorted[j - 1] - windowMs || stops[k] > sorted[j]) continue;
        if (charged < 0 || Math.abs(stops[k] - sorted[j - 1]) < Math.abs(stops[charged] - sorted[j - 1])) charged = k;
      }
      if (charged >= 0) perStop[charged]++;
      else otherwise++;
    }
  }
  return { total, perStop, otherwise };
}

/** The webhook-ids that carried the given operations (one notification per operation here). */
function notificationIds(rx: ChaosReceivers, ops: Set<string>): Set<string> {
  const ids = new Set<string>();
  for (const [id, carried] of rx.operationsOf) if (carried.some((op) => ops.has(op))) ids.add(id);
  return ids;
}

export async function chaosRun(o: ChaosOptions): Promise<PhaseFigures[]> {
  const log = o.log ?? (() => {});
  const base = process.env.BENCH_DATABASE_URL || process.env.TRACKHUB_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  process.env.TRACKHUB_TEST_DATABASE_URL = base;
  const db = await freshDatabase('postgres');
  const rx = await chaosReceivers(o.issuers, o.failRate, { hangRate: o.hangRate, seed: o.seed, latencyMs: o.latencyMs });
  const apiPort = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  const timeout = `${o.deliveryTimeoutMs}ms`;
  const env = {
    TRACKHUB_DATABASE_URL: db.url,
    TRACKHUB_ADMIN_TOKEN: ADMIN,
    TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true', // the receivers are on loopback
    TRACKHUB_ISSUER_RATE_LIMIT: '1000000',
    // Enough short retries that a 10 % failure rate never exhausts the schedule (a dead one would be lost).
    TRACKHUB_RETRY_SCHEDULE: '100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,2s,2s,2s,2s,2s',
    TRACKHUB_DELIVERY_TIMEOUT: timeout,
    // A killed worker's rows come back after the lease: the shortest the hub allows (1.5 x the timeout).
    TRACKHUB_LEASE: `${Math.ceil(o.deliveryTimeoutMs * 1.5)}ms`,
    TRACKHUB_LOG_LEVEL: 'warn',
  };
  const apiProc = runCli(['serve'], { ...env, TRACKHUB_PORT: String(apiPort), TRACKHUB_ROLE: 'api' });
  const workers: (Proc | undefined)[] = Array.from({ length: WORKERS }, () => undefined);
  const allWorkers: Proc[] = [];
  const startWorker = async (i: number) => {
    const w = runCli(['serve'], { ...env, TRACKHUB_PORT: String(await freePort()), TRACKHUB_ROLE: 'worker', TRACKHUB_LOG_LEVEL: 'info' });
    workers[i] = w;
    allWorkers.push(w);
    await waitFor(`worker ${i} started`, () => (w.output().includes('trackhub started') ? true : undefined), 60_000, 50);
  };
  // Notifications received so far (distinct webhook-ids): the work the kills and SIGTERMs wait for.
  const accepted = (): number => rx.receipts.size;
  const figures: PhaseFigures[] = [];
  try {
    await waitReady(api, apiProc);
    const issuers = await registerIssuers(api, rx.list.map((r) => r.url));
    for (let i = 0; i < WORKERS; i++) await startWorker(i);

    /**
     * One phase: `count` notifications fed at the configured rate while `disrupt` runs (it gets "wait
     * until the receivers have n more notifications of this phase" and returns the stop times); then waits
     * until every one is received and none is pending, and works out the figures.
     */
    const phase = async (
      name: 'kills' | 'rolling',
      count: number,
      disrupt: (receivedPast: (n: number, what: string) => Promise<void>) => Promise<{ stops: number[]; drainsMs: number[]; exitCodes: (number | null)[] }>,
    ): Promise<PhaseFigures> => {
      const ops = new Set<string>();
      const baseline = accepted();
      const statsBefore = await rx.stats();
      const started = performance.now();
      log(`[chaos ${name}] ${count} notifications at ${o.rate}/s`);
      const receivedPast = async (n: number, what: string) => {
        const from = accepted();
        await waitFor(`${n} more notifications received before ${what}`, () => (accepted() >= from + n || accepted() - baseline >= count ? true : undefined), 600_000, 10);
      };
      const fed = feed(api, issuers, `${name}-${o.seed}`, count, o.rate, ops);
      const disrupted = disrupt(receivedPast);
      await fed;
      const { stops, drainsMs, exitCodes } = await disrupted;
      const received = () => [...ops].filter((op) => rx.accepted.has(op)).length;
      const ceilingMs = 120_000 + count * 5;
      await waitFor(`every ${name} notification received`, () => (received() >= ops.size ? true : undefined), ceilingMs, 100).catch(() => undefined);
      const allReceivedAt = performance.now();
      // Nothing pending any more: no repeat can still be on its way (a killed worker's rows come back after the lease).
      await waitFor(`no ${name} notification pending`, async () => ((await somePending(api)) ? undefined : true), ceilingMs, 250).catch(() => undefined);
      const statsAfter = await rx.stats();
      const ids = notificationIds(rx, ops);
      const dup = duplicatesOf(rx, ids, stops, o.deliveryTimeoutMs);
      const answerToRecordMs = await recordLag(api, rx, ids);
      const got = received();
      const wallMs = allReceivedAt - started;
      return {
        phase: name,
        notifications: ops.size,
        received: got,
        lost: ops.size - got,
        duplicates: dup.total,
        duplicateRate: dup.total / Math.max(1, got),
        perStop: dup.perStop,
        duplicatesOtherwise: dup.otherwise,
        attempts: statsAfter.attempts - statsBefore.attempts,
        hangs: statsAfter.hangs - statsBefore.hangs,
        wallMs,
        throughput: got / (wallMs / 1000),
        answerToRecordMs,
        drainsMs,
        exitCodes,
      };
    };

    if (o.notifications > 0) {
      figures.push(
        await phase('kills', o.notifications, async (receivedPast) => {
          const stops: number[] = [];
          const exitCodes: (number | null)[] = [];
          for (let k = 0; k < o.kills; k++) {
            await receivedPast(Math.floor(o.notifications / (o.kills + 1)), `kill ${k + 1}`);
            const i = k % WORKERS;
            const w = workers[i] as Proc;
            stops.push(Date.now());
            await stop(w, 'SIGKILL');
            exitCodes.push(w.child.exitCode);
            log(`[chaos kills] kill ${k + 1}/${o.kills}: worker ${i} SIGKILLed at ${accepted()} received; restarting`);
            await startWorker(i);
          }
          return { stops, drainsMs: [], exitCodes };
        }),
      );
    }
    if (o.rollingNotifications > 0) {
      figures.push(
        await phase('rolling', o.rollingNotifications, async (receivedPast) => {
          const stops: number[] = [];
          const drainsMs: number[] = [];
          const exitCodes: (number | null)[] = [];
          for (let i = 0; i < WORKERS; i++) {
            // At a quarter, then half of the notifications: the other half still flows after the last restart.
            await receivedPast(Math.floor(o.rollingNotifications / (WORKERS + 2)), `SIGTERM of worker ${i}`);
            const w = workers[i] as Proc;
            const at = performance.now();
            stops.push(Date.now());
            await stop(w, 'SIGTERM');
            drainsMs.push(performance.now() - at);
            exitCodes.push(w.child.exitCode);
            log(`[chaos rolling] worker ${i} SIGTERMed: exited ${w.child.exitCode} after ${Math.round(performance.now() - at)} ms; restarting`);
            await startWorker(i);
          }
          return { stops, drainsMs, exitCodes };
        }),
      );
    }
    if (o.log) for (const line of workerWarnings(allWorkers)) log(line);
    return figures;
  } finally {
    for (const w of workers) await stop(w, 'SIGKILL');
    await stop(apiProc);
    await rx.close();
    await db.drop();
  }
}

/**
 * How long after the receiver answered the hub wrote the delivery down, for up to 200 notifications spread
 * over the phase (Admin API: delivered_at is the recording transaction's time): what a SIGKILL can repeat
 * is about the deliveries per second times this.
 */
async function recordLag(api: string, rx: ChaosReceivers, ids: Set<string>) {
  const once = [...ids].filter((id) => rx.receipts.get(id)?.length === 1);
  const step = Math.max(1, Math.floor(once.length / 200));
  const lags: number[] = [];
  for (let i = 0; i < once.length; i += step) {
    const res = await fetch(`${api}/admin/v1/notifications/${once[i]}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    if (!res.ok) continue;
    const n = (await res.json()) as { deliveredAt: string | null };
    if (n.deliveredAt) lags.push(Date.parse(n.deliveredAt) - (rx.receipts.get(once[i]) as number[])[0]);
  }
  lags.sort((a, b) => a - b);
  const at = (q: number) => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? Number.NaN;
  return { p50: at(0.5), p90: at(0.9), max: lags.at(-1) ?? Number.NaN, sampled: lags.length };
}

/** What the workers warned about (slow or failed records, failed rounds), by message: explains repeats. */
function workerWarnings(procs: Proc[]): string[] {
  const counts = new Map<string, number>();
  for (const p of procs) {
    for (const line of p.output().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string };
        if ((entry.level ?? 0) >= 40) counts.set(entry.msg ?? '?', (counts.get(entry.msg ?? '?') ?? 0) + 1);
      } catch {
        // not a log line
      }
    }
  }
  return [...counts].map(([msg, n]) => `[chaos] workers logged ${n} x "${msg}"`);
}

/** The figures of one phase, one line each. */
export function describeFigures(f: PhaseFigures): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
  const lines = [
    `[chaos ${f.phase}] notifications ${f.notifications}  received ${f.received}  lost ${f.lost}  duplicates ${f.duplicates} (${pct(f.duplicateRate)})`,
    `[chaos ${f.phase}] duplicates per ${f.phase === 'kills' ? 'kill' : 'SIGTERM'}: [${f.perStop.join(', ')}]  with no ${f.phase === 'kills' ? 'kill' : 'restart'} between: ${f.duplicatesOtherwise}`,
    `[chaos ${f.phase}] answer to record (${f.answerToRecordMs.sampled} sampled): p50 ${f.answerToRecordMs.p50} ms  p90 ${f.answerToRecordMs.p90} ms  max ${f.answerToRecordMs.max} ms`,
    `[chaos ${f.phase}] attempts ${f.attempts} (${f.hangs} hung)  wall ${(f.wallMs / 1000).toFixed(1)} s  throughput ${Math.round(f.throughput)}/s`,
  ];
  if (f.phase === 'rolling') lines.push(`[chaos rolling] drain (SIGTERM to exit) ${f.drainsMs.map((ms) => `${Math.round(ms)} ms`).join(', ')}  exit codes ${f.exitCodes.join(', ')}`);
  return lines;
}

/** Non-empty when the run fails its targets: nothing lost, kills under 0.1 % duplicates, a rolling restart none. */
export function verdict(figures: PhaseFigures[]): string[] {
  const out: string[] = [];
  for (const f of figures) {
    if (f.lost > 0) out.push(`${f.phase}: ${f.lost} lost`);
    if (f.phase === 'kills' && f.duplicateRate >= 0.001) out.push(`kills: duplicates ${(f.duplicateRate * 100).toFixed(3)} % (target < 0.1 %)`);
    if (f.phase === 'rolling' && f.duplicates > 0) out.push(`rolling: ${f.duplicates} duplicates (target 0)`);
    if (f.phase === 'rolling' && f.exitCodes.some((c) => c !== 0)) out.push(`rolling: a worker exited ${f.exitCodes.join(', ')} on SIGTERM (expected 0)`);
  }
  return out;
}

/** dist/ (what bin/trackhub.js runs) must not be older than src/, or the figures are of other code. */
function distIsStale(root: string): boolean {
  let built = 0;
  try {
    built = statSync(join(root, 'dist', 'cli', 'main.js')).mtimeMs;
  } catch {
    return true;
  }
  const newest = (dir: string): number => {
    let m = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      m = Math.max(m, e.isDirectory() ? newest(p) : e.name.endsWith('.test.ts') ? 0 : statSync(p).mtimeMs);
    }
    return m;
  };
  return newest(join(root, 'src')) > built;
}

/** Every number may be 0, as before (no kills, no failures, no latency). */
const CHAOS_OPTIONS = {
  notifications: { type: 'number', default: 100_000, zero: true },
  kills: { type: 'number', default: 10, zero: true },
  issuers: { type: 'number', default: 12, zero: true, note: '1 to 99' },
  'fail-rate': { type: 'number', default: 0.1, zero: true },
  'hang-rate': { type: 'number', default: 0.01, zero: true },
  seed: { type: 'number', default: 1, zero: true },
  rate: { type: 'number', default: 1000, zero: true },
  'latency-ms': { type: 'number', default: 10, zero: true },
  'delivery-timeout-ms': { type: 'number', default: 2000, zero: true },
  rolling: { type: 'boolean' },
  'no-rolling': { type: 'boolean' },
  'rolling-notifications': { type: 'number', zero: true, note: '--notifications, at most 20000; all of them with --rolling' },
} as const;

async function main() {
  const a = benchArgs('chaos', CHAOS_OPTIONS);
  const root = resolve(import.meta.dirname, '..');
  if (distIsStale(root)) {
    process.stderr.write('bench chaos: dist/ is older than src/ (the workers run dist/): run npm run build first\n');
    process.exit(2);
  }
  const notifications = a.notifications;
  const rollingOnly = a.rolling;
  const o: ChaosOptions = {
    notifications: rollingOnly ? 0 : notifications,
    kills: a.kills,
    issuers: Math.max(1, Math.min(99, a.issuers)),
    failRate: a['fail-rate'],
    hangRate: a['hang-rate'],
    seed: a.seed,
    rate: a.rate,
    latencyMs: a['latency-ms'],
    deliveryTimeoutMs: a['delivery-timeout-ms'],
    rollingNotifications: a['no-rolling'] ? 0 : (a['rolling-notifications'] ?? (rollingOnly ? notifications : Math.min(notifications, 20_000))),
    log: (line) => console.log(line),
  };
  console.log(
    `bench chaos: ${o.notifications} notifications with ${o.kills} kills, then ${o.rollingNotifications} through a rolling restart; ` +
      `2 workers on PostgreSQL; ${o.issuers} issuers whose receivers fail ${o.failRate * 100} %, hang ${o.hangRate * 100} %, answer in 0-${2 * o.latencyMs} ms; ` +
      `delivery timeout ${o.deliveryTimeoutMs} ms; seed ${o.seed}`,
  );
  const figures = await chaosRun(o);
  for (const f of figures) for (const line of describeFigures(f)) console.log(line);
  const failures = verdict(figures);
  console.log(failures.length === 0 ? 'targets met: 0 lost; kills < 0.1 % duplicates; rolling restart 0 duplicates' : `TARGETS MISSED: ${failures.join('; ')}`);
  process.exit(failures.length === 0 ? 0 : 1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
