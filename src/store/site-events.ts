import { sql } from 'kysely';
import type { Db } from './db.ts';
import type { CardRef } from './operations.ts';

/**
 * Events reported by production sites (site_events, docs/contract.md §4). An eventId is unique per site;
 * an event waits (unmatched) until a track request of its card comes. Matching is src/operations/matching.ts.
 */

export interface StoredEvent {
  site_id: string;
  event_id: string;
  issuer_id: string;
  card_id: string;
  type: 'CARD_SHIPPED' | 'CARD_RETURNED';
  occurred_at: Date | string;
  carrier: string | null;
  tracking_number: string | null;
  matched_operation_id?: string | null;
}

/** An event as the Site API and batch files give it, validated. */
export interface SiteEventValues {
  eventId: string;
  issuerId: string;
  cardId: string;
  type: string;
  occurredAt: string;
  carrier?: string;
  trackingNumber?: string;
  reason?: string;
}

/**
 * Stores the site's events; returns those that are new (a resent eventId is a no-op). `matched` names
 * the operation an event is expected to complete, written with it (one statement instead of an update
 * after): the caller corrects any the returned rows prove wrong (an expected one was a duplicate).
 */
export async function insertSiteEvents(tx: Db, siteId: string, list: SiteEventValues[], matched?: Map<string, string>): Promise<StoredEvent[]> {
  const rows = matched && matched.size > 0 ? list.map((e) => ({ ...e, matched: matched.get(e.eventId) ?? null })) : list;
  // One JSON parameter for the whole batch: cheaper to pass and parse than a thousand rows of values.
  const inserted = await sql<StoredEvent>`
        insert into site_events (site_id, event_id, issuer_id, card_id, type, occurred_at, carrier, tracking_number, reason, matched_operation_id)
        select ${siteId}::text, "eventId", "issuerId", "cardId", type, "occurredAt", carrier, "trackingNumber", reason, matched
        from json_to_recordset(${JSON.stringify(rows)}::json) as e(
          "eventId" text, "issuerId" text, "cardId" text, type text, "occurredAt" timestamptz, carrier text, "trackingNumber" text, reason text, matched text)
        on conflict do nothing
        returning site_id, event_id, issuer_id, card_id, type, occurred_at, carrier, tracking_number, matched_operation_id`.execute(tx);
  return inserted.rows;
}

/** The cards' events received within the last `retentionDays`, newest occurrence first. */
export async function recentSiteEvents(tx: Db, cards: CardRef[], retentionDays: number): Promise<StoredEvent[]> {
  const issuers = cards.map((c) => c.issuerId);
  const cardIds = cards.map((c) => c.cardId);
  const events = await sql<StoredEvent>`
    select site_id, event_id, issuer_id, card_id, type, occurred_at, carrier, tracking_number, matched_operation_id
    from site_events
    where (issuer_id, card_id) in (select * from unnest(${issuers}::text[], ${cardIds}::text[]))
      and received_at > now() - ${`${retentionDays} days`}::interval
    order by occurred_at desc`.execute(tx);
  return events.rows;
}

/** Notes the operation each event completed (null: none): each report completes at most one operation. */
export async function markSiteEventsMatched(tx: Db, matches: { siteId: string; eventId: string; operationId: string | null }[]): Promise<void> {
  if (matches.length === 0) return;
  await sql`
    update site_events e set matched_operation_id = m.operation_id
    from unnest(${matches.map((m) => m.siteId)}::text[], ${matches.map((m) => m.eventId)}::text[], ${matches.map((m) => m.operationId)}::text[])
      as m(site_id, event_id, operation_id)
    where e.site_id = m.site_id and e.event_id = m.event_id`.execute(tx);
}

/** Deletes events received more than `retentionDays` ago; returns how many. */
export async function deleteSiteEventsOlderThan(db: Db, retentionDays: number): Promise<number> {
  const res = await sql`delete from site_events where received_at < now() - ${`${retentionDays} days`}::interval`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}
