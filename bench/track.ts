/**
 * Throughput and latency of the track endpoint and of /healthz, against a bare Fastify 5 server measured
 * in the same run (bench/lib/bare-fastify.ts, a process of its own), on the embedded store and (when
 * TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL is set) on PostgreSQL.
 *
 *   npx tsx bench/track.ts [--connections 64] [--duration 10] [--only embedded|postgres]
 *
 * The hub runs as a child process with TRACKHUB_ROLE=api, so the load generator and the workers do not
 * share its event loop; what is measured is the API accepting work durably (operation + outbox row,
 * committed before the 202). After each run every accepted request is looked up in the store. The CPU the
 * hub and its PostgreSQL spent per accepted request is printed too: on a shared box it is steadier than
 * the throughput.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import { openStore } from '../src/store/db.ts';
import { stopEmbeddedServer } from '../src/store/embedded.ts';
import { freePort, runCli, stop, waitFor, waitReady } from '../test/helpers/processes.ts';
import { onBenchPostgres } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';
import { backendsOf, cpuMeter, processTree } from './lib/cpu.ts';
import { benchIssuer } from './lib/issuer.ts';
import { type Figure, fmt, report } from './lib/report.ts';

const { connections, duration, only } = benchArgs('track', {
  connections: { type: 'number', default: 64 },
  duration: { type: 'number', default: 10 },
  only: { type: 'string', choices: ['embedded', 'postgres'] },
});
const ADMIN = 'bench-admin-token-0123456789abcdef';
const ISSUER = 'BENCHBANK1';
const BODY = JSON.stringify({ trackingType: 'SHIPMENT', trackingNumber: '123456789012', carrier: 'fedex' });
const TARGET_RPS = 10_000;
const TARGET_RATIO = 0.35;
const TARGET_P99 = 20;

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  accepted: number;
}

async function load(url: string, opts: Partial<autocannon.Options>, seconds = duration): Promise<Load> {
  const res = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ connections, duration: seconds, ...opts, url }, (err, r) => (err ? reject(err) : resolve(r)));
  });
  return { rps: res['2xx'] / seconds, p50: res.latency.p50, p99: res.latency.p99, non2xx: res.non2xx, errors: res.errors, accepted: res['2xx'] };
}

/** POSTs of track requests for new cards (a distinct card each), with an issuer's token; `accepted` collects the 202s' operation ids. */
function trackRequests(prefix: string, token = 'unused', accepted: string[] = []): Partial<autocannon.Options> {
  let n = 0;
  return {
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => ({
          ...req,
          path: `/banking/v1/issuers/${ISSUER}/physicalCards/${prefix}-${n++}/track`,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: BODY,
        }),
        onResponse: (status, body) => {
          if (status === 202) accepted.push(JSON.parse(body).operationId);
        },
      },
    ],
  };
}

/** The ceiling: bare Fastify's GET and POST, in a process of its own like the hub. */
async function measureBare(): Promise<{ get: Load; post: Load; cpuPerPostUs: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'lib', 'bare-fastify.ts'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await waitFor('bare Fastify', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok || undefined);
    const base = `http://127.0.0.1:${port}`;
    await load(`${base}/healthz`, {}, 2); // warm-up
    const get = await load(`${base}/healthz`, {});
    const cpu = cpuMeter(() => [child.pid ?? 0]);
    const post = await load(base, trackRequests('bare'));
    return { get, post, cpuPerPostUs: (cpu() / post.accepted) * 1e6 };
  } finally {
    child.kill('SIGTERM');
  }
}

interface StoreRun {
  label: string;
  healthz: Load;
  track: Load;
  hubCpuUs: number;
  dbCpuUs: number;
  stored: number;
}

async function benchStore(label: string, databaseUrl: string, dbPids: () => number[]): Promise<StoreRun> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const hub = runCli(['serve'], {
    TRACKHUB_DATABASE_URL: databaseUrl,
    TRACKHUB_PORT: String(port),
    TRACKHUB_ROLE: 'api',
    TRACKHUB_ADMIN_TOKEN: ADMIN,
    TRACKHUB_LOG_LEVEL: 'warn',
    TRACKHUB_ISSUER_RATE_LIMIT: '1000000',
    TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true', // the notification URL below is on loopback
  });
  try {
    await waitReady(base, hub);
    const token = await benchIssuer(base, ADMIN, ISSUER, 'http://127.0.0.1:9'); // nothing listens: the api role sends nothing

    await load(`${base}/healthz`, {}, 2); // warm-up
    const healthz = await load(`${base}/healthz`, {});
    await load(base, trackRequests(`warm-${label}`, token), 2);
    const hubCpu = cpuMeter(() => [hub.child.pid ?? 0]); // not its tree: the embedded server is its child
    const dbCpu = cpuMeter(dbPids);
    const acceptedIds: string[] = [];
    const track = await load(base, trackRequests(`bench-${label}`, token, acceptedIds));
    const hubCpuUs = (hubCpu() / track.accepted) * 1e6;
    const dbCpuUs = (dbCpu() / track.accepted) * 1e6;
    // Every 202 must be a stored operation: the hub commits before it answers.
    const store = await openStore(databaseUrl);
    let stored: number;
    try {
      const row = await sql<{ n: string }>`select count(*) as n from operations where operation_id = any(${acceptedIds}::text[])`.execute(store.db);
      stored = Number(row.rows[0].n);
      if (acceptedIds.length !== track.accepted) throw new Error(`${acceptedIds.length} operation ids for ${track.accepted} 202s`);
    } finally {
      await store.close();
    }
    return { label, healthz, track, hubCpuUs, dbCpuUs, stored };
  } finally {
    await stop(hub);
  }
}

