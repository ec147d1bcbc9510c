import { sql } from 'kysely';
import type { Db } from './db.ts';
import { type CarriedCard, carriedCards, carriedUpdates, type LastAttempt, lastAttempts, readableReason } from './notification-cards.ts';
import { markReplayed } from './notification-rollup.ts';
import { sendUnderWay } from './outbox.ts';
import { isoUtc } from './sql-time.ts';

/**
 * Notifications as the Admin API and the CLI see them. A notification is an outbox row that is sent
 * (its id is the webhook-id); operations grouped into it by batching wait beside it in state 'batched'
 * and are listed inside it, never on their own.
 */
export type NotificationState = 'pending' | 'delivered' | 'dead';
export const NOTIFICATION_STATES = ['pending', 'delivered', 'dead'] as const satisfies readonly NotificationState[];

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
  /** The first operation it carries (the head's), with its card. */
  operationId: string;
  cardId: string | null;
  trackingType: string | null;
  /** Every operation it carries, in operationIds' order, with its card. */
  cards: CarriedCard[];
  /** Its newest attempt (null: never tried). */
  lastAttempt: LastAttempt | null;
  /** Why it is not delivered, in words (readableReason); null when delivered or never tried. */
  reason: string | null;
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
    ? await db.selectFrom('outbox').select(['id', 'batch_id', 'operation_id']).where('batch_id', 'in', rows.map((r) => r.id)).where('state', '=', 'batched').orderBy('created_at').orderBy('id').execute()
    : [];
  const operationIds = (r: { id: string; operation_id: string }) => [r.operation_id, ...members.filter((m) => m.batch_id === r.id).map((m) => m.operation_id)];
  const cards = await carriedCards(db, rows.flatMap(operationIds));
  // Each carried operation's update is its own outbox row: the head's, then its batched members'.
  const updates = await carriedUpdates(db, [...rows.map((r) => r.id), ...members.map((m) => m.id)]);
  const rowIds = (r: { id: string }) => [r.id, ...members.filter((m) => m.batch_id === r.id).map((m) => m.id)];
  const attempts = await lastAttempts(db, rows.map((r) => r.id));
  return rows.map((r) => {
    const ids = operationIds(r);
    const own = rowIds(r);
    const carried = ids.map((id, i) => ({ ...(cards.get(id) ?? { operationId: id, cardId: null, trackingType: null }), carried: updates.get(own[i] as string) ?? null }));
    const last = attempts.get(r.id);
    return {
      id: r.id,
      issuerId: r.issuer_id,
      state: r.state as NotificationState,
      operationIds: ids,
      correlationId: r.correlation_id,
      attempts: r.attempts,
      nextAttemptAt: r.state === 'pending' ? iso(r.next_attempt_at) : null,
      lastError: r.last_error,
      createdAt: iso(r.created_at) as string,
      deliveredAt: iso(r.delivered_at),
      operationId: r.operation_id,
      cardId: carried[0].cardId,
      trackingType: carried[0].trackingType,
      cards: carried,
      lastAttempt: last ? { attempt: last.attempt, attemptedAt: last.attemptedAt, httpStatus: last.httpStatus, error: last.error } : null,
      reason: readableReason(r.state, r.last_error, last),
    };
  });
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

/** What a replay did: sent again, left to the send under way, or no such notification. */
export type ReplayResult = 'replayed' | 'in_flight' | 'not_found';

/**
 * Sends a notification again, under the same webhook-id, with a fresh retry schedule (the attempt log
 * keeps numbering on).
 *
 * A notification whose send is under way (sendUnderWay in outbox.ts) is left alone ('in_flight'): its
 * lease is what keeps every other worker from sending it at the same time, and for a batching issuer a
 * row claimed but not yet grouped would even go out under its webhook-id with another body. The check
 * sits on the updated row itself, so a claim committing meanwhile is seen (PostgreSQL re-reads the row).
 *
 * Ordering (see claimDueNotifications in outbox.ts): a replayed notification that was never delivered
 * (a dead one) holds back the later updates of its operations still waiting; it goes first. One
 * delivered before keeps its delivered_at and holds nothing back: the issuer has it, and drops this older
 * copy by its sequenceNumber. Later updates already delivered are never recalled.
 */
export async function replayNotificationOutcome(db: Db, id: string): Promise<ReplayResult> {
  const res = await sql<{ n: number }>`
    with r as (
      update outbox o set state = 'pending', next_attempt_at = now(), schedule_offset = o.attempts, last_error = null
      where o.id = ${id} and o.state in ('pending', 'delivered', 'dead') and not ${sendUnderWay('o')}
      returning o.issuer_id, o.created_at
    ), m as (${markReplayed('r')})
    select count(*)::int as n from r`.execute(db);
  if (res.rows[0].n > 0) return 'replayed';
  const row = await db.selectFrom('outbox').select('id').where('id', '=', id).where('state', 'in', NOTIFICATION_STATES).executeTakeFirst();
  return row ? 'in_flight' : 'not_found';
}

