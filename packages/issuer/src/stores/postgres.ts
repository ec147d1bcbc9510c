import { readFile } from 'node:fs/promises';
import type { NotificationStore, RunResult, SequenceView } from './store.ts';

/** The parts of a `pg` client this store uses (typed structurally: `pg` is an optional peer dependency). */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null; command?: string }>;
  release(err?: Error | boolean): void;
}
/** A `pg.Pool` (or anything whose connect() gives a client to release). */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>;
}

export interface PostgresNotificationStoreOptions {
  pool: PgPoolLike;
  /** The schema holding the store's two tables (default `public`); migrate() creates it if needed. */
  schema?: string;
}

const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
const MIGRATION = new URL('../../migrations/001_notifications.sql', import.meta.url);

/** SQLSTATE 25P02: a statement after an error in the same transaction. */
const IN_FAILED_TRANSACTION = '25P02';

/** An SQL error onUpdate caught on meta.client left the transaction aborted: nothing of the notification can be recorded. */
function abortedByApplication(cause: unknown): Error {
  return new Error(
    'PostgresNotificationStore: the transaction was aborted by an earlier SQL error in onUpdate (or onStale), caught there on meta.client, so nothing of this notification was recorded (it is refused, and comes again); to catch an SQL error inside onUpdate, run that statement inside its own SAVEPOINT and ROLLBACK TO SAVEPOINT on error',
    { cause },
  );
}

/**
 * onUpdate ended the store's transaction on meta.client (ROLLBACK, COMMIT or END): the store's statements
 * after it would run outside any transaction, so the notification is refused instead of reported applied.
 */
function endedByApplication(status: unknown): Error {
  const what =
    status === 'committed'
      ? "it was committed early (COMMIT/END): the webhook-id is recorded, so the hub's next send is a duplicate, but the operations' sequence numbers are not, and what onUpdate wrote is no longer atomic with them"
      : 'it was rolled back (ROLLBACK): nothing of this notification was recorded, so it comes again and onUpdate runs again';
  return new Error(
    `PostgresNotificationStore: onUpdate ended the store's transaction (ROLLBACK/COMMIT on meta.client): ${what}; never end the transaction on meta.client (throw to roll the notification back; to undo part of your work, use a SAVEPOINT and ROLLBACK TO SAVEPOINT)`,
  );
}

/**
 * A store in PostgreSQL, shared by every receiver of the issuer: each notification is taken in one
 * transaction that records its webhook-id and locks the rows of its operations, so two receivers behind
 * a load balancer neither apply a notification twice nor lose one, and one operation's updates are
 * applied one at a time. onUpdate runs inside that transaction, before the commit: if it throws, or the
 * commit fails, nothing is recorded and the hub sends the notification again. onUpdate gets that
 * transaction's connection as `meta.client`: the application's writes made with it commit with the
 * store's record, exactly once. onUpdate must never end that transaction (ROLLBACK, COMMIT or END on
 * meta.client; SAVEPOINTs are fine): the store checks that its transaction is still the one in progress
 * and refuses the notification if it is not. Writes on another connection of the same pool are at least once, and
 * need a pool larger than the notifications handled at once (each holds one connection while onUpdate
 * runs; a pool of N with N notifications under way waits for ever for an N+1th).
 * Rows grow with the notifications taken: prune() removes old ones.
 */
export class PostgresNotificationStore implements NotificationStore {
  readonly #pool: PgPoolLike;
  readonly #schema: string;
  readonly #seen: string;
  readonly #sequences: string;

  constructor(opts: PostgresNotificationStoreOptions) {
    if (!opts?.pool || typeof opts.pool.connect !== 'function') throw new TypeError('pool (a pg.Pool) is required');
    // A pg.Client has connect() too, but it is one connection whose connect() gives no client to release.
    if (opts.pool.constructor?.name === 'Client') throw new TypeError('pool must be a pg.Pool, not a pg.Client: new PostgresNotificationStore({ pool: new pg.Pool({ connectionString }) })');
    const schema = opts.schema ?? 'public';
    if (!SCHEMA.test(schema)) throw new TypeError('schema must be a lower-case SQL identifier ([a-z_][a-z0-9_]*)');
    this.#pool = opts.pool;
    this.#schema = schema;
    this.#seen = `"${schema}".trackhub_issuer_seen_notifications`;
    this.#sequences = `"${schema}".trackhub_issuer_operation_sequences`;
  }

