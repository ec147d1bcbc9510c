/**
 * Production-site event throughput, on the embedded store and (when TRACKHUB_TEST_DATABASE_URL or
 * BENCH_DATABASE_URL is set) on PostgreSQL:
 *  - Site API: `--clients` concurrent clients POST 1,000-event batches of new events for `--duration`
 *    seconds, then the same batches again (all duplicates) as the baseline of the same run;
 *  - CLI: `trackhub sites import` (a child process, store opened directly) of a `--lines` CSV, timed
 *    from spawn to exit, against the 10,000 events/s target.
 *
 *   npx tsx bench/import.ts [--clients 4] [--duration 10] [--lines 200000]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopEmbeddedServer } from '../src/store/embedded.ts';
import { freePort, runCli, stop, waitReady } from '../test/helpers/processes.ts';
import { onBenchPostgres } from '../test/helpers/stores.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const clients = arg('clients', 4);
const duration = arg('duration', 10);
const lines = arg('lines', 200_000);
const ADMIN = 'bench-admin-token-0123456789abcdef';
const SITE = 'BENCH-SITE';
const API_KEY = 'sk_bench_site_key_0123456789abcdef';
const TARGET = 10_000;

function batch(prefix: string, n: number): string {
  const events = Array.from({ length: 1000 }, (_, i) => ({
    eventId: `${prefix}-${n}-${i}`,
    issuerId: 'BENCHBANK1',
    cardId: `card-${prefix}-${n}-${i}`,
    type: i % 2 ? 'CARD_SHIPPED' : 'CARD_RETURNED',
    occurredAt: '2026-05-01T10:00:00Z',
    carrier: 'fedex',
    trackingNumber: '771234500102',
  }));
  return JSON.stringify({ events });
}

/** Each client posts its own batches in turn until the time is up; returns events/s and the bodies sent. */
async function postBatches(url: string, label: string, bodies?: string[][]): Promise<{ perSecond: number; bodies: string[][]; accepted: number; duplicates: number }> {
  const until = Date.now() + duration * 1000;
  const sent: string[][] = Array.from({ length: clients }, () => []);
  let accepted = 0;
  let duplicates = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let n = 0; bodies ? n < (bodies[c] ?? []).length : Date.now() < until; n++) {
        const body = bodies ? bodies[c][n] : batch(`${label}-${c}`, n);
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body });
        if (res.status !== 202) throw new Error(`Site API answered ${res.status}: ${await res.text()}`);
        const r = (await res.json()) as { accepted: number; duplicates: number };
        accepted += r.accepted;
        duplicates += r.duplicates;
        sent[c].push(body);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: (accepted + duplicates) / seconds, bodies: sent, accepted, duplicates };
}

function writeCsv(path: string, prefix: string): void {
  const rows = ['eventId,issuerId,cardId,type,occurredAt,carrier,trackingNumber,reason'];
  for (let i = 0; i < lines; i++) rows.push(`${prefix}-${i},BENCHBANK1,card-${prefix}-${i},CARD_SHIPPED,2026-05-01T10:00:00Z,fedex,771234500102,"posted, first class"`);
  writeFileSync(path, `${rows.join('\n')}\n`);
}

async function cliImport(env: Record<string, string>, file: string): Promise<{ wallPerSecond: number; reported: { accepted: number; eventsPerSecond: number } }> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(import.meta.dirname, '../bin/trackhub.js'), 'sites', 'import', '--site', SITE, file, '--json'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`sites import exited ${code}: ${out}`);
  const reported = JSON.parse(out.trim().split('\n').at(-1) as string);
  return { wallPerSecond: lines / seconds, reported };
}

async function benchStore(label: string, databaseUrl: string, dir: string) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // One master key for the hub and the CLI: the hub seals the site's key under it, and the CLI, run with
  // its own data folder, must open the same store.
  const env = { TRACKHUB_DATABASE_URL: databaseUrl, TRACKHUB_LOG_LEVEL: 'warn', TRACKHUB_SECRET_KEY: randomBytes(32).toString('base64') };
  // The per-site event budget is lifted: this measures ingest speed, bench/limits.ts the budget.
  const hub = runCli(['serve'], { ...env, TRACKHUB_PORT: String(port), TRACKHUB_ROLE: 'api', TRACKHUB_ADMIN_TOKEN: ADMIN, TRACKHUB_SITE_RATE_LIMIT: '100000000/1s' });
  try {
    await waitReady(base, hub);
    const put = await fetch(`${base}/admin/v1/production-sites/${SITE}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bench bureau', apiKey: API_KEY, carriers: ['fedex'] }),
    });
    if (put.status >= 300) throw new Error(`PUT site: ${put.status}`);
    const url = `${base}/sites/v1/production-sites/${SITE}/events`;
    await postBatches(url, 'warm', [[batch('warm', 0)]]);
    const fresh = await postBatches(url, 'api');
    const resend = await postBatches(url, 'api', fresh.bodies);
    console.log(
      `${label.padEnd(9)} Site API: ${fresh.perSecond.toFixed(0)} new events/s (${fresh.accepted} in ${duration} s, ${clients} clients x 1,000-event batches)` +
        `  | resend of the same batches (all duplicates): ${resend.perSecond.toFixed(0)} events/s  | ratio ${(fresh.perSecond / resend.perSecond).toFixed(2)}`,
    );
  } finally {
    await stop(hub); // the CLI below runs on its own (it starts the embedded server itself)
  }
  const file = join(dir, `${label}.csv`);
  writeCsv(file, `cli-${label}`);
  const cli = await cliImport(env, file);
  if (cli.reported.accepted !== lines) throw new Error(`sites import accepted ${cli.reported.accepted} of ${lines}`);
  console.log(
    `${label.padEnd(9)} sites import: ${cli.wallPerSecond.toFixed(0)} events/s spawn to exit (${lines} lines; ${cli.reported.eventsPerSecond} events/s as the CLI reports it, store open included)` +
      `  | ratio to the ${TARGET} events/s target ${(cli.wallPerSecond / TARGET).toFixed(2)}`,
  );
}

console.log(`bench/import: ${clients} clients, ${duration} s per API run, ${lines} CSV lines, Node ${process.version}`);
const dir = mkdtempSync(join(tmpdir(), 'trackhub-bench-import-'));
try {
  await benchStore('embedded', `embedded://${dir}/pg`, dir);
  if (!(await onBenchPostgres((url) => benchStore('postgres', url, dir)))) {
    console.log('postgres  skipped: set TRACKHUB_TEST_DATABASE_URL=postgres://… to include it');
  }
} finally {
  await stopEmbeddedServer(join(dir, 'pg'));
  rmSync(dir, { recursive: true, force: true });
}
