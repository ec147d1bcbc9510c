import { STATUS_CODES } from 'node:http';
import { sql } from 'kysely';
import type { Db } from './db.ts';

/**
 * What an operator needs beside a notification in a list (the console's dead letters): the cards it
 * carries, and why it failed in words. Two reads per page, whatever its size: the carried operations by
 * primary key, each notification's newest attempt by delivery_attempts' primary key.
 */

/** An operation a notification carries, with its card; cardId and trackingType are null once the operation is gone from the store. */
export interface CarriedCard {
  operationId: string;
  cardId: string | null;
  trackingType: string | null;
  /** What this notification told the issuer about the operation; null once its outbox row is gone. */
  carried: CarriedUpdate | null;
}

/** The update a notification carried: its sequence number and the statuses in the operation object sent. */
export interface CarriedUpdate {
  sequenceNumber: number;
  status: string | null;
  shipmentStatus: string | null;
}

/**
 * The statuses an outbox row's payload carried, read in SQL: the payload is the whole operation object (its
 * checkpoints too), so only these two fields leave the database.
 */
export async function carriedUpdates(db: Db, outboxIds: string[]): Promise<Map<string, CarriedUpdate>> {
  if (outboxIds.length === 0) return new Map();
  const res = await sql<{ id: string; sequence_number: number; status: string | null; shipment_status: string | null }>`
    select id, sequence_number, p ->> 'status' as status, p #>> '{details,shipment,status}' as shipment_status
    from outbox cross join lateral (select payload::jsonb as p) j where id = any(${[...new Set(outboxIds)]}::text[])`.execute(db);
  return new Map(res.rows.map((r) => [r.id, { sequenceNumber: r.sequence_number, status: r.status, shipmentStatus: r.shipment_status }]));
}

export interface LastAttempt {
  attempt: number;
  attemptedAt: string;
  httpStatus: number | null;
  error: string | null;
}

/** The start of an endpoint's answer shown in a reason: enough to read a message, short enough for a table. */
const EXCERPT_CHARS = 160;

export async function carriedCards(db: Db, operationIds: string[]): Promise<Map<string, CarriedCard>> {
  if (operationIds.length === 0) return new Map();
  const res = await sql<{ operation_id: string; card_id: string; tracking_type: string }>`
    select operation_id, card_id, tracking_type from operations where operation_id = any(${[...new Set(operationIds)]}::text[])`.execute(db);
  return new Map(res.rows.map((r) => [r.operation_id, { operationId: r.operation_id, cardId: r.card_id, trackingType: r.tracking_type, carried: null }]));
}

/** Each notification's newest attempt, with the start of the answer it got. */
export async function lastAttempts(db: Db, notificationIds: string[]): Promise<Map<string, LastAttempt & { excerpt: string | null }>> {
  if (notificationIds.length === 0) return new Map();
  const res = await sql<{ notification_id: string; attempt: number; attempted_at: Date; http_status: number | null; error: string | null; excerpt: string | null }>`
    select distinct on (notification_id) notification_id, attempt, attempted_at, http_status, error, left(response_body, ${EXCERPT_CHARS}) as excerpt
    from delivery_attempts where notification_id = any(${notificationIds}::text[])
    order by notification_id, attempt desc`.execute(db);
  return new Map(
    res.rows.map((r) => [
      r.notification_id,
      { attempt: r.attempt, attemptedAt: new Date(r.attempted_at).toISOString(), httpStatus: r.http_status, error: r.error, excerpt: r.excerpt },
    ]),
  );
}

/**
 * Why a notification is not delivered, in words: the stored reason (`HTTP 503`, `timeout after 15000 ms`, a
 * network error) with the status's name, else that of its newest failed attempt (a replay clears the stored
 * reason), and the start of the endpoint's answer. Null for a delivered notification or one never tried.
 */
export function readableReason(state: string, lastError: string | null, last: (LastAttempt & { excerpt: string | null }) | undefined): string | null {
  if (state === 'delivered') return null;
  const failed = last && !(last.httpStatus !== null && last.httpStatus >= 200 && last.httpStatus < 300) ? last : undefined;
  const base = lastError ?? failed?.error ?? (failed?.httpStatus != null ? `HTTP ${failed.httpStatus}` : null);
  if (base === null) return null;
  const status = /^HTTP (\d{3})$/.exec(base);
  const named = status && STATUS_CODES[status[1]] ? `${base} ${STATUS_CODES[status[1]]}` : base;
  const excerpt = failed?.excerpt?.replace(/\s+/g, ' ').trim();
  return excerpt ? `${named}: ${excerpt}` : named;
}
