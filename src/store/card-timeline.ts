import { sql } from 'kysely';
import type { OperationState } from '../domain/operation.ts';
import type { Db } from './db.ts';
import { isoUtc } from './sql-time.ts';

/** A card's operations shown at most (newest first): a card has a handful; this bounds a strange one. */
export const TIMELINE_OPERATIONS = 100;
/** Notifications shown per operation (its newest): a parcel has a dozen updates, a broken one can have hundreds. */
export const TIMELINE_NOTIFICATIONS = 10;
/** Attempts shown per notification (its newest): enough to see what an endpoint answers. */
export const TIMELINE_ATTEMPTS = 5;

export interface TimelineAttempt {
  attempt: number;
  attemptedAt: string;
  httpStatus: number | null;
  error: string | null;
  latencyMs: number;
}

export interface TimelineNotification {
  /** The webhook-id: the notification that carried this update (for a batched update, its head's id). */
  notificationId: string;
  sequenceNumber: number;
  /** Sent inside another operation's notification (a batch), not on its own. */
  batched: boolean;
  state: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
  /** The statuses this update carried (its own outbox row's payload, read in SQL). */
  carried: { sequenceNumber: number; status: string | null; shipmentStatus: string | null };
  /** Its newest TIMELINE_ATTEMPTS attempts, oldest first. */
  attemptLog: TimelineAttempt[];
  /** Older attempts left out of attemptLog. */
  attemptsOmitted: number;
}

export interface TimelineOperation {
  state: OperationState;
  carrier: string | null;
  trackingNumber: string | null;
  createdAt: string;
  /** Its newest TIMELINE_NOTIFICATIONS notifications, in sequence order. */
  notifications: TimelineNotification[];
  /** Older notifications left out. */
  notificationsOmitted: number;
}


/**
 * Every operation of a card, newest first, each with the notifications that carried its updates (in
 * sequence order) and their attempt logs: the console's card page in three index-backed queries
 * (operations_by_card, outbox_by_operation, the primary keys). Undefined for a card with no operation.
 */
export async function readCardTimeline(db: Db, issuerId: string, cardId: string): Promise<TimelineOperation[] | undefined> {
  const ops = await sql<{ operation_id: string; state: OperationState; carrier: string | null; tracking_number: string | null; created: string }>`
    select operation_id, state, carrier, tracking_number, ${isoUtc('created_at')} as created
    from operations where issuer_id = ${issuerId} and card_id = ${cardId}
    order by created_at desc, operation_id desc limit ${TIMELINE_OPERATIONS}`.execute(db);
  if (ops.rows.length === 0) return undefined;
  const ids = ops.rows.map((o) => o.operation_id);
  // A batched row waits as 'batched' under its head: what happened to the update is the head's story.
  const rows = await sql<{
    operation_id: string; sequence_number: number; own_id: string; id: string; batch_id: string | null; state: string; attempts: number;
    last_error: string | null; next_at: string | null; created: string; delivered: string | null; op_status: string | null; shipment_status: string | null;
    total: number;
  }>`
    select * from (select o.operation_id, o.sequence_number, o.id as own_id, coalesce(h.id, o.id) as id, o.batch_id, coalesce(h.state, o.state) as state,
      coalesce(h.attempts, o.attempts) as attempts, coalesce(h.last_error, o.last_error) as last_error,
      case when coalesce(h.state, o.state) = 'pending' then ${isoUtc('coalesce(h.next_attempt_at, o.next_attempt_at)')} end as next_at,
      ${isoUtc('coalesce(h.created_at, o.created_at)')} as created, ${isoUtc('coalesce(h.delivered_at, o.delivered_at)')} as delivered,
      j.p ->> 'status' as op_status, j.p #>> '{details,shipment,status}' as shipment_status,
      row_number() over (partition by o.operation_id order by o.sequence_number desc, o.id desc) as nth,
      count(*) over (partition by o.operation_id)::int as total
    from outbox o left join outbox h on h.id = o.batch_id and o.batch_id <> o.id
    cross join lateral (select o.payload::jsonb as p) j
    where o.operation_id = any(${ids}::text[])) n
    where nth <= ${TIMELINE_NOTIFICATIONS}
    order by operation_id, sequence_number, own_id`.execute(db);
  const notificationIds = [...new Set(rows.rows.map((r) => r.id))];
  // Each notification's newest attempts through the primary key, and how many it has.
  const attempts = notificationIds.length === 0 ? [] : (await sql<{ notification_id: string; attempt: number; at: string; http_status: number | null; error: string | null; latency_ms: number; total: number }>`
    select n.id as notification_id, a.attempt, ${isoUtc('a.attempted_at')} as at, a.http_status, a.error, a.latency_ms,
      (select count(*)::int from delivery_attempts c where c.notification_id = n.id) as total
    from unnest(${notificationIds}::text[]) n(id)
    cross join lateral (select * from delivery_attempts d where d.notification_id = n.id order by d.attempt desc limit ${TIMELINE_ATTEMPTS}) a
    order by n.id, a.attempt`.execute(db)).rows;
  const logs = new Map<string, TimelineAttempt[]>();
  const attemptTotals = new Map<string, number>();
  for (const a of attempts) {
    attemptTotals.set(a.notification_id, a.total);
    const log = logs.get(a.notification_id) ?? [];
    log.push({ attempt: a.attempt, attemptedAt: a.at, httpStatus: a.http_status, error: a.error, latencyMs: a.latency_ms });
    logs.set(a.notification_id, log);
  }
  const byOperation = new Map<string, TimelineNotification[]>();
  const omitted = new Map<string, number>();
  for (const r of rows.rows) {
    const list = byOperation.get(r.operation_id) ?? [];
    list.push({
      notificationId: r.id,
      sequenceNumber: r.sequence_number,
      batched: r.batch_id !== null && r.batch_id !== r.own_id,
      state: r.state,
      attempts: r.attempts,
      lastError: r.last_error,
      nextAttemptAt: r.next_at,
      createdAt: r.created,
      deliveredAt: r.delivered,
      carried: { sequenceNumber: r.sequence_number, status: r.op_status, shipmentStatus: r.shipment_status },
      attemptLog: logs.get(r.id) ?? [],
      attemptsOmitted: (attemptTotals.get(r.id) ?? 0) - (logs.get(r.id)?.length ?? 0),
    });
    omitted.set(r.operation_id, r.total - list.length);
    byOperation.set(r.operation_id, list);
  }
  return ops.rows.map((o) => ({
    state: o.state,
    carrier: o.carrier,
    trackingNumber: o.tracking_number,
    createdAt: o.created,
    notifications: byOperation.get(o.operation_id) ?? [],
    notificationsOmitted: omitted.get(o.operation_id) ?? 0,
  }));
}

