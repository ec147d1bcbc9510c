import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ColumnType, type Generated, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { assetPath } from '../assets.ts';
import type { BudgetBuckets } from '../domain/call-budget.ts';
import type { OperationState } from '../domain/operation.ts';
import { embeddedFolder, ensureEmbeddedServer, stopEmbeddedServer } from './embedded.ts';
import { APPLICATION_NAME, holdFolderForHub, markCommand, serverIsIdle } from './embedded-holds.ts';
import type { RejectedLine } from './inbox-files.ts';
import { checkClusterIdentity } from './store-identity.ts';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface IssuerRow {
  issuer_id: string;
  name: string;
  notification_base_url: string;
  jwks: Json<{ keys: Record<string, unknown>[] }>;
  webhook_secrets: Json<string[]>;
  notification_auth: Json<{ tokenUrl: string; clientId: string; clientSecret: string } | null>;
  max_operations_per_notification: number;
  auto_track_shipment: boolean;
  enabled: boolean;
  token_epoch: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  endpoint_disabled_at: Timestamp | null;
  endpoint_disabled_reason: string | null;
  notification_tls: Json<{ certificatePem: string; privateKeyPem: string; caPem?: string } | null>;
  notification_signing: Generated<string>;
  notification_signing_key: string | null;
}

