/**
 * Notification delivery throughput and latency.
 *
 *   npx tsx bench/deliver.ts [--notifications 30000] [--rate 1000] [--seconds 10] [--updates-per-operation 1]
 *                            [--only ceiling,pg1,pg2,embedded,embedded-inproc,pglatency,embeddedlatency]
 *
 * The default run (all but embedded-inproc, about 3 minutes on an idle 2-core box) reports its headline
 * figures through report() (bench/lib/report.ts), each beside a baseline from the same run:
 * 0. Baselines: the receiver's ceiling, a plain loop of signed POSTs into it from 1 and 2 client processes
 *    (bench/lib/deliver-client.ts, 256 connections each, as a worker) with no store at all; and a bare POST's
 *    round trip at --rate, the floor under commit→receipt.
 * Each throughput run also prints the CPU spent per notification by the workers, PostgreSQL (all of it,
 * from /proc: other databases' work on the same server counts too) and this process (the receiver), and
 * how busy the machine was: on a 2-core box all of these share the cores.
 *
 * --updates-per-operation K: the throughput outboxes hold chains, K updates (sequenceNumber 1..K) of
 * each operation, which go out one after another (each once the one before is delivered); 1, the
 * default, is one update per operation.
 *
 * 1. Throughput: an outbox holding N due notifications (4 issuers), drained by `trackhub serve`
 *    worker processes into a local receiver that answers 204: 1 and 2 workers on PostgreSQL
 *    (TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL), 1 process on the embedded store (one hub
 *    one process by nature). The rows are written beforehand with a due time a few seconds ahead, so
 *    the workers' start-up is not measured: the clock runs from the due time to the last receipt.
 *    Also 1 and 2 dispatchers inside one process on one embedded server (`--only embedded-inproc`).
 * 2. Latency at a steady rate: notifications committed at --rate per second (group commit every 10 ms,
 *    as the API's accept path does), each stamped with its commit time; p50/p99 from commit to receipt. On PostgreSQL through two worker processes woken by
 *    LISTEN/NOTIFY; on the embedded store in one process (the API's commit kicks its dispatcher).
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dispatcher } from '../src/delivery/dispatcher.ts';
import { newId } from '../src/domain/ids.ts';
import { createLogger } from '../src/logger.ts';
import { type Db, migrate, openStore } from '../src/store/db.ts';
import { stopEmbeddedServer } from '../src/store/embedded.ts';
import { upsertIssuer } from '../src/store/issuers.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { MasterKey } from '../src/store/secret-box.ts';
import { unlockSecrets } from '../src/store/secrets.ts';
import { freePort, type Proc, stop, waitFor } from '../test/helpers/processes.ts';
import { freshPostgresDatabase } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';
import { canAccount, cpuPerItem, cpuSnapshot } from './lib/cpu.ts';
import { barePostLatency, type Receiver, receiver, receiverCeiling } from './lib/deliver-receiver.ts';
import { type Figure, report } from './lib/report.ts';

const o = benchArgs('deliver', {
  notifications: { type: 'number', default: 30_000 },
  rate: { type: 'number', default: 1000 },
  seconds: { type: 'number', default: 10 },
  'updates-per-operation': { type: 'number', default: 1 },
  only: { type: 'string', list: true, choices: ['ceiling', 'pg1', 'pg2', 'embedded', 'embedded-inproc', 'pglatency', 'embeddedlatency'] },
});
const { notifications: N, rate: RATE, seconds: SECONDS, only } = o;
const UPDATES_PER_OPERATION = Math.max(1, o['updates-per-operation']);
const ISSUERS = ['BENCHDLV01', 'BENCHDLV02', 'BENCHDLV03', 'BENCHDLV04'];
const pgBase = process.env.BENCH_DATABASE_URL || process.env.TRACKHUB_TEST_DATABASE_URL;

/** The master key the bench's store and its worker processes share (stored secrets are sealed under it). */
const BENCH_SECRET_KEY = MasterKey.generate();