  /** Creates the schema and the tables (migrations/001_notifications.sql) if they are not there; safe to run from several processes at once. */
  async migrate(): Promise<void> {
    const sql = await readFile(MIGRATION, 'utf8');
    await this.#transaction(async (c) => {
      // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogue: one migrator at a time.
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('trackhub_issuer_migrate'))`);
      // CREATE SCHEMA IF NOT EXISTS asks for the database's CREATE privilege even when the schema is there:
      // a least-privilege role, given an existing schema, must still be able to migrate.
      const exists = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.#schema]);
      if (exists.rows.length === 0) await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`);
      await c.query(`SET LOCAL search_path TO "${this.#schema}"`);
      await c.query(sql);
      return { rollback: false, result: undefined };
    });
  }

  async run<T>(webhookId: string, operationIds: readonly string[], work: (seq: SequenceView) => Promise<T>): Promise<RunResult<T>> {
    // Sorted, so two notifications sharing operations lock their rows in the same order (no deadlock).
    const ids = [...new Set(operationIds)].sort();
    return this.#transaction(async (c) => {
      // A second receiver of the same webhook-id waits here until the first commits (then it is a
      // duplicate) or rolls back (then it takes the notification itself).
      const taken = await c.query(`INSERT INTO ${this.#seen} (webhook_id) VALUES ($1) ON CONFLICT DO NOTHING`, [webhookId]);
      if (taken.rowCount === 0) return { rollback: true, result: { duplicate: true } as RunResult<T> };
      // The transaction's id (the INSERT above gave it one), to tell after onUpdate whether it is still the
      // one in progress. txid_* rather than pg_current_xact_id*: the same on PostgreSQL 10 to 18.
      const began = String((await c.query('SELECT txid_current()::text AS xid')).rows[0]?.xid);
      await c.query(`INSERT INTO ${this.#sequences} (operation_id, last_sequence) SELECT unnest($1::text[]), 0 ON CONFLICT DO NOTHING`, [ids]);
      const rows = await c.query(`SELECT operation_id, last_sequence FROM ${this.#sequences} WHERE operation_id = ANY($1::text[]) ORDER BY operation_id FOR UPDATE`, [ids]);
      const last = new Map(rows.rows.map((r) => [String(r.operation_id), Number(r.last_sequence)]));
      const pending = new Map<string, number>();
      const value = await work({
        client: c,
        last: (id) => {
          const n = pending.get(id) ?? last.get(id);
          return n === undefined || n === 0 ? undefined : n;
        },
        set: (id, n) => {
          pending.set(id, n);
        },
      });
      try {
        // After a ROLLBACK or COMMIT in onUpdate, the statements below would each commit on their own:
        // check first. A caught SQL error makes this check fail with 25P02 (handled below).
        const now = (await c.query('SELECT txid_current_if_assigned()::text AS xid')).rows[0]?.xid;
        if (now !== began) {
          const status = await c.query('SELECT txid_status($1::bigint) AS status', [began]).then(
            (r) => r.rows[0]?.status,
            () => undefined,
          );
          throw endedByApplication(status);
        }
        for (const [id, n] of pending) await c.query(`UPDATE ${this.#sequences} SET last_sequence = $2, updated_at = now() WHERE operation_id = $1`, [id, n]);
      } catch (err) {
        throw (err as { code?: unknown }).code === IN_FAILED_TRANSACTION ? abortedByApplication(err) : err;
      }
      return { rollback: false, result: { duplicate: false, value } };
    });
  }

  /**
   * Deletes webhook-ids seen and operations updated more than `olderThanSeconds` ago (default 30 days,
   * well beyond the hub's last retry). A notification replayed after that is taken again, and its
   * operation's next update applies whatever its number. Answers how many rows went.
   */
  async prune(olderThanSeconds = 30 * 86_400): Promise<{ webhookIds: number; operations: number }> {
    if (!Number.isFinite(olderThanSeconds) || olderThanSeconds < 0) throw new TypeError('olderThanSeconds must be a number of seconds, 0 or more');
    return this.#transaction(async (c) => {
      const w = await c.query(`DELETE FROM ${this.#seen} WHERE seen_at < now() - make_interval(secs => $1)`, [olderThanSeconds]);
      const o = await c.query(`DELETE FROM ${this.#sequences} WHERE updated_at < now() - make_interval(secs => $1)`, [olderThanSeconds]);
      return { rollback: false, result: { webhookIds: w.rowCount ?? 0, operations: o.rowCount ?? 0 } };
    });
  }

  async #transaction<R>(fn: (c: PgClientLike) => Promise<{ rollback: boolean; result: R }>): Promise<R> {
    const c = await this.#pool.connect();
    if (!c || typeof c.query !== 'function' || typeof c.release !== 'function') {
      throw new TypeError('pool.connect() gave no client to release: pool must be a pg.Pool (a pg.Client was given?)');
    }
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      try {
        const out = await fn(c);
        const end = await c.query(out.rollback ? 'ROLLBACK' : 'COMMIT');
        // PostgreSQL answers COMMIT of an aborted transaction with a ROLLBACK, and no error: nothing was
        // recorded. Only onUpdate runs statements of its own in these transactions, so it caught the error.
        if (!out.rollback && end.command === 'ROLLBACK') throw abortedByApplication(new Error('COMMIT answered ROLLBACK'));
        return out.result;
      } catch (err) {
        await c.query('ROLLBACK').catch((e: Error) => {
          broken = e; // a connection that cannot roll back is not given back to the pool
        });
        throw err;
      }
    } finally {
      c.release(broken);
    }
  }
}
