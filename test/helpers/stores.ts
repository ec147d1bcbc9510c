import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate, type OpenedStore, openStore } from '../../src/store/db.ts';

export type StoreKind = 'pglite' | 'postgres';

/** PGlite always; PostgreSQL too when TRACKHUB_TEST_DATABASE_URL points at a server (CI sets it). */
export const STORE_KINDS: StoreKind[] = process.env.TRACKHUB_TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestStore extends OpenedStore {
  url: string;
}

/** A fresh, migrated store: an in-memory PGlite, or a new database on the test PostgreSQL server. */
export async function freshStore(kind: StoreKind, opts: { migrated?: boolean } = {}): Promise<TestStore> {
  if (kind === 'pglite') {
    const store = await openStore('pglite://memory');
    if (opts.migrated !== false) await migrate(store.db);
    return { ...store, url: 'pglite://memory' };
  }
  const { url, drop } = await freshPostgresDatabase();
  const store = await openStore(url);
  if (opts.migrated !== false) await migrate(store.db);
  return {
    ...store,
    url,
    async close() {
      await store.close();
      await drop();
    },
  };
}

/** Creates an empty database beside the one TRACKHUB_TEST_DATABASE_URL names; `drop` removes it. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.TRACKHUB_TEST_DATABASE_URL;
  if (!base) throw new Error('TRACKHUB_TEST_DATABASE_URL is not set');
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

/**
 * A store for a `trackhub serve` child process: a PGlite folder under a new temporary directory, or a new
 * PostgreSQL database. `dir` is the temporary directory (also usable as a data folder); `cleanup` removes
 * both it and the database.
 */
export async function childProcessStore(kind: StoreKind, prefix: string): Promise<{ url: string; dir: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const removeDir = async () => rmSync(dir, { recursive: true, force: true });
  if (kind === 'pglite') return { url: `pglite://${dir}/db`, dir, cleanup: removeDir };
  const db = await freshPostgresDatabase();
  return {
    url: db.url,
    dir,
    async cleanup() {
      await db.drop();
      await removeDir();
    },
  };
}
