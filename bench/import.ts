/**
 * Production-site event throughput, matching included, on the embedded store and (when
 * TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL is set) on PostgreSQL. Half the events' cards have a
 * waiting PRODUCTION track request (bench/lib/import-seed.ts), which their CARD_SHIPPED report completes;
 * after each run the completed operations are counted in the store, and the run fails unless every one
 * of them changed state.
 *  - Site API: `--clients` concurrent clients POST `--batches` 1,000-event batches each; baseline: the
 *    same batches again (all duplicates: parse, validate, authorise, look up, no write);
 *  - CLI: `trackhub sites import` (a child process, store opened directly) of a `--lines` CSV, timed from
 *    spawn to exit; baseline: the same file imported again (all duplicates).
 * Target: 50,000 events/s each (issue 13). Figures go through bench/lib/report.ts.
 *
 *   npx tsx bench/import.ts [--clients 4] [--batches 50] [--lines 200000] [--quick]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/db.ts';
import { stopEmbeddedServer } from '../src/store/embedded.ts';
import { freePort, runCli, stop, waitReady } from '../test/helpers/processes.ts';
import { onBenchPostgres } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';
import { benchCard, checkMatched, ISSUER, seedOpenProduction } from './lib/import-seed.ts';
import { type Figure, report } from './lib/report.ts';

const { clients, batches, lines } = benchArgs('import', {
  clients: { type: 'number', default: 4 },
  batches: { type: 'number', default: 50, quick: 10 },
  lines: { type: 'number', default: 200_000, quick: 50_000 },
  quick: { type: 'boolean' },
});
const ADMIN = 'bench-admin-token-0123456789abcdef';
const SITE = 'BENCH-SITE';
const API_KEY = 'sk_bench_site_key_0123456789abcdef';
const TARGET = 50_000;
const BATCH = 1000;

/** The n-th batch of client c: events k = (c × batches + n) × 1000 + i, every one a CARD_SHIPPED report. */
function batch(run: string, c: number, n: number): string {
  const events = Array.from({ length: BATCH }, (_, i) => {
    const k = (c * batches + n) * BATCH + i;
    return { eventId: `${run}-${k}`, issuerId: ISSUER, cardId: benchCard(run, k), type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z', carrier: 'fedex', trackingNumber: '771234500102' };
  });
  return JSON.stringify({ events });
}

/** Each client posts its batches in turn; returns events/s (new and duplicate) and the counts. */
async function postBatches(url: string, bodies: string[][]): Promise<{ perSecond: number; accepted: number; duplicates: number }> {
  let accepted = 0;
  let duplicates = 0;
  const started = performance.now();
  await Promise.all(
    bodies.map(async (mine) => {
      for (const body of mine) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body });
        if (res.status !== 202) throw new Error(`Site API answered ${res.status}: ${await res.text()}`);
        const r = (await res.json()) as { accepted: number; duplicates: number; rejected: unknown[] };
        if (r.rejected.length > 0) throw new Error(`Site API rejected events: ${JSON.stringify(r.rejected.slice(0, 3))}`);
        accepted += r.accepted;
        duplicates += r.duplicates;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: (accepted + duplicates) / seconds, accepted, duplicates };
}

function writeCsv(path: string, run: string): void {
  const rows = ['eventId,issuerId,cardId,type,occurredAt,carrier,trackingNumber,reason'];
  for (let k = 0; k < lines; k++) rows.push(`${run}-${k},${ISSUER},${benchCard(run, k)},CARD_SHIPPED,2026-05-01T10:00:00Z,fedex,771234500102,"posted, first class"`);
  writeFileSync(path, `${rows.join('\n')}\n`);
}

async function cliImport(env: Record<string, string>, file: string): Promise<{ perSecond: number; accepted: number; duplicates: number }> {
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
  const r = JSON.parse(out.trim().split('\n').at(-1) as string) as { accepted: number; duplicates: number };
  return { perSecond: lines / seconds, ...r };
}

/** The run's matched count, checked: every seeded operation completed by its event, none left open. */
async function matched(db: Parameters<typeof checkMatched>[0], run: string, seeded: number): Promise<number> {
  const m = await checkMatched(db, run);
  if (m.matchedEvents !== seeded || m.completed !== seeded || m.stillOpen !== 0) {
    throw new Error(`${run}: ${seeded} operations seeded, ${m.matchedEvents} events matched, ${m.completed} completed, ${m.stillOpen} still open`);
  }
  return m.matchedEvents;
}

async function benchStore(label: string, databaseUrl: string): Promise<Figure[]> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // One master key for the hub and the CLI: the hub seals the site's key under it, and the CLI, run with
  // its own data folder, must open the same store.
  const env = { TRACKHUB_DATABASE_URL: databaseUrl, TRACKHUB_LOG_LEVEL: 'warn', TRACKHUB_SECRET_KEY: randomBytes(32).toString('base64') };
  // The per-site event budget is lifted: this measures ingest speed, bench/limits.ts the budget.
  const hub = runCli(['serve'], { ...env, TRACKHUB_PORT: String(port), TRACKHUB_ROLE: 'api', TRACKHUB_ADMIN_TOKEN: ADMIN, TRACKHUB_SITE_RATE_LIMIT: '100000000/1s' });
  const store = await openStore(databaseUrl, { poolSize: 2 });
  const figures: Figure[] = [];
  try {
    await waitReady(base, hub);
    const put = await fetch(`${base}/admin/v1/production-sites/${SITE}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bench bureau', apiKey: API_KEY, carriers: ['fedex'] }),
    });
    if (put.status >= 300) throw new Error(`PUT site: ${put.status}`);
    const url = `${base}/sites/v1/production-sites/${SITE}/events`;
    await postBatches(url, [[batch('warm', 0, 0)]]);
    const apiEvents = clients * batches * BATCH;
    const apiSeeded = await seedOpenProduction(store.db, 'api', apiEvents, SITE);
    const bodies = Array.from({ length: clients }, (_, c) => Array.from({ length: batches }, (_, n) => batch('api', c, n)));
    const fresh = await postBatches(url, bodies);
    const resend = await postBatches(url, bodies);
    if (fresh.accepted !== apiEvents || resend.duplicates !== apiEvents) throw new Error(`Site API: ${fresh.accepted} accepted, ${resend.duplicates} duplicates of ${apiEvents}`);
    const apiMatched = await matched(store.db, 'api', apiSeeded);
    figures.push({
      measure: `site events/s, Site API, ${label} (${apiEvents.toLocaleString('en-US')} new events, ${apiMatched.toLocaleString('en-US')} matched to waiting PRODUCTION requests, ${clients} clients × 1,000-event batches)`,
      value: fresh.perSecond,
      unit: '/s',
      baseline: { measure: 'the same batches again, all duplicates', value: resend.perSecond, unit: '/s' },
      ratio: fresh.perSecond / resend.perSecond,
      target: '≥ 50,000/s',
      met: fresh.perSecond >= TARGET,
    });
    // The CLI opens the store itself: its events meet operations seeded the same way.
    const cliSeeded = await seedOpenProduction(store.db, 'cli', lines, SITE);
    const file = join(workDir, `${label}.csv`);
    writeCsv(file, 'cli');
    const first = await cliImport(env, file);
    const again = await cliImport(env, file);
    if (first.accepted !== lines || again.duplicates !== lines) throw new Error(`sites import: ${first.accepted} accepted, ${again.duplicates} duplicates of ${lines}`);
    const cliMatched = await matched(store.db, 'cli', cliSeeded);
    figures.push({
      measure: `site events/s, sites import, ${label} (${lines.toLocaleString('en-US')} CSV lines, ${cliMatched.toLocaleString('en-US')} matched, spawn to exit)`,
      value: first.perSecond,
      unit: '/s',
      baseline: { measure: 'the same file again, all duplicates', value: again.perSecond, unit: '/s' },
      ratio: first.perSecond / again.perSecond,
      target: '≥ 50,000/s',
      met: first.perSecond >= TARGET,
    });
  } finally {
    await stop(hub);
    await store.close();
  }
  return figures;
}

const workDir = mkdtempSync(join(tmpdir(), 'trackhub-bench-import-'));
console.log(`bench/import: Site API ${clients} clients × ${batches} batches of ${BATCH}, ${lines} CSV lines, Node ${process.version}`);
try {
  const figures = await benchStore('embedded', `embedded://${workDir}/pg`);
  const onPostgres = await onBenchPostgres(async (url) => {
    figures.push(...(await benchStore('PostgreSQL', url)));
  });
  if (!onPostgres) console.log('PostgreSQL skipped: set TRACKHUB_TEST_DATABASE_URL=postgres://… to include it');
  report('import', figures);
} finally {
  await stopEmbeddedServer(join(workDir, 'pg'));
  rmSync(workDir, { recursive: true, force: true });
}
