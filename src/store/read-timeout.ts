import { sql } from 'kysely';
import type { Db } from './db.ts';

/** Which transaction a read runs in: enough to cancel its statement, and only that transaction's. */
export interface ReadHandle {
  pid: number;
  /** The transaction's start (now()), as the server prints it: pg_stat_activity.xact_start of this read. */
  xactStart: string;
}

/**
 * Runs `read` in one transaction whose statements are cancelled by the server past `timeoutMs`
 * (SET LOCAL statement_timeout: the setting ends with the transaction, the pooled connection keeps none).
 * A statement cut off fails with SQLSTATE 57014 (isQueryCancelled). `started` learns the backend and the
 * transaction, so that a caller whose client went away can cancel it (cancelRead).
 */
export async function readWithTimeout<T>(db: Db, timeoutMs: number, read: (tx: Db) => Promise<T>, started?: (h: ReadHandle) => void): Promise<T> {
  return db.transaction().execute(async (tx) => {
    const r = await sql<{ pid: number; xact: string }>`
      select set_config('statement_timeout', ${String(Math.max(1, Math.round(timeoutMs)))}, true), pg_backend_pid() as pid, now()::text as xact`.execute(tx);
    started?.({ pid: r.rows[0].pid, xactStart: r.rows[0].xact });
    return read(tx);
  });
}

/**
 * Cancels the statement a read is running, if that read's transaction still runs a statement: the backend's
 * pid alone could by now serve another request from the pool, so its transaction start must match, it must
 * be active, and its statement must have begun inside the read; all checked in the statement that signals.
 * Residual window: pg_stat_activity is a snapshot, so a read whose transaction ends between that snapshot and
 * the signal leaves its pid to the next request, whose statement may be the one cancelled. The pid belongs
 * to the console's own pool (OpenedStore.console), so only another console read can be hit that way (it
 * answers 503 and the console asks again), never an Issuer or Site API call.
 */
export async function cancelRead(db: Db, h: ReadHandle): Promise<boolean> {
  const r = await sql<{ done: boolean }>`
    select pg_cancel_backend(pid) as done from pg_stat_activity
    where pid = ${h.pid} and xact_start = ${h.xactStart}::timestamptz and state = 'active' and query_start >= ${h.xactStart}::timestamptz`.execute(db);
  return r.rows[0]?.done === true;
}

/** The server cancelled the statement: statement_timeout, or pg_cancel_backend. */
export function isQueryCancelled(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === '57014';
}

/**
 * Runs `work` with a longer statement timeout when `db` is a read transaction under readWithTimeout (the
 * hourly roll-ups: work done once and kept, which a read's short timeout would cut off every time), then
 * puts the read's timeout back. Outside a transaction it is `work(db)` as is.
 */
export async function withLongerTimeout<T>(db: Db, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  if (!db.isTransaction) return work();
  const before = await sql<{ t: string }>`select current_setting('statement_timeout') as t`.execute(db);
  const previous = before.rows[0].t;
  if (previous === '0') return work();
  await sql`select set_config('statement_timeout', ${String(timeoutMs)}, true)`.execute(db);
  const result = await work();
  await sql`select set_config('statement_timeout', ${previous}, true)`.execute(db);
  return result;
}
