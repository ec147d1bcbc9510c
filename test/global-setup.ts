import { accessSync, chmodSync, constants, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensureEmbeddedServer, socketUrl, stopEmbeddedServer } from '../src/store/embedded.ts';

/**
 * What every test run needs, checked or provided before the first test file starts, so that no test can
 * vanish quietly for want of it (a missing piece fails the run here, in one line):
 * - one temporary folder (TRACKHUB_TEST_TMP) and one embedded PostgreSQL server in it
 *   (TRACKHUB_TEST_EMBEDDED_URL); test files make their own databases on it;
 * - an external PostgreSQL for the `postgres` store kind (TRACKHUB_TEST_DATABASE_URL): the one that
 *   variable names (it must answer), else the one on 127.0.0.1:5432, else a second server started here
 *   from the embedded binaries and reached like an external one (a `postgres://` URL, its own process);
 * - Chromium for the console test (Debian's, or TRACKHUB_CHROMIUM); `npm test`'s pretest installs it.
 */
export default async function setup(): Promise<() => Promise<void>> {
  checkChromium();
  const root = mkdtempSync(join(tmpdir(), 'trackhub-tests-'));
  // Run as root, the embedded servers run as an unprivileged user who must pass through this folder.
  chmodSync(root, 0o711);
  process.env.TRACKHUB_TEST_TMP = root;
  const cleanup = async () => {
    // Servers of hubs a test killed on purpose, the shared one and the stand-in for an external one.
    for (const folder of embeddedFolders(root)) await stopEmbeddedServer(folder).catch(() => {});
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const [shared] = await Promise.all([ensureEmbeddedServer(join(root, 'shared', 'pg')), provideExternalPostgres(root)]);
    process.env.TRACKHUB_TEST_EMBEDDED_URL = socketUrl(shared.folder, 'postgres');
  } catch (err) {
    await cleanup();
    throw err;
  }
  return cleanup;
}

/** Thrown for what a run cannot do without: vitest prints the message as the run's failure. */
class MissingForTests extends Error {
  constructor(message: string) {
    super(`trackhub tests: ${message}`);
    this.stack = this.message; // one line, no stack: the message says all there is to fix
  }
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
  if ((await whyNotAnswering(local)) === undefined) {
    process.env.TRACKHUB_TEST_DATABASE_URL = local;
    console.log(`PostgreSQL store tests: the server at ${local}`);
    return;
  }
  const standIn = await ensureEmbeddedServer(join(root, 'external', 'pg'));
  process.env.TRACKHUB_TEST_DATABASE_URL = socketUrl(standIn.folder, 'postgres');
  console.log('PostgreSQL store tests: nothing answers on 127.0.0.1:5432, so a second PostgreSQL server started from the embedded binaries stands in');
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
