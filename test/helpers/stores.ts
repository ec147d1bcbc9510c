import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate, type OpenedStore, openStore } from '../../src/store/db.ts';
import { stopEmbeddedServer } from '../../src/store/embedded.ts';
import { MasterKey, SecretBox, useSecretBox } from '../../src/store/secret-box.ts';
import { unlockSecrets } from '../../src/store/secrets.ts';

/**
 * `embedded`: the PostgreSQL 18 server the hub runs itself (one shared server for the run, started by
 * test/global-setup.ts; each store is a new database in it). `postgres`: an external server, the one
 * TRACKHUB_TEST_DATABASE_URL names (global-setup always provides one, or fails the run): every store
 * test runs on both, on every machine, so a run never has fewer tests than another.
 */
export type StoreKind = 'embedded' | 'postgres';

export const STORE_KINDS: readonly StoreKind[] = ['embedded', 'postgres'];

/** The master key of every store freshStore opens in this process (the hub's is TRACKHUB_SECRET_KEY or its key file). */
export const TEST_SECRET_KEY = MasterKey.generate();

function serverUrl(kind: StoreKind): string {
  const url = kind === 'embedded' ? process.env.TRACKHUB_TEST_EMBEDDED_URL : process.env.TRACKHUB_TEST_DATABASE_URL;
  if (!url) throw new Error(`no ${kind} test server: run the tests through vitest (test/global-setup.ts starts it)`);
  return url;
}

export interface TestStore extends OpenedStore {
  url: string;
}

/** A fresh, migrated store: a new database on the shared embedded server or on the external one. */
export async function freshStore(kind: StoreKind, opts: { migrated?: boolean } = {}): Promise<TestStore> {
  const { url, drop } = await freshDatabase(kind);
  const store = await openStore(url);
  // As the hub does after migrating: secrets are sealed under a master key (one per test process).
  if (opts.migrated !== false) {
    await migrate(store.db);
    await unlockSecrets(store.db, { key: TEST_SECRET_KEY, source: 'TRACKHUB_SECRET_KEY' });
  } else useSecretBox(store.db, new SecretBox(TEST_SECRET_KEY));
  return {
    ...store,
    url,
    async close() {
      await store.close();
      await drop();
    },
  };
}

/** Creates an empty database on the kind's test server; `drop` removes it. */
export async function freshDatabase(kind: StoreKind): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = serverUrl(kind);
  const name = `trackhub_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** For the tests of an external server only (a relay between hub and server, cut and restored). */
export const freshPostgresDatabase = () => freshDatabase('postgres');

/** A new temporary folder under the run's test folder (global-setup removes what is left at the end). */
export function tempDir(prefix: string): string {
  const root = process.env.TRACKHUB_TEST_TMP ?? tmpdir();
  return mkdtempSync(join(root, `${prefix}-`));
}

/**
 * A store for a `trackhub serve` child process: an embedded store folder of its own (the child runs its
 * server; a real lifecycle), or a new database on the external PostgreSQL. `dir` is the temporary
 * folder (the embedded store is `dir/pg`, so `dir` is also the hub's data folder); `cleanup` stops a
 * server a killed hub left behind and removes the folder and the database.
 */
export async function childProcessStore(kind: StoreKind, prefix: string): Promise<{ url: string; dir: string; cleanup: () => Promise<void> }> {
  const dir = tempDir(prefix);
  const removeDir = async () => {
    await stopEmbeddedServer(join(dir, 'pg'));
    rmSync(dir, { recursive: true, force: true });
  };
  if (kind === 'embedded') return { url: `embedded://${dir}/pg`, dir, cleanup: removeDir };
  const db = await freshDatabase('postgres');
  return {
    url: db.url,
    dir,
    async cleanup() {
      await db.drop();
      await removeDir();
    },
  };
}

/**
 * For the benchmarks: runs `fn` on a new database of the external PostgreSQL that BENCH_DATABASE_URL or
 * TRACKHUB_TEST_DATABASE_URL names, then drops it. False (and `fn` not run) when neither is set.
 */
export async function onBenchPostgres(fn: (url: string) => Promise<void>): Promise<boolean> {
  const base = process.env.BENCH_DATABASE_URL || process.env.TRACKHUB_TEST_DATABASE_URL; // empty is unset
  if (!base) return false;
  process.env.TRACKHUB_TEST_DATABASE_URL = base;
  const db = await freshDatabase('postgres');
  try {
    await fn(db.url);
  } finally {
    await db.drop();
  }
  return true;
}