async function registerIssuers(db: Db, url: string) {
  await unlockSecrets(db, { key: BENCH_SECRET_KEY, source: 'TRACKHUB_SECRET_KEY' });
  for (const issuerId of ISSUERS) {
    await upsertIssuer(db, {
      issuerId, name: issuerId, notificationBaseUrl: url, jwks: { keys: [] }, webhookSecrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      notificationAuth: null, maxOperationsPerNotification: 1, autoTrackShipment: false, enabled: true,
    });
  }
}

function rows(n: number, payload: (i: number) => string) {
  return Array.from({ length: n }, (_, i) => {
    const id = newId('msg');
    return { id, issuer_id: ISSUERS[i % ISSUERS.length], operation_id: `op_${id}`, sequence_number: 1, correlation_id: `c_${id}`, payload: payload(i) };
  });
}

/** `n` rows as chains of `perOperation` updates (sequence 1, 2…) of one operation each, written in one go. */
function chains(n: number, perOperation: number) {
  return Array.from({ length: n }, (_, i) => {
    const id = newId('msg');
    const op = Math.floor(i / perOperation);
    return { id, issuer_id: ISSUERS[op % ISSUERS.length], operation_id: `op_bench_${op}`, sequence_number: (i % perOperation) + 1, correlation_id: `c_${id}`, payload: PAYLOAD };
  });
}

const PAYLOAD = JSON.stringify({ operationId: 'op_bench', operation: 'STANDALONE_TRACKING', status: 'PENDING', issuerId: 'BENCHDLV01', cardId: 'card-1', sequenceNumber: 1, details: { trackingType: 'SHIPMENT', status: 'CARD_SHIPPED' } });

const workerEnv = (databaseUrl: string) => ({
  TRACKHUB_DATABASE_URL: databaseUrl,
  TRACKHUB_ROLE: 'worker',
  TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true', // the receiver is on loopback
  TRACKHUB_LOG_LEVEL: 'info',
  TRACKHUB_SECRET_KEY: BENCH_SECRET_KEY.toBase64(),
});

/**
 * `trackhub serve` as a worker, its log (a line per delivery, at info) written to a file as a service
 * manager would take it, not piped into this process: here it would cost the receiver's CPU.
 */
const LOGS = mkdtempSync(join(tmpdir(), 'trackhub-bench-log-'));
let workersStarted = 0;

