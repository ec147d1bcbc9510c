import type { PGlite } from '@electric-sql/pglite';

/**
 * Kysely's PostgresDialect wants a `pg`-like pool. PGlite is one connection, so the pool hands that
 * connection out to one borrower at a time: a transaction owns it until it is released.
 */
export function pglitePool(db: PGlite) {
  let tail: Promise<void> = Promise.resolve();
  const client = {
    async query(sql: string, params?: unknown[]) {
      // Without parameters the text may hold several statements (migrations): only exec() runs those.
      const res = params && params.length > 0 ? await db.query(sql, params) : (await db.exec(sql)).at(-1);
      // Kysely reads affected-row counts only for these commands, as `pg` reports them.
      const command = /^\s*(insert|update|delete|merge)\b/i.exec(sql)?.[1].toUpperCase() ?? 'SELECT';
      return { rows: res?.rows ?? [], rowCount: res?.affectedRows ?? res?.rows.length ?? 0, command };
    },
    release() {},
  };
  return {
    async connect() {
      let release!: () => void;
      const turn = new Promise<void>((resolve) => {
        release = resolve;
      });
      const previous = tail;
      tail = tail.then(() => turn);
      await previous;
      return { ...client, release };
    },
    async end() {
      await tail;
    },
  };
}
