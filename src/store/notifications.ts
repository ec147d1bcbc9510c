import { sql } from 'kysely';
import type { Db } from './db.ts';

/**
 * Notifications as the Admin API and the CLI see them. A notification is an outbox row that is sent
 * (its id is the webhook-id); operations grouped into it by batching wait beside it in state 'batched'
 * and are listed inside it, never on their own.
 */
export type NotificationState = 'pending' | 'delivered' | 'dead';
export const NOTIFICATION_STATES: NotificationState[] = ['pending', 'delivered', 'dead'];

export interface NotificationSummary {
  id: string;
  issuerId: string;
  state: NotificationState;
  operationIds: string[];
  correlationId: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface AttemptView {
  attempt: number;
  attemptedAt: string;
  httpStatus: number | null;
  error: string | null;
  latencyMs: number;
  responseBody: string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

async function summaries(db: Db, rows: { id: string; issuer_id: string; state: string; operation_id: string; correlation_id: string; attempts: number; next_attempt_at: Date; last_error: string | null; created_at: Date; delivered_at: Date | null }[]): Promise<NotificationSummary[]> {
  const members = rows.length
    ? await db.selectFrom('outbox').select(['batch_id', 'operation_id']).where('batch_id', 'in', rows.map((r) => r.id)).where('state', '=', 'batched').orderBy('created_at').orderBy('id').execute()
    : [];
  return rows.map((r) => ({
    id: r.id,
    issuerId: r.issuer_id,
    state: r.state as NotificationState,
    operationIds: [r.operation_id, ...members.filter((m) => m.batch_id === r.id).map((m) => m.operation_id)],
    correlationId: r.correlation_id,
    attempts: r.attempts,
    nextAttemptAt: r.state === 'pending' ? iso(r.next_attempt_at) : null,
    lastError: r.last_error,
    createdAt: iso(r.created_at) as string,
    deliveredAt: iso(r.delivered_at),
  }));
}

/** One page in id order (ids are time-ordered): `after` is the last id of the previous page. */
export async function listNotifications(db: Db, q: { state?: NotificationState; issuerId?: string; after?: string; limit: number }) {
  let query = db
    .selectFrom('outbox')
    .select(['id', 'issuer_id', 'state', 'operation_id', 'correlation_id', 'attempts', 'next_attempt_at', 'last_error', 'created_at', 'delivered_at'])
    .where('state', 'in', q.state ? [q.state] : NOTIFICATION_STATES)
    .orderBy('id')
    .limit(q.limit + 1);
  if (q.issuerId) query = query.where('issuer_id', '=', q.issuerId);
  if (q.after) query = query.where('id', '>', q.after);
  const rows = await query.execute();
  const page = rows.slice(0, q.limit);
  return { notifications: await summaries(db, page), more: rows.length > q.limit };
}

export async function getNotification(db: Db, id: string) {
  const row = await db
    .selectFrom('outbox')
    .select(['id', 'issuer_id', 'state', 'operation_id', 'correlation_id', 'attempts', 'next_attempt_at', 'last_error', 'created_at', 'delivered_at', 'payload'])
    .where('id', '=', id)
    .where('state', 'in', NOTIFICATION_STATES)
    .executeTakeFirst();
  if (!row) return undefined;
  const [summary] = await summaries(db, [row]);
  const members = await db.selectFrom('outbox').select('payload').where('batch_id', '=', id).where('state', '=', 'batched').orderBy('created_at').orderBy('id').execute();
  const attempts = await db.selectFrom('delivery_attempts').selectAll().where('notification_id', '=', id).orderBy('attempt').execute();
  return {
    ...summary,
    operations: [row.payload, ...members.map((m) => m.payload)].map((p) => JSON.parse(p) as Record<string, unknown>),
    attemptLog: attempts.map(
      (a): AttemptView => ({
        attempt: a.attempt,
        attemptedAt: iso(a.attempted_at) as string,
        httpStatus: a.http_status,
        error: a.error,
        latencyMs: a.latency_ms,
        responseBody: a.response_body,
      }),
    ),
  };
}

/**
 * Sends a notification again, under the same webhook-id, with a fresh retry schedule (the attempt log
 * keeps numbering on). Returns false when there is no such notification.
 *
 * Ordering (see claimDueNotifications): once pending again, the replayed notification holds back every
 * later update of its operations that is still waiting, sent before or not; it goes first. Later updates
 * already delivered are not recalled: the issuer has them, and drops this older one by its sequenceNumber.
 */
export async function replayNotification(db: Db, id: string): Promise<boolean> {
  const res = await sql`
    update outbox set state = 'pending', next_attempt_at = now(), schedule_offset = attempts, last_error = null
    where id = ${id} and state in ('pending', 'delivered', 'dead')`.execute(db);
  return Number(res.numAffectedRows ?? 0) > 0;
}

/**
 * Replays an issuer's dead notifications created since `since` (and delivered ones too when asked). They
 * all fall due at once, but the claim still sends each operation's updates one after another, in
 * sequence order (claimDueNotifications).
 */
export async function replayIssuerSince(db: Db, issuerId: string, since: Date, includeDelivered = false): Promise<number> {
  const states = includeDelivered ? ['dead', 'delivered'] : ['dead'];
  const res = await sql`
    update outbox set state = 'pending', next_attempt_at = now(), schedule_offset = attempts, last_error = null
    where issuer_id = ${issuerId} and created_at >= ${since.toISOString()}::timestamptz and state in (${sql.join(states)})`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

/** How many rows an issuer has room for: the claim takes at most `lim` of its notifications. */
export interface ClaimWant {
  issuer_id: string;
  lim: number;
}

/** A notification's head row as claimed: `attempts` already counts the attempt about to be made. */
export interface ClaimedOutboxRow {
  id: string;
  issuer_id: string;
  correlation_id: string;
  payload: string;
  attempts: number;
  batch_id: string | null;
  schedule_offset: number;
}

/**
 * An outbox row `e` that is an update still waiting to be delivered: pending itself, or batched into a
 * notification that is pending. Delivered and dead ones are done (a dead update never blocks the
 * later ones of its operation for good; a replay makes it wait again).
 */
const stillWaiting = (e: string) =>
  sql.raw(`(${e}.state = 'pending' or (${e}.state = 'batched' and exists (select 1 from outbox h where h.id = ${e}.batch_id and h.state = 'pending')))`);

/**
 * Claims due notifications, leasing them for `leaseMs` (`attempts` counts the attempt about to be
 * made). One statement: each issuer's due rows (up to its `lim`), taken round-robin across issuers
 * (every issuer's first row, then every issuer's second…) up to `room`, so a deep backlog for one
 * issuer never starves the others.
 *
 * Order per operation: the issuer may see an update of an operation (sequenceNumber n) only after
 * every earlier one (n-1, n-2…) is delivered or dead. So a notification is claimable only while no
 * earlier update of any operation it carries still waits in another notification; otherwise it stays
 * due and is looked at again at the next claim. This holds across retries (a failed update holds back
 * the later ones until it is delivered or dead), replays, and any number of workers: an update in
 * flight is 'pending' (leased), so it blocks the later ones for every worker, whatever row locks the
 * claims skip. A batch (several operations in one notification) waits for the earlier updates of every
 * operation it carries; since only an operation's earliest waiting update is ever claimable, a batch
 * formed from claimed rows never carries two updates of one operation, and a batch can only wait for
 * notifications formed before it, so two batches never wait for each other.
 *
 * Cost: each due row costs one index probe (outbox_by_operation); due rows held back are skipped, but
 * scanned again by every claim until their turn comes.
 */
export async function claimDueNotifications(db: Db, wants: ClaimWant[], room: number, leaseMs: number): Promise<ClaimedOutboxRow[]> {
  // JIT is off for the hub's sessions (src/store/db.ts): the planner prices this statement past jit_above_cost.
  const res = await sql<ClaimedOutboxRow>`
    update outbox o
    set next_attempt_at = now() + ${`${leaseMs} milliseconds`}::interval, attempts = o.attempts + 1
    from (
      select id from (
        select d.id, row_number() over (partition by q.issuer_id order by d.next_attempt_at) as turn
        from json_to_recordset(${JSON.stringify(wants)}::json) as q(issuer_id text, lim int)
        cross join lateral (
          select c.id, c.next_attempt_at from outbox c
          where c.issuer_id = q.issuer_id and c.state = 'pending' and c.next_attempt_at <= now()
            -- its own operation's earlier updates (those batched with it excepted)
            and not exists (
              select 1 from outbox e
              where e.operation_id = c.operation_id and e.sequence_number < c.sequence_number
                and e.batch_id is distinct from c.id and ${stillWaiting('e')})
            -- a batch head: the earlier updates of the other operations it carries
            and (c.batch_id is null or not exists (
              select 1 from outbox m
              join outbox e on e.operation_id = m.operation_id and e.sequence_number < m.sequence_number
              where m.batch_id = c.id and m.state = 'batched'
                and e.batch_id is distinct from c.id and ${stillWaiting('e')}))
          order by c.next_attempt_at
          limit q.lim
          for update of c skip locked
        ) d
      ) ranked
      order by turn
      limit ${room}
    ) due
    where o.id = due.id
    returning o.id, o.issuer_id, o.correlation_id, o.payload, o.attempts, o.batch_id, o.schedule_offset`.execute(db);
  return res.rows;
}

/** Opaque page cursors: the last id seen, so adding rows never shifts a page. */
export const cursor = {
  encode: (id: string) => Buffer.from(id, 'utf8').toString('base64url'),
  decode: (c: string): string | undefined => {
    const id = Buffer.from(c, 'base64url').toString('utf8');
    return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined;
  },
};