function runWorker(env: Record<string, string>): Proc {
  const nodeArgs = process.env.TRACKHUB_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const log = join(LOGS, `worker-${++workersStarted}.log`);
  const fd = openSync(log, 'w', 0o600);
  const child = spawn(process.execPath, [...nodeArgs, join(import.meta.dirname, '../bin/trackhub.js'), 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  return { child, output: () => readFileSync(log, 'utf8') };
}

async function startWorkers(databaseUrl: string, count: number): Promise<Proc[]> {
  const procs: Proc[] = [];
  for (let i = 0; i < count; i++) procs.push(runWorker({ ...workerEnv(databaseUrl), TRACKHUB_PORT: String(await freePort()) }));
  for (const p of procs) await waitFor('worker start', () => (p.output().includes('trackhub started') ? true : undefined), 60_000, 100);
  return procs;
}

/** Fills the outbox with N notifications due `leadMs` from now; returns when they fall due. */
async function fill(db: Db, leadMs: number): Promise<number> {
  if (UPDATES_PER_OPERATION > 1) {
    const all = chains(N, UPDATES_PER_OPERATION);
    for (let i = 0; i < N; i += 2000) await insertOutbox(db, all.slice(i, i + 2000));
  } else {
    for (let i = 0; i < N; i += 2000) await insertOutbox(db, rows(Math.min(2000, N - i), () => PAYLOAD));
  }
  const due = Date.now() + leadMs;
  await db.updateTable('outbox').set({ next_attempt_at: new Date(due) }).execute();
  return due;
}

async function drain(label: string, rx: Receiver, due: number, workers: number, procs: Proc[] = []) {
  await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  const cpu0 = canAccount() ? cpuSnapshot({ workers: procs.map((p) => p.child.pid as number) }) : undefined;
  await waitFor(`${label}: all ${N} received`, () => (rx.arrivals.size >= N ? true : undefined), 120_000, 20);
  const last = Math.max(...rx.arrivals.values());
  const seconds = (last - due) / 1000;
  const perSecond = Math.round(N / seconds);
  const shape = UPDATES_PER_OPERATION > 1 ? ` (${N / UPDATES_PER_OPERATION} operations x ${UPDATES_PER_OPERATION} updates)` : '';
  console.log(`${label.padEnd(34)} ${String(workers).padStart(2)} worker(s)  ${N} notifications${shape} in ${seconds.toFixed(2)} s  = ${perSecond}/s`);
  if (cpu0) {
    const { perItemUs, machineBusy } = cpuPerItem(cpu0, cpuSnapshot({ workers: procs.map((p) => p.child.pid as number) }), N);
    console.log(`  CPU per notification: ${Object.entries(perItemUs).map(([k, v]) => `${k} ${v} µs`).join(', ')}; machine ${(machineBusy * 100).toFixed(0)}% busy`);
  }
  return perSecond;
}

async function throughputPostgres(workers: number): Promise<number> {
  const database = await freshPostgresDatabase();
  const rx = await receiver();
  const store = await openStore(database.url);
  let procs: Proc[] = [];
  try {
    await migrate(store.db);
    await registerIssuers(store.db, rx.url);
    const due = await fill(store.db, 15_000);
    procs = await startWorkers(database.url, workers);
    if (Date.now() > due) throw new Error('workers started after the due time: raise the lead');
    return await drain('throughput, PostgreSQL', rx, due, workers, procs);
  } finally {
    for (const p of procs) await stop(p);
    await store.close();
    await rx.close();
    await database.drop();
  }
}

async function throughputEmbedded(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'trackhub-bench-'));
  const url = `embedded://${join(dir, 'pg')}`;
  const rx = await receiver();
  let procs: Proc[] = [];
  try {
    const store = await openStore(url);
    await migrate(store.db);
    await registerIssuers(store.db, rx.url);
    const due = await fill(store.db, 20_000);
    await store.close(); // the embedded store has one owner: now the worker process
    procs = await startWorkers(url, 1);
    if (Date.now() > due) throw new Error('worker started after the due time: raise the lead');
    return await drain('throughput, embedded', rx, due, 1, procs);
  } finally {
    for (const p of procs) await stop(p);
    await rx.close();
    await stopEmbeddedServer(join(dir, 'pg'));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One hub owns the embedded store, so "two workers" there means two dispatchers in that process sharing
 * its pool; measured beside one dispatcher in the same way.
 */
async function throughputEmbeddedInProcess(dispatchers: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'trackhub-bench-'));
  const rx = await receiver();
  const store = await openStore(`embedded://${join(dir, 'pg')}`);
  const all = Array.from({ length: dispatchers }, () => new Dispatcher({ db: store.db, log: createLogger('warn'), retryScheduleMs: [5000], leaseMs: 30_000, allowPrivateTargets: true }));
  try {
    await migrate(store.db);
    await registerIssuers(store.db, rx.url);
    const due = await fill(store.db, 2_000);
    for (const d of all) d.start();
    return await drain('throughput, embedded, in-process', rx, due, dispatchers);
  } finally {
    for (const d of all) await d.stop();
    await store.close();
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Commits one notification at a time at RATE/s for SECONDS; returns p50/p99 commit→receipt in ms. */
async function steady(db: Db, rx: Receiver, afterCommit: () => void) {
  const committed = new Map<string, number>();
  const total = RATE * (SECONDS + 1);
  const start = performance.now();
  // Group commit, as the Issuer API's accept path does: every 10 ms, the notifications that fell due
  // since the last commit go in one transaction; each is timed from that commit.
  for (let sent = 0; sent < total; ) {
    await new Promise((r) => setTimeout(r, 10));
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE));
    if (due <= sent) continue;
    const batch = rows(due - sent, () => PAYLOAD);
    await db.transaction().execute((tx) => insertOutbox(tx, batch));
    const at = performance.timeOrigin + performance.now();
    for (const r of batch) committed.set(r.id, at);
    afterCommit();
    sent = due;
  }
  const achieved = total / ((performance.now() - start) / 1000);
  await waitFor('steady-rate notifications received', () => ([...committed.keys()].every((id) => rx.arrivals.has(id)) ? true : undefined), 60_000, 50);
  // The first second warms up (connections, JIT, first claims) and is left out of the figures.
  const measured = [...committed].filter(([, t]) => t >= performance.timeOrigin + start + 1000);
  const latencies = measured.map(([id, t]) => (rx.arrivals.get(id) as number) - t).sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  if (process.env.BENCH_DEBUG) {
    const slow = measured.map(([id, t]) => [((t - performance.timeOrigin - start) / 1000).toFixed(2), ((rx.arrivals.get(id) as number) - t).toFixed(0)]).filter(([, l]) => Number(l) > 50);
    console.log(`p90 ${pct(90).toFixed(1)} p95 ${pct(95).toFixed(1)} max ${latencies.at(-1)?.toFixed(1)}; over 50 ms (at s, ms):`, JSON.stringify(slow.slice(0, 60)));
  }
  return { p50: pct(50), p99: pct(99), achieved };
}

