import { sql } from 'kysely';
import { newId } from '../domain/ids.ts';
import type { Decision, OperationState } from '../domain/operation.ts';
import type { Db } from './db.ts';
import { notifyOutboxCommitted, OUTBOX_CHANNEL } from './outbox.ts';

type Tx = Db;

export interface OutboxInsert {
  id: string;
  issuer_id: string;
  operation_id: string;
  sequence_number: number;
  correlation_id: string;
  payload: string;
}

/** Outbox rows for a decision's notifications; written in the caller's transaction. */
export function outboxRows(decision: Decision): OutboxInsert[] {
  return decision.notifications.map((op) => ({
    id: newId('msg'),
    issuer_id: op.issuerId,
    operation_id: op.operationId,
    sequence_number: op.sequenceNumber,
    correlation_id: decision.state.correlationId,
    payload: JSON.stringify(op),
  }));
}

/**
 * Inserts new operations and their notifications, and wakes the dispatchers: one statement, whatever the
 * batch size. Rows travel as one array per column (`unnest`), so the statement's text is the same for every
 * batch: PostgreSQL parses the same short text each time, however many rows, and the hub builds no
 * per-row SQL.
 */
export async function insertOperations(tx: Tx, items: { decision: Decision; hash: string; wakeAt: Date | null }[]): Promise<void> {
  if (items.length === 0) return;
  const states = items.map((i) => i.decision.state);
  const box = items.flatMap((i) => outboxRows(i.decision));
  await sql`
    with new_operations as (
      insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, carrier, tracking_number, wake_at)
      select * from unnest(
        ${states.map((s) => s.operationId)}::text[], ${states.map((s) => s.issuerId)}::text[], ${states.map((s) => s.cardId)}::text[],
        ${states.map((s) => s.trackingType)}::text[], ${items.map((i) => i.hash)}::text[], ${states.map((s) => s.status)}::text[],
        ${states.map((s) => s.open)}::boolean[], ${states.map((s) => JSON.stringify(s))}::jsonb[], ${states.map((s) => s.parcel?.carrier ?? null)}::text[],
        ${states.map((s) => s.parcel?.trackingNumber ?? null)}::text[], ${items.map((i) => i.wakeAt?.toISOString() ?? null)}::timestamptz[]
      )
    ), new_notifications as (
      insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload)
      select * from unnest(
        ${box.map((b) => b.id)}::text[], ${box.map((b) => b.issuer_id)}::text[], ${box.map((b) => b.operation_id)}::text[],
        ${box.map((b) => b.sequence_number)}::integer[], ${box.map((b) => b.correlation_id)}::text[], ${box.map((b) => b.payload)}::text[]
      )
    )
    select ${box.length > 0 ? sql`pg_notify(${OUTBOX_CHANNEL}, '')` : sql`null`}`.execute(tx);
}

/** Stores a decision about an existing operation: its new state, its next wake-up and its notifications. */
export async function saveDecision(tx: Tx, d: Decision, wakeAt: Date | null): Promise<void> {
  const s = d.state;
  await tx
    .updateTable('operations')
    .set({
      status: s.status,
      is_open: s.open,
      state: JSON.stringify(s),
      carrier: s.parcel?.carrier ?? null,
      wake_at: wakeAt,
      updated_at: sql`now()`,
    })
    .where('operation_id', '=', s.operationId)
    .execute();
  await insertOutbox(tx, outboxRows(d));
}