export interface ProductionSiteRow {
  site_id: string;
  name: string;
  api_key_hash: string | null;
  carriers: Json<string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OperationRow {
  operation_id: string;
  issuer_id: string;
  card_id: string;
  tracking_type: string;
  request_hash: string;
  status: string;
  is_open: boolean;
  state: Json<OperationState>;
  carrier: string | null;
  tracking_number: string | null;
  wake_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OutboxRow {
  id: string;
  issuer_id: string;
  operation_id: string;
  sequence_number: number;
  correlation_id: string;
  payload: string;
  state: Generated<string>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: Timestamp | null;
  batch_id: string | null;
  schedule_offset: Generated<number>;
  /** The writing transaction's id (xid8, read as text): the catch-up feed's order. */
  commit_xid: Generated<string>;
}

export interface SiteEventRow {
  site_id: string;
  event_id: string;
  issuer_id: string;
  card_id: string;
  type: 'CARD_SHIPPED' | 'CARD_RETURNED';
  occurred_at: Timestamp;
  carrier: string | null;
  tracking_number: string | null;
  reason: string | null;
  received_at: Timestamp;
  matched_operation_id: string | null;
}

export interface InboxFileRow {
  site_id: string;
  file_key: string;
  name: string;
  state: Generated<string>;
  lines_done: Generated<number>;
  accepted: Generated<number>;
  duplicates: Generated<number>;
  rejected_count: Generated<number>;
  rejected: ColumnType<RejectedLine[], string | undefined, string>;
  lease_until: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface Database {
  issuers: IssuerRow;
  production_sites: ProductionSiteRow;
  hub_secrets: { name: string; value: string; created_at: Timestamp };
  used_assertions: { issuer_id: string; jti: string; expires_at: Timestamp };
  operations: OperationRow;
  /** operations.wake_at as the claims see it, with their leases (migration 0020); kept by triggers on operations. */
  operation_wakeups: { operation_id: string; wake_at: Timestamp };
  outbox: OutboxRow;
  delivery_attempts: {
    notification_id: string;
    attempt: number;
    attempted_at: Timestamp;
    http_status: number | null;
    error: string | null;
    latency_ms: number;
    response_body: string | null;
  };
  schema_migrations: { version: number; name: string; applied_at: Timestamp };
  site_events: SiteEventRow;
  inbox_files: InboxFileRow;
  carrier_rate_limits: {
    provider: string;
    window_start: Timestamp;
    used: Generated<number>;
    paused_until: Timestamp | null;
    buckets: Json<BudgetBuckets> | null;
    queued_until: Timestamp | null;
    wanted: Generated<number>;
    last_window_start: Timestamp | null;
    last_window_end: Timestamp | null;
    last_used: number | null;
    last_wanted: number | null;
    overdue: Generated<number>;
    overdue_at: Timestamp | null;
    breaker_state: Generated<string>;
    breaker_until: Timestamp | null;
    breaker_changed_at: Timestamp | null;
    calls_total: Generated<number>;
    fallbacks_total: Generated<number>;
    deadline_waits_total: Generated<number>;
    pushes_total: Generated<number>;
    last_push_at: Timestamp | null;
  };
  carrier_unknown_codes: {
    provider: string;
    code: string;
    seen: number;
    first_seen_at: Timestamp;
    first_example: string | null;
    last_seen_at: Timestamp;
    last_example: string | null;
  };
  ups_track_alert_subscriptions: { tracking_number: string; subscribed_at: Timestamp };
}

export type Db = Kysely<Database>;

export interface OpenedStore {
  db: Db;
  /** `embedded`: the server this hub runs in its data folder; `postgres`: an external server. */
  kind: 'embedded' | 'postgres';
  /**
   * A few connections whose commits do not wait for the WAL to reach the disk (synchronous_commit off).
   * Only for bookkeeping whose loss costs a repeat, never data: the lease written when a worker claims
   * rows (lost: the rows are claimed again) and the outcome of a delivery attempt (lost: the notification
   * is sent again, under the same webhook-id). A killed hub loses nothing this way (the server holds the
   * commit and writes it within wal_writer_delay, 200 ms); only a crash of the machine or of PostgreSQL
   * can. Being its own pool, this bookkeeping never queues behind API transactions for a connection, and
   * a record is one round trip: every delivery answered but not yet written down is sent again if the
   * hub is killed, so that window is kept short.
   */
  relaxed: Db;
  /**
   * The console's reads (src/http/console-reads.ts), on connections of their own: `reads` (3 connections,
   * each under statement_timeout 5 s) so that however many reads the console asks, the pool the Issuer and
   * Site APIs use is never taken; `cancels` (1 connection) only for pg_cancel_backend of a read whose client
   * left, so a cancel never queues behind the reads it must stop.
   */
  console: { reads: Db; cancels: Db };
  /** A `pg` connection string for extra connections (LISTEN): the socket URL for the embedded server. */
  connectionUrl: string;
  close(): Promise<void>;
}

// `pg` returns int8 as a string; counts are int8, and every caller wants a number.
pg.types.setTypeParser(20, (v) => Number(v));

export interface OpenStoreOptions {
  poolSize?: number;
  /**
   * The hub itself (`trackhub serve`): it holds the embedded folder (a second hub refuses), and stops
   * the server when it closes. Others (commands) use a running server or start one; the last of them
   * out stops it, unless a hub holds it.
   */
  hub?: boolean;
  /** With `hub`: called if the embedded server stops under the hub (killed, crashed). */
  onServerLost?: () => void;
}

/** Opens the store named by an `embedded://` or `postgres://` URL. */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<OpenedStore> {
  const folder = embeddedFolder(url);
  if (!folder) return { ...poolStore(url, opts.poolSize), kind: 'postgres' };
  const unmark = opts.hub ? () => {} : markCommand(folder);
  let server: Awaited<ReturnType<typeof ensureEmbeddedServer>>;
  let hold: Awaited<ReturnType<typeof holdFolderForHub>> | undefined;
  try {
    server = await ensureEmbeddedServer(folder);
    hold = opts.hub ? await holdFolderForHub(folder, () => opts.onServerLost?.()) : undefined;
  } catch (err) {
    unmark();
    throw err;
  }
  const store = poolStore(server.url, opts.poolSize);
  const closeEmbedded = async (): Promise<void> => {
    await store.close();
    if (hold) {
      // The hub stops its server after draining, still holding the folder (no other hub adopts it meanwhile).
      await hold.release(() => stopEmbeddedServer(folder));
    } else {
      unmark();
      // The last command out stops the server, unless a hub holds it or another process (a command
      // starting meanwhile, psql) uses it: no server is left running for nobody.
      if (await serverIsIdle(folder)) await stopEmbeddedServer(folder);
    }
  };
  // Closing twice (a Ctrl-C while a command's own close runs) must not end the pools or stop the server twice.
  let closing: Promise<void> | undefined;
  return {
    ...store,
    kind: 'embedded',
    close() {
      closing ??= closeEmbedded();
      return closing;
    },
  };
}

/**
 * The hub runs only short statements. With an analysed outbox the planner priced the delivery claim (its
 * ordering probe is costed for every due row) past jit_above_cost, and PostgreSQL 15 spent 0.5-1.2 s
 * compiling a statement that runs in milliseconds: JIT can only slow this workload down.
 */
const SESSION_OPTIONS = '-c jit=off';

/** The console's own pool (OpenedStore.console): its size, each connection's statement timeout, the wait for one. */
export const CONSOLE_READ_CONNECTIONS = 3;
const CONSOLE_STATEMENT_TIMEOUT_MS = 5_000;
const CONSOLE_CONNECT_TIMEOUT_MS = 5_000;

function poolStore(url: string, poolSize = 10): Omit<OpenedStore, 'kind'> {
  const db = kysely(new pg.Pool({ connectionString: url, max: poolSize, options: SESSION_OPTIONS, application_name: APPLICATION_NAME }));
  const relaxed = kysely(
    new pg.Pool({ connectionString: url, max: 3, options: `${SESSION_OPTIONS} -c synchronous_commit=off`, application_name: APPLICATION_NAME }),
  );
  const consoleReads = kysely(
    new pg.Pool({
      connectionString: url,
      max: CONSOLE_READ_CONNECTIONS,
      // The wait for a free connection is bounded too (the console's own cap, src/http/console-reads.ts, keeps it short).
      connectionTimeoutMillis: CONSOLE_CONNECT_TIMEOUT_MS,
      options: `${SESSION_OPTIONS} -c statement_timeout=${CONSOLE_STATEMENT_TIMEOUT_MS}`,
      application_name: APPLICATION_NAME,
    }),
  );
  const cancels = kysely(new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: CONSOLE_CONNECT_TIMEOUT_MS, options: SESSION_OPTIONS, application_name: APPLICATION_NAME }));
  let closing: Promise<void> | undefined; // once, however many times it is asked
  return {
    db,
    relaxed,
    console: { reads: consoleReads, cancels },
    connectionUrl: url,
    close() {
      closing ??= Promise.all([relaxed.destroy(), consoleReads.destroy(), cancels.destroy()]).then(() => db.destroy());
      return closing;
    },
  };
}

function kysely(pool: pg.Pool): Db {
  // A client losing its server must not crash the process: an idle one reports to the pool, a checked-out
  // one (between two statements of a transaction) to its own listener; the query in flight, or the next,
  // fails with the error, and the pool discards the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** A unique constraint refused the write (SQLSTATE 23505), optionally that named index's. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string; message?: string } | undefined;
  if (e?.code !== '23505') return false;
  return constraint === undefined || e.constraint === constraint;
}

const MIGRATIONS_DIR = assetPath('store', 'migrations');

export function listMigrations(): { version: number; name: string; sql: string }[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number.parseInt(f, 10), name: f, sql: readFileSync(join(MIGRATIONS_DIR, f), 'utf8') }));
}

/**
 * Applies pending migrations. Instances booting together serialise on a transaction-scoped advisory
 * lock, so each migration runs exactly once and a late instance finds nothing left to do.
 */
export async function migrate(db: Db): Promise<string[]> {
  const applied: string[] = [];
  await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(7314002)`.execute(tx);
    await sql`create table if not exists schema_migrations (
      version integer primary key, name text not null, applied_at timestamptz not null default now())`.execute(tx);
    const done = new Set((await tx.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version));
    for (const m of listMigrations()) {
      if (done.has(m.version)) continue;
      await tx.insertInto('schema_migrations').values({ version: m.version, name: m.name }).execute();
      await sql.raw(m.sql).execute(tx);
      applied.push(m.name);
    }
    if (await checkClusterIdentity(tx)) applied.push('(the store moved to another PostgreSQL cluster: catch-up feed positions reset)');
  });
  return applied;
}

/** True when every migration this code knows has been applied. */
export async function isMigrated(db: Db): Promise<boolean> {
  try {
    const rows = await db.selectFrom('schema_migrations').select('version').execute();
    const done = new Set(rows.map((r) => r.version));
    return listMigrations().every((m) => done.has(m.version));
  } catch {
    return false;
  }
}
