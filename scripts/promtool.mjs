#!/usr/bin/env node
// promtool for the alert-rule test (test/alerts.promtool.test.ts): Debian's `prometheus` package ships it,
// but installing that package starts a Prometheus service, so the package is only downloaded
// (`apt-get download`) and unpacked (`dpkg -x`) into a cache folder outside the repository, and only
// promtool is kept. TRACKHUB_PROMTOOL points at another promtool instead.
// `node scripts/promtool.mjs` prints the path (fetching it first when needed); on failure one line and exit 1.
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const FETCH = 'apt-get download prometheus && dpkg -x prometheus_*.deb DIR';

/** ~/.cache/trackhub/promtool (XDG_CACHE_HOME honoured): survives `npm ci`, never inside the repository. */
export function promtoolCacheDir() {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'trackhub', 'promtool');
}

function runnable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status === 0) return undefined;
  // apt-get warns on stderr even when it works; the last line is the one that says why it failed.
  return `${r.stderr ?? ''}`.trim().split('\n').at(-1) || (r.error?.message ?? `exit ${r.status ?? r.signal}`);
}

/**
 * The promtool to run: TRACKHUB_PROMTOOL when set (it must be runnable), else the cached one, else Debian's
 * downloaded now. Throws an Error whose message is one line saying what to do.
 */
export function ensurePromtool(log = () => {}) {
  const configured = process.env.TRACKHUB_PROMTOOL;
  if (configured) {
    if (runnable(configured)) return configured;
    throw new Error(`no promtool at TRACKHUB_PROMTOOL=${configured}; point it at one, or unset it to fetch Debian's`);
  }
  const dir = promtoolCacheDir();
  const cached = join(dir, 'promtool');
  if (runnable(cached)) return cached;
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`promtool is missing and apt-get is not here; set TRACKHUB_PROMTOOL to a promtool (Prometheus 2.x)`);
  }
  log(`promtool is missing; fetching Debian's prometheus package into ${dir} (not installed: only promtool is kept)`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const work = mkdtempSync(join(dir, '.fetch-'));
  // apt's download user must be able to write the file (else it warns and downloads unsandboxed, as root).
  chmodSync(work, 0o777);
  try {
    let why = run('apt-get', ['download', '-qq', 'prometheus'], work);
    // Empty package lists (a fresh container): update them, which needs root.
    if (why && process.getuid?.() === 0) why = run('apt-get', ['update', '-qq'], work) ?? run('apt-get', ['download', '-qq', 'prometheus'], work);
    if (why) throw new Error(`could not download Debian's prometheus package (${why}); run "${FETCH}" and set TRACKHUB_PROMTOOL=DIR/usr/bin/promtool`);
    const deb = readdirSync(work).find((f) => /^prometheus_.*\.deb$/.test(f));
    if (!deb) throw new Error(`apt-get download left no prometheus_*.deb; run "${FETCH}" and set TRACKHUB_PROMTOOL=DIR/usr/bin/promtool`);
    const unpackWhy = run('dpkg', ['-x', deb, 'root'], work);
    if (unpackWhy) throw new Error(`dpkg -x ${deb} failed (${unpackWhy}); set TRACKHUB_PROMTOOL to a promtool`);
    const extracted = join(work, 'root', 'usr', 'bin', 'promtool');
    if (!runnable(extracted)) throw new Error(`${deb} holds no usr/bin/promtool; set TRACKHUB_PROMTOOL to a promtool`);
    // A rename inside one folder: a concurrent run sees either no promtool or a whole one.
    renameSync(extracted, cached);
    return cached;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    process.stdout.write(`${ensurePromtool((m) => process.stderr.write(`trackhub promtool: ${m}\n`))}\n`);
  } catch (err) {
    process.stderr.write(`trackhub promtool: ${err.message}\n`);
    process.exit(1);
  }
}