export type SearchKind = 'operation' | 'notification' | 'tracking_number' | 'correlation_id' | 'card';

export interface SearchMatch {
  kind: SearchKind;
  issuerId: string;
  cardId: string;
  operationId?: string;
}

/**
 * What an operator's search text names: an operation id, a webhook-id (the operations its notification
 * carried), a tracking number or correlation id (exact), or the start of a card id. Each lookup is one
 * index scan (primary keys, outbox_batch, migration 0015's indexes); exact kinds come first.
 */
export async function searchCards(db: Db, q: string, limit: number): Promise<SearchMatch[]> {
  const exact = await sql<{ kind: SearchKind; issuer_id: string; card_id: string; operation_id: string }>`
    select * from (
      select 'operation' as kind, issuer_id, card_id, operation_id from operations where operation_id = ${q}
      union all
      select 'notification', o.issuer_id, o.card_id, o.operation_id from outbox n join operations o on o.operation_id = n.operation_id
        where n.id = ${q} or n.batch_id = ${q}
      union all
      (select 'tracking_number', issuer_id, card_id, operation_id from operations where tracking_number = ${q}
        order by created_at desc limit ${limit})
      union all
      (select 'correlation_id', issuer_id, card_id, operation_id from operations where state ->> 'correlationId' = ${q}
        order by created_at desc limit ${limit})
    ) m limit ${limit}`.execute(db);
  const matches: SearchMatch[] = exact.rows.map((r) => ({ kind: r.kind, issuerId: r.issuer_id, cardId: r.card_id, operationId: r.operation_id }));
  const left = limit - matches.length;
  if (left > 0) {
    // LIKE's own characters taken literally: card ids often hold '_'.
    const pattern = `${q.replace(/[\\%_]/g, '\\$&')}%`;
    // Distinct card ids by a skip scan of operations_card_prefix (text_pattern_ops): each step is one
    // index probe for the next card id after the last, so a card with many operations costs one probe,
    // not as many rows as it has operations. Then which issuers hold each id (a card id is the issuer's,
    // two may share one): one operations_by_card probe per registered issuer, however many operations.
    const cards = await sql<{ issuer_id: string; card_id: string }>`
      with recursive ids(card_id) as (
        (select card_id from operations where card_id like ${pattern} order by card_id using ~<~ limit 1)
        union all
        select (select o.card_id from operations o where o.card_id like ${pattern} and o.card_id ~>~ ids.card_id order by o.card_id using ~<~ limit 1)
        from ids where ids.card_id is not null
      ), found as (select card_id from ids where card_id is not null limit ${left})
      select i.issuer_id, f.card_id from found f cross join issuers i
      -- A lateral probe, not exists: as a semi-join the planner hashed every operation (70 ms at 100,000).
      cross join lateral (select 1 from operations o where o.issuer_id = i.issuer_id and o.card_id = f.card_id limit 1) held
      order by f.card_id, i.issuer_id limit ${left}`.execute(db);
    for (const c of cards.rows) matches.push({ kind: 'card', issuerId: c.issuer_id, cardId: c.card_id });
  }
  return matches;
}
