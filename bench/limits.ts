/**
 * What the hub's limits do under abuse, against baselines measured in the same run, on the embedded store:
 *  - one production site floods the Site API with 1,000-event batches on `--connections` connections for
 *    `--duration` seconds while an issuer makes track requests one after the other: the issuer's median
 *    and p99 latency alone and during the flood, and the events the site got accepted, with the per-site
 *    budget at its default and lifted (a second hub);
 *  - 1,000 valid and 1,000 forged assertions at the token endpoint from one client: how many got 429;
 *  - 200 sockets that send nothing, with TRACKHUB_IDLE_TIMEOUT=2s: how long they stay open; 1,100 of
 *    them against the default cap of 1,000 connections: how many are refused at once; and 150 from one
 *    address against the default per-address cap of 100, while another address connects.
 *
 *   npx tsx bench/limits.ts [--connections 8] [--duration 6] [--flood-nice 10]   (about a minute on a quiet machine)
 *
 * Each hub runs as a child process (TRACKHUB_ROLE=api), and so does the flooding site (at a lower CPU
 * priority, `--flood-nice`): neither shares the event loop that times the issuer's requests.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { stopEmbeddedServer } from '../src/store/embedded.ts';
import { assertion, issuerKey, JWT_BEARER } from '../test/helpers/issuer.ts';
import { freePort, runCli, stop, waitReady } from '../test/helpers/processes.ts';
import { benchArgs } from './lib/args.ts';

const o = benchArgs('limits', {
  connections: { type: 'number', default: 8 },
  duration: { type: 'number', default: 6 },
  // A nice value: 0 (the same priority as the hub) is one.
  'flood-nice': { type: 'number', default: 10, zero: true },
});
const { connections, duration } = o;
const floodNice = o['flood-nice'];
const ADMIN = 'bench-admin-token-0123456789abcdefghijkl';
const ISSUER = 'QUIETBANK1';
const SITE = 'FLOOD-SITE';
const SITE_KEY = 'sk_bench_flood_site_key_0123456789';
const FLOODER = join(import.meta.dirname, 'flood', 'site-flood.ts');
// tsx's loader for the flooding child (the benchmarks run under tsx; see src/cli/bench.ts).
const tsxLoader = import.meta.resolve('tsx');

async function startHub(databaseUrl: string, env: Record<string, string>) {
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
    ...env,
  });
  await waitReady(base, hub);
  return { hub, base, port };
}

async function admin(base: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${base}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}

async function tokenFor(base: string, key: Awaited<ReturnType<typeof issuerKey>>): Promise<string> {
  const res = await fetch(`${base}/authz/v1/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: JWT_BEARER, assertion: await assertion(ISSUER, key, { aud: `${base}/authz/v1/oauth2/token` }) }),
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

const quantile = (ms: number[], q: number) => {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** The issuer's track requests one after the other until `until`; latencies in ms, failures counted. */
async function trackUntil(pool: Pool, token: string, label: string, until: number) {
  const ms: number[] = [];
  let failed = 0;
  for (let n = 0; performance.now() < until; n++) {
    const started = performance.now();
    const res = await pool.request({
      method: 'POST',
      path: `/banking/v1/issuers/${ISSUER}/physicalCards/${label}-${n}/track`,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"trackingType":"PRODUCTION"}',
    });
    await res.body.dump();
    if (res.statusCode === 202) ms.push(performance.now() - started);
    else failed++;
  }
  return { ms, failed };
}

/**
 * The flooding site, as a child process (bench/flood/site-flood.ts) at CPU priority `floodNice`: a remote
 * client's CPU is not the hub's, and on this one machine the flood's own work (building and sending the
 * bodies) would otherwise compete with the hub and the measurement as much as the hub's refusals do.
 * `--flood-nice 0` gives it the same priority as everything else.
 */
