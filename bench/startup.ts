/**
 * Start-up and idle cost of the hub on its embedded store, beside baselines measured in the same run.
 *
 *   trackhub bench startup [--runs 5]
 *
 * Prints:
 * - first start on a fresh data folder to /readyz (initdb included), and restart (server stopped with the hub);
 * - `trackhub --help` wall time, beside `node -e ''` (what Node itself costs to start);
 * - idle memory of `serve --sandbox` plus its PostgreSQL processes, as the sum of each process's Pss
 *   (/proc/PID/smaps_rollup: shared pages counted once across the processes that share them);
 * - the same hub on an external PostgreSQL (TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL), when set.
 * Targets (the embedded-store issue): first start ≤ 3 s, restart ≤ 1 s, --help ≤ 0.3 s, idle ≤ 200 MB.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopEmbeddedServer } from '../src/store/embedded.ts';
import { freePort, type Proc, runCli, stop, waitFor } from '../test/helpers/processes.ts';
import { onBenchPostgres } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';

const { runs } = benchArgs('startup', { runs: { type: 'number', default: 5 } });
const BIN = join(import.meta.dirname, '../bin/trackhub.js');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Starts `serve --sandbox` and returns it with the milliseconds from spawn to a 200 from /readyz. */
async function startTimed(env: Record<string, string>): Promise<{ hub: Proc; ms: number; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const hub = runCli(['serve', '--sandbox'], { ...env, TRACKHUB_PORT: String(port), TRACKHUB_LOG_LEVEL: 'warn' });
  await waitFor(`${url}/readyz`, async () => (await fetch(`${url}/readyz`)).ok || undefined, 60_000, 10);
  return { hub, ms: performance.now() - t0, url };
}

function pss(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A process and all its descendants (the postmaster's backends and helpers). */
function withDescendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

function postmasterPid(folder: string): number | undefined {
  try {
    return Number(readFileSync(join(folder, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

async function idleMemory(hub: Proc, folder?: string): Promise<{ hubMb: number; dbMb: number; processes: number }> {
  await new Promise((r) => setTimeout(r, 5000)); // let start-up garbage go and the workers settle
  const pm = folder ? postmasterPid(folder) : undefined;
  const dbPids = pm ? withDescendants(pm) : [];
  // The server the hub started is still its child (detached into its own session, not reparented):
  // count each process once, the server's tree as the database's.
  const hubPids = withDescendants(hub.child.pid as number).filter((p) => !dbPids.includes(p));
  const sum = (pids: number[]) => pids.reduce((a, p) => a + pss(p), 0) / 1048576;
  return { hubMb: sum(hubPids), dbMb: sum(dbPids), processes: hubPids.length + dbPids.length };
}

console.log(`bench/startup: ${runs} runs each, Node ${process.version}, ${readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? '?'} CPUs`);

// --help against Node's own start-up.
const helpMs: number[] = [];
const nodeMs: number[] = [];
for (let i = 0; i < runs + 1; i++) {
  let t0 = performance.now();
  const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  if (i > 0) helpMs.push(performance.now() - t0); // the first run warms the page cache
  if (help.status !== 0) throw new Error(`trackhub --help failed: ${help.stderr}`);
  t0 = performance.now();
  spawnSync(process.execPath, ['-e', ''], { encoding: 'utf8' });
  if (i > 0) nodeMs.push(performance.now() - t0);
}
const helpMedian = median(helpMs);
console.log(`trackhub --help      ${helpMedian.toFixed(0)} ms (median)  | node -e '' ${median(nodeMs).toFixed(0)} ms  | ratio ${(helpMedian / median(nodeMs)).toFixed(2)}  | target ≤ 300 ms`);

// First start and restarts on the embedded store.
const dir = mkdtempSync(join(tmpdir(), 'trackhub-bench-startup-'));
const folder = join(dir, 'pg');
const env = { TRACKHUB_DATABASE_URL: `embedded://${folder}` };
try {
  const first = await startTimed(env);
  console.log(`embedded first start ${first.ms.toFixed(0)} ms to /readyz (fresh folder: initdb, start, migrations)  | target ≤ 3000 ms`);
  const mem = await idleMemory(first.hub, folder);
  console.log(
    `embedded idle        ${(mem.hubMb + mem.dbMb).toFixed(0)} MB Pss (hub ${mem.hubMb.toFixed(0)} MB + PostgreSQL ${mem.dbMb.toFixed(0)} MB, ${mem.processes} processes)  | target ≤ 200 MB`,
  );
  await stop(first.hub);
  const restarts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const again = await startTimed(env);
    restarts.push(again.ms);
    await stop(again.hub);
  }
  console.log(`embedded restart     ${median(restarts).toFixed(0)} ms to /readyz (median of ${runs}; server started again)  | target ≤ 1000 ms`);
} finally {
  await stopEmbeddedServer(folder);
  rmSync(dir, { recursive: true, force: true });
}

// The same hub on an external PostgreSQL: the baseline for the embedded figures.
const measured = await onBenchPostgres(async (url) => {
  const first = await startTimed({ TRACKHUB_DATABASE_URL: url });
  const mem = await idleMemory(first.hub);
  await stop(first.hub);
  const again = await startTimed({ TRACKHUB_DATABASE_URL: url });
  await stop(again.hub);
  console.log(`external PostgreSQL  first start ${first.ms.toFixed(0)} ms, restart ${again.ms.toFixed(0)} ms, idle hub ${mem.hubMb.toFixed(0)} MB Pss (its server not counted)`);
});
if (!measured) console.log('external PostgreSQL  skipped: set TRACKHUB_TEST_DATABASE_URL=postgres://… to include it');
process.exit(0);
