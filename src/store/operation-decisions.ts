import { sql } from 'kysely';
import type { Decision } from '../domain/operation.ts';
import type { Db } from './db.ts';
import { outboxRows } from './operations.ts';
import { notifyOutboxCommitted } from './outbox.ts';

/**
 * saveDecision (operations.ts) for many operations at once: site events completing or equipping their
 * cards' operations. One update from a JSON parameter, whatever the count, then one insert of all their
 * notifications: a statement per operation made matching cost ×20 what storing the events did
 * (bench/import.ts, issue 13). A decision whose state has a parcel also writes the parcel's tracking number.
 */
export async function saveDecisions(tx: Db, items: { decision: Decision; wakeAt: Date | null }[]): Promise<void> {
  if (items.length === 0) return;
  const rows = items.map(({ decision: { state: s }, wakeAt }) => ({
    id: s.operationId,
    status: s.status,
    open: s.open,
    state: s,
    carrier: s.parcel?.carrier ?? null,
    tracking_number: s.parcel?.trackingNumber ?? null,
    wake_at: wakeAt?.toISOString() ?? null,
  }));
  await sql`
    update operations o
    set status = m.status, is_open = m.open, state = m.state, carrier = m.carrier,
      tracking_number = coalesce(m.tracking_number, o.tracking_number), wake_at = m.wake_at, updated_at = now()
    from json_to_recordset(${JSON.stringify(rows)}::json)
      as m(id text, status text, open boolean, state jsonb, carrier text, tracking_number text, wake_at timestamptz)
    where o.operation_id = m.id`.execute(tx);
  // As insertOutbox, but from one JSON parameter: 500 rows of VALUES cost 3,000 parameters to bind.
  const notes = items.flatMap((i) => outboxRows(i.decision));
  if (notes.length === 0) return;
  await sql`
    insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload)
    select id, issuer_id, operation_id, sequence_number, correlation_id, payload
    from json_to_recordset(${JSON.stringify(notes)}::json)
      as n(id text, issuer_id text, operation_id text, sequence_number integer, correlation_id text, payload text)`.execute(tx);
  await notifyOutboxCommitted(tx);
}