function flood(base: string, prefix: string): Promise<{ accepted: number; refused: number }> {
  const child = spawn(process.execPath, ['--import', tsxLoader, FLOODER, base, SITE, SITE_KEY, String(connections), String(duration * 1000), prefix], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.pid !== undefined) setPriority(child.pid, floodNice);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the flooding site exited ${code}`))));
  });
}

/** A flood of 1,000-event batches that never waits for Retry-After, while the issuer tracks cards. */
async function floodScenario(label: string, databaseUrl: string, env: Record<string, string>) {
  const { hub, base } = await startHub(databaseUrl, env);
  const slug = label.replace(/\W+/g, '-'); // card and event ids
  const issuerPool = new Pool(base, { connections: 1 });
  try {
    const key = await issuerKey();
    await admin(base, `/admin/v1/issuers/${ISSUER}`, { name: 'Quiet bank', notificationBaseUrl: 'http://127.0.0.1:9', jwks: { keys: [key.publicJwk] } });
    await admin(base, `/admin/v1/production-sites/${SITE}`, { name: 'Flooding bureau', apiKey: SITE_KEY });
    const token = await tokenFor(base, key);
    await trackUntil(issuerPool, token, `${slug}-warm`, performance.now() + 1000);
    const alone = await trackUntil(issuerPool, token, `${slug}-alone`, performance.now() + 3000);

    const started = performance.now();
    const flooding = flood(base, slug);
    // The child needs a moment to start; the issuer's window is the flood's.
    await new Promise((r) => setTimeout(r, 300));
    const during = await trackUntil(issuerPool, token, `${slug}-flood`, started + duration * 1000);
    const { accepted, refused } = await flooding;
    const seconds = (performance.now() - started) / 1000;
    const a50 = quantile(alone.ms, 0.5);
    const a99 = quantile(alone.ms, 0.99);
    const f50 = quantile(during.ms, 0.5);
    const f99 = quantile(during.ms, 0.99);
    console.log(
      `${label.padEnd(16)} site: ${accepted} events accepted in ${seconds.toFixed(1)} s (${Math.round(accepted / seconds)}/s), ${refused} batches refused (429)` +
        `  | issuer alone: ${alone.ms.length} tracks, median ${a50.toFixed(1)} ms, p99 ${a99.toFixed(1)} ms` +
        `  | during the flood: ${during.ms.length} tracks (${during.failed} failed), median ${f50.toFixed(1)} ms (x${(f50 / a50).toFixed(1)}), p99 ${f99.toFixed(1)} ms (x${(f99 / a99).toFixed(1)})`,
    );
    return { hub, base };
  } catch (err) {
    await stop(hub);
    throw err;
  } finally {
    await issuerPool.close();
  }
}

async function tokenScenario(base: string) {
  const key = await issuerKey();
  const forger = await issuerKey();
  await admin(base, '/admin/v1/issuers/TOKENBANK1', { name: 'Token bank', notificationBaseUrl: 'http://127.0.0.1:9', jwks: { keys: [key.publicJwk] } });
  const aud = `${base}/authz/v1/oauth2/token`;
  const counts = async (signer: typeof key) => {
    const assertions = await Promise.all(Array.from({ length: 1000 }, () => assertion('TOKENBANK1', signer, { aud })));
    const byStatus: Record<number, number> = {};
    for (const a of assertions) {
      const res = await fetch(aud, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: JWT_BEARER, assertion: a }) });
      await res.arrayBuffer();
      byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
    }
    return Object.entries(byStatus)
      .map(([s, n]) => `${n} x ${s}`)
      .join(', ');
  };
  console.log(`token endpoint   1,000 valid assertions: ${await counts(key)}  | then 1,000 forged ones: ${await counts(forger)}  (defaults: 300/1m per address, 60/1m per issuer)`);
}

/** A socket that sends nothing; `openFor` resolves with how long it was open (from its connect). */
/** `localAddress`: another loopback address (127.0.0.2…) to connect from, as another client would. */
function silentSocket(port: number, localAddress?: string): Promise<{ socket: Socket; closedAt: Promise<number>; openFor: Promise<number> }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    socket.on('error', () => {});
    socket.resume(); // flowing, so the hub's close is seen at once
    let connectedAt = Number.NaN;
    const closedAt = new Promise<number>((r) => socket.once('close', () => r(performance.now())));
    const openFor = closedAt.then((t) => t - connectedAt);
    socket.once('connect', () => {
      connectedAt = performance.now();
      resolve({ socket, closedAt, openFor });
    });
    socket.once('close', () => resolve({ socket, closedAt, openFor }));
  });
}

/** Sockets that send nothing: how long they stay open, and what the cap does with more of them. */
async function socketScenario(databaseUrl: string) {
  // The per-address cap lifted here: these rows are about the idle timeout and the global cap (one address
  // opens every socket); the per-address cap has a row of its own below.
  const { hub, port } = await startHub(databaseUrl, { TRACKHUB_IDLE_TIMEOUT: '2s', TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: '5000' });
  try {
    const opened = performance.now();
    const silent = await Promise.all(Array.from({ length: 200 }, () => silentSocket(port)));
    const closed = await Promise.all(silent.map((s) => s.closedAt));
    console.log(`silent sockets   200 that send nothing (TRACKHUB_IDLE_TIMEOUT=2s): all closed by the hub after ${((Math.max(...closed) - opened) / 1000).toFixed(2)} s (first after ${((Math.min(...closed) - opened) / 1000).toFixed(2)} s)`);
    const capOpened = performance.now();
    const many = await Promise.all(Array.from({ length: 1100 }, () => silentSocket(port)));
    const healthz = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => String(r.status),
      () => 'refused',
    );
    const closedTimes = await Promise.all(many.map((s) => s.closedAt));
    // Refused: closed within 0.5 s of connecting (the others stay until the 2 s idle timeout).
    const refusedAtOnce = (await Promise.all(many.map((s) => s.openFor))).filter((ms) => ms < 500).length;
    console.log(
      `connection cap   1,100 silent sockets against TRACKHUB_MAX_CONNECTIONS=1000: ${refusedAtOnce} closed within 0.5 s of connecting (refused), the rest after ${((Math.max(...closedTimes) - capOpened) / 1000).toFixed(2)} s; ` +
        `a /healthz meanwhile: ${healthz}`,
    );
  } finally {
    await stop(hub);
  }
  const perAddress = await startHub(databaseUrl, { TRACKHUB_IDLE_TIMEOUT: '2s' });
  try {
    const hoard = await Promise.all(Array.from({ length: 150 }, () => silentSocket(perAddress.port, '127.0.0.2')));
    const other = await Promise.all(Array.from({ length: 10 }, () => silentSocket(perAddress.port, '127.0.0.3')));
    const refused = (await Promise.all(hoard.map((s) => s.openFor))).filter((ms) => ms < 500).length;
    const otherRefused = (await Promise.all(other.map((s) => s.openFor))).filter((ms) => ms < 500).length;
    console.log(`per-address cap  150 silent sockets from one address (TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS=100 by default): ${refused} refused at once; 10 from another address meanwhile: ${otherRefused} refused`);
  } finally {
    await stop(perAddress.hub);
  }
}

console.log(`bench/limits: ${connections} flooding connections, ${duration} s per flood, Node ${process.version}, embedded store`);
const dir = mkdtempSync(join(tmpdir(), 'trackhub-bench-'));
const databaseUrl = `embedded://${dir}/pg`;
try {
  // The budget lifted first: the baseline of what one site can do to another issuer.
  const lifted = await floodScenario('budget lifted', databaseUrl, { TRACKHUB_SITE_RATE_LIMIT: '100000000/1s' });
  await stop(lifted.hub);
  // Refusals only: the site's budget is spent after its first batch, so what remains is the cost of a 429.
  const spent = await floodScenario('refusals only', databaseUrl, { TRACKHUB_SITE_RATE_LIMIT: '1000/1h' });
  await stop(spent.hub);
  const limited = await floodScenario('default budget', databaseUrl, {});
  try {
    await tokenScenario(limited.base);
  } finally {
    await stop(limited.hub);
  }
  await socketScenario(databaseUrl);
} finally {
  await stopEmbeddedServer(join(dir, 'pg'));
  rmSync(dir, { recursive: true, force: true });
}