async function latencyPostgres() {
  const database = await freshPostgresDatabase();
  const rx = await receiver();
  const store = await openStore(database.url);
  let procs: Proc[] = [];
  try {
    await migrate(store.db);
    await registerIssuers(store.db, rx.url);
    procs = await startWorkers(database.url, 2);
    const r = await steady(store.db, rx, () => {});
    console.log(`latency at ${RATE}/s, PostgreSQL, 2 workers (LISTEN/NOTIFY)   p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  (offered ${r.achieved.toFixed(0)}/s)`);
    return r;
  } finally {
    for (const p of procs) await stop(p);
    await store.close();
    await rx.close();
    await database.drop();
  }
}

async function latencyEmbedded() {
  const dir = mkdtempSync(join(tmpdir(), 'trackhub-bench-'));
  const rx = await receiver();
  const store = await openStore(`embedded://${join(dir, 'pg')}`);
  const dispatcher = new Dispatcher({ db: store.db, log: createLogger('warn'), retryScheduleMs: [5000], leaseMs: 30_000, allowPrivateTargets: true });
  try {
    await migrate(store.db);
    await registerIssuers(store.db, rx.url);
    dispatcher.start();
    const r = await steady(store.db, rx, () => dispatcher.kick());
    console.log(`latency at ${RATE}/s, embedded, one process (commit kicks)   p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  (offered ${r.achieved.toFixed(0)}/s)`);
    return r;
  } finally {
    await dispatcher.stop();
    await store.close();
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// The default run (about 3 minutes): everything the issue's figures need; embedded-inproc on demand.
const want = (name: string) => (only ? only.split(',').includes(name) : name !== 'embedded-inproc');
const r: {
  ceiling1?: number;
  ceiling2?: number;
  pg1?: number;
  pg2?: number;
  embedded?: number;
  floor?: { p50: number; p99: number };
  pgLatency?: { p50: number; p99: number };
  embeddedLatency?: { p50: number; p99: number };
} = {};
// The baselines first: the receiver's ceiling from 1 and 2 plain client processes (256 connections each,
// as a worker), and a bare POST's round trip at the steady rate.
if (want('ceiling')) {
  r.ceiling1 = await receiverCeiling(N, 1, 256);
  r.ceiling2 = await receiverCeiling(N, 2, 256);
  console.log(`receiver ceiling (plain signed POSTs, no store)  1 client process ${r.ceiling1}/s, 2: ${r.ceiling2}/s`);
}
if (want('pglatency') || want('embeddedlatency')) {
  r.floor = await barePostLatency(RATE, 3);
  console.log(`bare POST round trip at ${RATE}/s   p50 ${r.floor.p50.toFixed(1)} ms  p99 ${r.floor.p99.toFixed(1)} ms`);
}
if (pgBase && want('pg1')) r.pg1 = await throughputPostgres(1);
if (pgBase && want('pg2')) r.pg2 = await throughputPostgres(2);
if (want('embedded')) r.embedded = await throughputEmbedded();
if (want('embedded-inproc')) {
  const one = await throughputEmbeddedInProcess(1);
  const two = await throughputEmbeddedInProcess(2);
  console.log(`2 dispatchers / 1 dispatcher on one embedded server: ×${(two / one).toFixed(2)}`);
}
if (pgBase && want('pglatency')) r.pgLatency = (await latencyPostgres()) as { p50: number; p99: number };
if (want('embeddedlatency')) r.embeddedLatency = (await latencyEmbedded()) as { p50: number; p99: number };
if (!pgBase) console.log('(set TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL for the PostgreSQL figures)');

const ceiling = (clients: 1 | 2) => {
  const value = clients === 1 ? r.ceiling1 : r.ceiling2;
  return value === undefined ? undefined : { measure: `receiver ceiling, ${clients} plain client process${clients === 1 ? '' : 'es'}`, value, unit: '/s' };
};
const over = (value: number, base?: { value: number }) => (base ? value / base.value : undefined);
const figures: Figure[] = [];
if (r.pg2 !== undefined) {
  figures.push({ measure: 'notifications delivered/s, PostgreSQL, 2 workers', value: r.pg2, unit: '/s', baseline: ceiling(2), ratio: over(r.pg2, ceiling(2)), target: '≥ 10,000/s', met: r.pg2 >= 10_000 });
}
if (r.pg1 !== undefined) figures.push({ measure: 'notifications delivered/s, PostgreSQL, 1 worker', value: r.pg1, unit: '/s', baseline: ceiling(1), ratio: over(r.pg1, ceiling(1)) });
if (r.pg1 !== undefined && r.pg2 !== undefined) {
  const base = r.ceiling1 !== undefined && r.ceiling2 !== undefined ? { measure: 'receiver ceiling, 2 clients / 1 client', value: r.ceiling2 / r.ceiling1, unit: '×' } : undefined;
  figures.push({ measure: 'notifications, PostgreSQL, 2 workers / 1 worker', value: r.pg2 / r.pg1, unit: '×', baseline: base, ratio: over(r.pg2 / r.pg1, base), target: '> 1 (a second worker adds)', met: r.pg2 / r.pg1 > 1 });
}
if (r.embedded !== undefined) figures.push({ measure: 'notifications delivered/s, embedded, 1 process', value: r.embedded, unit: '/s', baseline: ceiling(1), ratio: over(r.embedded, ceiling(1)) });
const floor = (p: 'p50' | 'p99') => (r.floor ? { measure: `bare POST round trip ${p} at ${RATE}/s`, value: r.floor[p], unit: 'ms' } : undefined);
for (const [where, l] of [['PostgreSQL, 2 workers', r.pgLatency], ['embedded', r.embeddedLatency]] as const) {
  if (!l) continue;
  figures.push({ measure: `commit→receipt p50 at ${RATE}/s, ${where}`, value: l.p50, unit: 'ms', baseline: floor('p50'), ratio: over(l.p50, floor('p50')) });
  figures.push({ measure: `commit→receipt p99 at ${RATE}/s, ${where}`, value: l.p99, unit: 'ms', baseline: floor('p99'), ratio: over(l.p99, floor('p99')), target: '≤ 50 ms', met: l.p99 <= 50 });
}
report('deliver', figures);
rmSync(LOGS, { recursive: true, force: true });
process.exit(0);