function describe(l: Load): string {
  return `p50 ${l.p50} ms, p99 ${l.p99} ms${l.non2xx || l.errors ? `, non-2xx ${l.non2xx}, errors ${l.errors}` : ''}`;
}

function figuresOf(run: StoreRun, bare: Awaited<ReturnType<typeof measureBare>>): Figure[] {
  const { track, healthz } = run;
  const ratio = track.rps / bare.post.rps;
  const durable = run.stored === track.accepted;
  return [
    {
      measure: `track requests accepted/s, ${run.label}, ${connections} connections (${describe(track)}; ${durable ? 'every' : 'NOT every'} 202 found stored)`,
      value: track.rps,
      unit: '/s',
      baseline: { measure: `bare Fastify POST (${describe(bare.post)})`, value: bare.post.rps, unit: '/s' },
      ratio,
      target: `≥ ${fmt(TARGET_RPS)}/s, ≥ ${TARGET_RATIO}× baseline, p99 ≤ ${TARGET_P99} ms, every 202 stored`,
      met: track.rps >= TARGET_RPS && ratio >= TARGET_RATIO && track.p99 <= TARGET_P99 && durable,
    },
    {
      measure: `CPU per accepted track request, ${run.label}: hub ${fmt(run.hubCpuUs)} µs + PostgreSQL ${fmt(run.dbCpuUs)} µs`,
      value: run.hubCpuUs + run.dbCpuUs,
      unit: 'µs',
      baseline: { measure: 'bare Fastify POST', value: bare.cpuPerPostUs, unit: 'µs' },
      ratio: (run.hubCpuUs + run.dbCpuUs) / bare.cpuPerPostUs,
    },
    {
      measure: `hub /healthz req/s, ${run.label} (${describe(healthz)})`,
      value: healthz.rps,
      unit: '/s',
      baseline: { measure: `bare Fastify GET (${describe(bare.get)})`, value: bare.get.rps, unit: '/s' },
      ratio: healthz.rps / bare.get.rps,
      target: '≥ 0.8× baseline',
      met: healthz.rps / bare.get.rps >= 0.8,
    },
  ];
}

console.log(`bench/track: ${connections} connections, ${duration} s per run, Node ${process.version}`);
const bare = await measureBare();
const runs: StoreRun[] = [];
if (only !== 'postgres') {
  const dir = mkdtempSync(join(tmpdir(), 'trackhub-bench-'));
  try {
    const postmaster = () => Number(readFileSync(join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    runs.push(await benchStore('embedded', `embedded://${dir}/pg`, () => processTree(postmaster())));
  } finally {
    await stopEmbeddedServer(join(dir, 'pg'));
    rmSync(dir, { recursive: true, force: true });
  }
}
const onPostgres =
  only !== 'embedded' &&
  (await onBenchPostgres(async (url) => {
    runs.push(await benchStore('PostgreSQL', url, () => backendsOf(new URL(url).pathname.slice(1))));
  }));
if (!onPostgres && only !== 'embedded') console.log('PostgreSQL skipped: set TRACKHUB_TEST_DATABASE_URL=postgres://… to include it');

const figures = runs.flatMap((r) => figuresOf(r, bare));
const embedded = runs.find((r) => r.label === 'embedded');
const postgres = runs.find((r) => r.label === 'PostgreSQL');
if (embedded && postgres) {
  figures.push({
    measure: 'track requests accepted/s, PostgreSQL against embedded',
    value: postgres.track.rps,
    unit: '/s',
    baseline: { measure: 'embedded, same run', value: embedded.track.rps, unit: '/s' },
    ratio: postgres.track.rps / embedded.track.rps,
    target: 'PostgreSQL not slower (≥ 0.95×, within noise)',
    met: postgres.track.rps / embedded.track.rps >= 0.95,
  });
}
report('track', figures);
