import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensureEmbeddedServer, socketUrl, stopEmbeddedServer } from '../src/store/embedded.ts';

/**
 * Every test run gets one temporary folder (TRACKHUB_TEST_TMP) and one embedded PostgreSQL server in it
 * (TRACKHUB_TEST_EMBEDDED_URL); test files make their own databases on it. `npm test` runs the store
 * tests on an external PostgreSQL too whenever one answers on the usual local address, so "all tests"
 * means all tests on a developer's machine as in CI. TRACKHUB_TEST_DATABASE_URL still wins;
 * TRACKHUB_TEST_DATABASE_URL=none keeps to the embedded server.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const root = mkdtempSync(join(tmpdir(), 'trackhub-tests-'));
  // Run as root, the embedded servers run as an unprivileged user who must pass through this folder.
  chmodSync(root, 0o711);
  process.env.TRACKHUB_TEST_TMP = root;
  const shared = await ensureEmbeddedServer(join(root, 'shared', 'pg'));
  process.env.TRACKHUB_TEST_EMBEDDED_URL = socketUrl(shared.folder, 'postgres');
  await findExternalPostgres();
  return async () => {
    // Servers of hubs a test killed on purpose, and the shared one.
    for (const folder of embeddedFolders(root)) await stopEmbeddedServer(folder).catch(() => {});
    rmSync(root, { recursive: true, force: true });
  };
}

async function findExternalPostgres(): Promise<void> {
  if (process.env.TRACKHUB_TEST_DATABASE_URL === 'none') {
    delete process.env.TRACKHUB_TEST_DATABASE_URL;
    return;
  }
  if (process.env.TRACKHUB_TEST_DATABASE_URL) return;
  const url = 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('select 1');
    process.env.TRACKHUB_TEST_DATABASE_URL = url;
    console.log(`store tests also run on PostgreSQL at ${url}`);
  } catch {
    console.log('no PostgreSQL at 127.0.0.1:5432: store tests run on the embedded server only');
  } finally {
    await client.end().catch(() => {});
  }
}

/** Every PostgreSQL data folder under `dir` (a folder holding postmaster.pid), two levels deep at most. */
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