export async function insertOutbox(tx: Tx, rows: OutboxInsert[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.insertInto('outbox').values(rows).execute();
  await notifyOutboxCommitted(tx);
}

/**
 * Claims operations whose wake-up time has come. The claim pushes their wake-up forward by the lease, so a
 * worker that dies mid-way only delays them until the lease runs out. A lost lease only makes the
 * operations due again, so workers pass the store's `relaxed` connections here. The wake-ups and their
 * leases live in operation_wakeups (migration 0020), kept from operations.wake_at by triggers: a claim
 * writes 200 narrow rows, not 200 versions of wide operations with their 15 index entries each.
 */
export async function claimDueOperations(db: Db, limit: number, leaseMs: number, now?: Date): Promise<OperationState[]> {
  // Wake-up times are written from the hub's clock, so the hub's clock says what is due (the store's
  // own now() when none is given).
  const at = now ? sql`${now.toISOString()}::timestamptz` : sql`now()`;
  const rows = await sql<{ state: OperationState }>`
    with claimed as (
      update operation_wakeups w set wake_at = ${at} + ${`${leaseMs} milliseconds`}::interval
      from (
        select operation_id from operation_wakeups
        where wake_at <= ${at}
        order by wake_at
        limit ${limit}
        for update skip locked
      ) due
      where w.operation_id = due.operation_id
      returning w.operation_id
    )
    select o.state from claimed join operations o on o.operation_id = claimed.operation_id`.execute(db);
  return rows.rows.map((r) => r.state);
}

/** When the next operation falls due (the earliest wake-up time, leases included), or undefined when none waits. */
export async function nextDueAt(db: Db): Promise<Date | undefined> {
  const row = await db.selectFrom('operation_wakeups').select((eb) => eb.fn.min('wake_at').as('at')).executeTakeFirst();
  return row?.at ? new Date(row.at as unknown as string) : undefined;
}

export async function listCardOperations(db: Db, issuerId: string, cardId: string): Promise<OperationState[]> {
  const rows = await db
    .selectFrom('operations')
    .select('state')
    .where('issuer_id', '=', issuerId)
    .where('card_id', '=', cardId)
    .orderBy('created_at', 'desc')
    .orderBy('operation_id', 'desc')
    .execute();
  return rows.map((r) => r.state);
}

/** Re-reads an operation under a row lock, so two workers never apply inputs to the same state at once. */
export async function lockOperation(tx: Tx, operationId: string): Promise<OperationState | undefined> {
  const row = await tx.selectFrom('operations').select('state').where('operation_id', '=', operationId).forUpdate().executeTakeFirst();
  return row?.state;
}

export interface CardRef {
  issuerId: string;
  cardId: string;
}

function cardArrays(cards: CardRef[]): { issuers: string[]; cardIds: string[] } {
  return { issuers: cards.map((c) => c.issuerId), cardIds: cards.map((c) => c.cardId) };
}

/** Transaction-scoped locks on cards, taken in one sorted order so two transactions cannot deadlock. */
export async function lockCards(tx: Tx, cards: CardRef[]): Promise<void> {
  if (cards.length === 0) return;
  const { issuers, cardIds } = cardArrays(cards);
  await sql`
    select pg_advisory_xact_lock(k) from (
      select distinct hashtextextended(i || '/' || c, 7314005) as k
      from unnest(${issuers}::text[], ${cardIds}::text[]) as u(i, c)
      order by k
    ) card_locks`.execute(tx);
}

export interface OpenOperationRow {
  operation_id: string;
  request_hash: string;
  state: OperationState;
  issuer_id: string;
  card_id: string;
  tracking_type: string;
}

/**
 * The open operations of these (issuer, card, tracking type) keys, read in one statement and locked: one
 * probe of operations_one_open per key, whatever the planner's statistics say. Both plans it chose
 * otherwise read every open operation: a row-value IN list became a scan of the issuer's open operations
 * of the type; a plain join, with statistics taken while few operations were open, a hash of all of them
 * (105 ms for 32 keys at 7,864 open; track requests fell from 3,153/s to 300-460/s on a store whose history
 * was analysed before the load). The LATERAL subquery with LIMIT 1 (one open operation per key: the unique
 * index) cannot be flattened into a join, so it stays a probe per key.
 */
export async function lockOpenOperations(tx: Tx, keys: { issuerId: string; cardId: string; trackingType: string }[]): Promise<OpenOperationRow[]> {
  if (keys.length === 0) return [];
  const open = await sql<OpenOperationRow>`
    select o.operation_id, o.request_hash, o.state, o.issuer_id, o.card_id, o.tracking_type
    from unnest(${keys.map((k) => k.issuerId)}::text[], ${keys.map((k) => k.cardId)}::text[], ${keys.map((k) => k.trackingType)}::text[]) as k(issuer_id, card_id, tracking_type)
    cross join lateral (
      select * from operations o
      where o.issuer_id = k.issuer_id and o.card_id = k.card_id and o.tracking_type = k.tracking_type and o.is_open
      limit 1
      for update
    ) o`.execute(tx);
  return open.rows;
}

/**
 * Open PRODUCTION / RETURN operations of the cards, locked: read once per batch of events, before the
 * events are stored, to refuse reports for cards another site was asked to make and to match the rest.
 */
export async function openSiteOperations(tx: Tx, cards: CardRef[]): Promise<OperationState[]> {
  if (cards.length === 0) return [];
  const { issuers, cardIds } = cardArrays(cards);
  // A probe of operations_one_open per card and type (as lockOpenOperations, whatever the statistics say).
  const open = await sql<{ state: OperationState }>`
    select o.state
    from unnest(${issuers}::text[], ${cardIds}::text[]) as k(issuer_id, card_id)
    cross join (values ('PRODUCTION'), ('RETURN')) as t(tracking_type)
    cross join lateral (
      select state from operations o
      where o.issuer_id = k.issuer_id and o.card_id = k.card_id and o.tracking_type = t.tracking_type and o.is_open
      limit 1
      for update
    ) o`.execute(tx);
  return open.rows.map((r) => r.state);
}

/** The card's outbound parcel as a SHIPMENT operation knew it: the newest such operation's, per card. */
export async function latestShipmentParcels(tx: Tx, cards: CardRef[]): Promise<{ issuer_id: string; card_id: string; carrier: string; tracking_number: string }[]> {
  if (cards.length === 0) return [];
  const { issuers, cardIds } = cardArrays(cards);
  const rows = await sql<{ issuer_id: string; card_id: string; carrier: string; tracking_number: string }>`
    select distinct on (issuer_id, card_id) issuer_id, card_id, carrier, tracking_number from operations
    where tracking_type = 'SHIPMENT' and tracking_number is not null and carrier is not null
      and (issuer_id, card_id) in (select * from unnest(${issuers}::text[], ${cardIds}::text[]))
    order by issuer_id, card_id, created_at desc`.execute(tx);
  return rows.rows;
}

/** The open operations following this tracking number (carrier pushes find theirs here). */
export async function openOperationsByTrackingNumber(db: Db, trackingNumber: string): Promise<OperationState[]> {
  const rows = await db
    .selectFrom('operations')
    .select('state')
    .where('tracking_number', '=', trackingNumber)
    .where('is_open', '=', true)
    .execute();
  return rows.map((r) => r.state);
}
