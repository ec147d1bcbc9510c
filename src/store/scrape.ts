import type { Db } from './db.ts';

/**
 * How /metrics reads figures from the store: a store that cannot answer yields no rows (the scrape reports
 * nothing rather than failing), and figures that cost a scan are read at most once per `ttlMs` per store.
 */

/** The rows `load` gives, or none when the store cannot answer. */
export async function rowsOrNone<T>(load: () => Promise<T[]>): Promise<T[]> {
  try {
    return await load();
  } catch {
    return [];
  }
}

/** `load` for a store, kept `ttlMs` per store; a failed read is not kept (asked again at the next scrape). */
export function cachedRows<T>(ttlMs: number, load: (db: Db) => Promise<T[]>): (db: Db) => Promise<T[]> {
  const cache = new WeakMap<Db, { at: number; rows: T[] }>();
  return async (db) => {
    const kept = cache.get(db);
    if (kept && performance.now() - kept.at <= ttlMs) return kept.rows;
    try {
      const rows = await load(db);
      cache.set(db, { at: performance.now(), rows });
      return rows;
    } catch {
      return [];
    }
  };
}