/** replayNotificationOutcome, for callers that only tell found from not found (true: replayed or left to its send). */
export async function replayNotification(db: Db, id: string): Promise<boolean> {
  return (await replayNotificationOutcome(db, id)) !== 'not_found';
}

/** Which notifications an issuer replay takes: the same selection for the replay and its preview, so the two cannot drift. */
export interface IssuerReplaySelection {
  issuerId: string;
  /** Notifications created at or after this time. */
  since: Date;
  /** And before this one (the preview's time), so a replay confirmed from a preview takes no row made after it. */
  until?: Date;
  /** Delivered ones too (default: dead only). */
  includeDelivered?: boolean;
}

/**
 * The rows `o` an issuer replay takes. Only dead and delivered rows are taken, and no send of those is
 * under way (a claim takes pending rows only); the guard says so all the same, should the states taken
 * ever widen. Reads outbox_by_issuer (issuer_id, state, created_at).
 */
function replayedRows(s: IssuerReplaySelection) {
  const states = s.includeDelivered ? ['dead', 'delivered'] : ['dead'];
  const until = s.until ? sql` and o.created_at < ${s.until.toISOString()}::timestamptz` : sql``;
  return sql`o.issuer_id = ${s.issuerId} and o.created_at >= ${s.since.toISOString()}::timestamptz${until} and o.state in (${sql.join(states)})
      and not ${sendUnderWay('o')}`;
}

/**
 * Replays an issuer's dead notifications created since `since` (and delivered ones too when asked). They
 * all fall due at once, but the claim still sends each operation's updates one after another, in
 * sequence order (claimDueNotifications in outbox.ts).
 */
export async function replayIssuerSince(db: Db, issuerId: string, since: Date, includeDelivered = false): Promise<number> {
  return replayIssuerSelection(db, { issuerId, since, includeDelivered });
}

/** replayIssuerSince with the whole selection (an upper bound `until` too). */
export async function replayIssuerSelection(db: Db, s: IssuerReplaySelection): Promise<number> {
  const res = await sql<{ n: number }>`
    with r as (
      update outbox o set state = 'pending', next_attempt_at = now(), schedule_offset = o.attempts, last_error = null
      where ${replayedRows(s)}
      returning o.issuer_id, o.created_at
    ), m as (${markReplayed('r')})
    select count(*)::int as n from r`.execute(db);
  return res.rows[0].n;
}

/**
 * A replay confirmed from a preview: the rows of `s` are locked and counted first, and replayed only when
 * there are `expectedCount` of them (the number the operator saw); otherwise nothing is, and the count is
 * returned (more went dead meanwhile, or some were replayed by someone else).
 */
export async function replayIssuerConfirmed(db: Db, s: IssuerReplaySelection, expectedCount: number): Promise<{ replayed: number } | { selected: number }> {
  return db.transaction().execute(async (tx) => {
    const picked = await sql<{ id: string }>`select o.id from outbox o where ${replayedRows(s)} for update of o`.execute(tx);
    if (picked.rows.length !== expectedCount) return { selected: picked.rows.length };
    if (picked.rows.length === 0) return { replayed: 0 };
    const res = await sql<{ n: number }>`
      with r as (
        update outbox o set state = 'pending', next_attempt_at = now(), schedule_offset = o.attempts, last_error = null
        where o.id = any(${picked.rows.map((r) => r.id)}::text[])
        returning o.issuer_id, o.created_at
      ), m as (${markReplayed('r')})
      select count(*)::int as n from r`.execute(tx);
    return { replayed: res.rows[0].n };
  });
}

/**
 * What a replay of `s` would take now: how many, the creation times of the oldest and newest (ISO UTC),
 * and `until`, the preview's time (whole milliseconds, as an API time carries it), the bound it counted
 * up to: a replay given it takes no row created after the preview.
 */
export async function previewIssuerReplay(db: Db, s: Omit<IssuerReplaySelection, 'until'>): Promise<{ count: number; oldest: string | null; newest: string | null; until: string }> {
  const at = await sql<{ until: string }>`select ${isoUtc("date_trunc('milliseconds', statement_timestamp())")} as until`.execute(db);
  const until = at.rows[0].until;
  const res = await sql<{ n: string; oldest: string | null; newest: string | null }>`
    select count(*) as n, ${isoUtc('min(o.created_at)')} as oldest, ${isoUtc('max(o.created_at)')} as newest
    from outbox o where ${replayedRows({ ...s, until: new Date(until) })}`.execute(db);
  const r = res.rows[0];
  return { count: Number(r.n), oldest: r.oldest, newest: r.newest, until };
}
