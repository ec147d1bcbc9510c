import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensureEmbeddedServer, processAlive, socketUrl, stopEmbeddedServer } from '../src/store/embedded.ts';

/**
 * What every test run needs, checked or provided before the first test file starts, so that no test can
 * vanish quietly for want of it (a missing piece fails the run here, in one line):
 * - one temporary folder (TRACKHUB_TEST_TMP) and one embedded PostgreSQL server in it
 *   (TRACKHUB_TEST_EMBEDDED_URL); test files make their own databases on it;
 * - an external PostgreSQL for the `postgres` store kind (TRACKHUB_TEST_DATABASE_URL): the one that
 *   variable names (it must answer), else the one on 127.0.0.1:5432, else a second server started here
 *   from the embedded binaries and reached like an external one (a `postgres://` URL, its own process);
 * - Chromium for the console test (Debian's, or TRACKHUB_CHROMIUM); `npm test`'s pretest installs it;
 * - a `dist/` built from the current sources (the end-to-end tests run it): rebuilt here when older.
 * A run that could not finish its teardown (Ctrl-C, a killed terminal) leaves its folder and servers
 * behind; the next run stops and removes them.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const root = mkdtempSync(join(tmpdir(), 'trackhub-tests-'));
  // Run as root, the embedded servers run as an unprivileged user who must pass through this folder.
  chmodSync(root, 0o711);
  writeFileSync(join(root, OWNER_FILE), `${process.pid}\n`);
  process.env.TRACKHUB_TEST_TMP = root;
  // A hub or command a test starts without a data folder of its own must not write into the working
  // copy's ./data (it held an inbox after a run, and the next `npm start` as root refused the folder).
  process.env.TRACKHUB_DATA_DIR ??= join(root, 'default-data');
  const cleanup = () => removeRunFolder(root);
  // A mutation run (vitest.stryker.config.ts) runs neither the console test nor the end-to-end tests, and
  // must not rebuild dist/ from the instrumented sources of its sandbox.
  const mutationRun = process.env.TRACKHUB_MUTATION_RUN === '1';
  try {
    if (!mutationRun) checkChromium();
    await reapAbandonedRuns(root);
    if (!mutationRun) buildIfStale();
    const [shared, external] = await Promise.allSettled([ensureEmbeddedServer(join(root, 'shared', 'pg')), provideExternalPostgres(root)]);
    if (shared.status === 'rejected') throw shared.reason;
    if (external.status === 'rejected') throw external.reason;
    process.env.TRACKHUB_TEST_EMBEDDED_URL = socketUrl(shared.value.folder, 'postgres');
  } catch (err) {
    await cleanup();
    // One line and a failed run, rather than vitest's "no test files found" and an error box.
    process.stderr.write(`${err instanceof MissingForTests ? err.message : `trackhub tests: the test servers did not start: ${(err as Error).message ?? err}`}\n`);
    process.exit(1);
  }
  return cleanup;
}

/** What a run cannot do without; the message says all there is to fix. */
class MissingForTests extends Error {
  constructor(message: string) {
    super(`trackhub tests: ${message}`);
  }
}

/** Holds the pid of the vitest process a run folder belongs to. */
const OWNER_FILE = 'owner.pid';

async function removeRunFolder(root: string): Promise<void> {
  // Servers of hubs a test killed on purpose, the shared one and the stand-in for an external one.
  for (const folder of embeddedFolders(root)) await stopEmbeddedServer(folder).catch(() => {});
  rmSync(root, { recursive: true, force: true });
}

/** Run folders whose vitest process is gone (it was interrupted before its teardown). */
async function reapAbandonedRuns(current: string): Promise<void> {
  const base = tmpdir();
  for (const name of readdirSync(base)) {
    const root = join(base, name);
    if (!name.startsWith('trackhub-tests-') || root === current) continue;
    let owner: number;
    try {
      owner = Number(readFileSync(join(root, OWNER_FILE), 'utf8'));
    } catch {
      continue; // not a folder of this kind of run, or one being made this instant
    }
    if (!Number.isInteger(owner) || owner <= 0 || processAlive(owner)) continue;
    // Another user's leftovers are theirs to remove; a folder that cannot be removed never fails this run.
    try {
      if (statSync(root).uid !== process.getuid?.()) continue;
      await removeRunFolder(root);
    } catch (err) {
      process.stderr.write(`trackhub tests: left ${root} in place (${(err as Error).message})\n`);
    }
  }
}

/** The end-to-end tests spawn bin/trackhub.js, which runs dist/: never let them test older code. */
function buildIfStale(): void {
  const root = join(import.meta.dirname, '..');
  let built: number;
  try {
    built = statSync(join(root, 'dist', 'cli', 'main.js')).mtimeMs;
  } catch {
    built = 0;
  }
  // The issuer SDK's sources too: the build compiles them to packages/issuer/dist, which the hub's bundle
  // (`trackhub demo`) and the example back-ends run.
  if (Math.max(newestMtime(join(root, 'src')), newestMtime(join(root, 'packages', 'issuer', 'src'))) <= built) return;
  process.stdout.write('trackhub tests: dist/ is older than src/ or packages/issuer/src/; building it (npm run build)\n');
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (build.status !== 0) throw new MissingForTests(`the build failed (npm run build): ${build.stderr.trim().split('\n').at(-1) ?? ''}`);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    // Unit tests live beside the code but are not bundled: editing one needs no build.
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function checkChromium(): void {
  const path = process.env.TRACKHUB_CHROMIUM || '/usr/bin/chromium';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new MissingForTests(`no Chromium at ${path} (the console test drives it): run the tests with \`npm test\`, which installs Debian's chromium, or apt-get install -y chromium, or set TRACKHUB_CHROMIUM`);
  }
}

async function whyNotAnswering(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

async function provideExternalPostgres(root: string): Promise<void> {
  const named = process.env.TRACKHUB_TEST_DATABASE_URL;
  if (named) {
    const why = await whyNotAnswering(named);
    if (why) throw new MissingForTests(`TRACKHUB_TEST_DATABASE_URL does not answer (${why}); start that PostgreSQL or unset the variable`);
    return;
  }
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  const whyLocal = await whyNotAnswering(local);
  if (whyLocal === undefined) {
    process.env.TRACKHUB_TEST_DATABASE_URL = local;
    console.log(`PostgreSQL store tests: the server at ${local}`);
    return;
  }
  const standIn = await ensureEmbeddedServer(join(root, 'external', 'pg'));
  process.env.TRACKHUB_TEST_DATABASE_URL = socketUrl(standIn.folder, 'postgres');
  console.log(`PostgreSQL store tests: ${local} did not answer (${whyLocal}), so a second PostgreSQL server started from the embedded binaries stands in`);
}

/** Every PostgreSQL data folder under `dir` (a folder holding postmaster.pid), a few levels deep at most. */
function embeddedFolders(dir: string, depth = 0): string[] {
  const found: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return found;
  }
  if (names.includes('postmaster.pid')) return [dir];
  if (depth >= 3) return found;
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (statSync(path).isDirectory()) found.push(...embeddedFolders(path, depth + 1));
    } catch {
      // removed meanwhile
    }
  }
  return found;
}
