import { sql } from 'kysely';
import { newId } from '../domain/ids.ts';
import type { TrackRequestBody } from '../domain/track-request.ts';
import { requestHash } from '../domain/track-request.ts';
import { acceptInTransaction, type Prepared } from '../operations/accept.ts';
import type { HubContext } from '../operations/context.ts';
import type { Db } from '../store/db.ts';
import type { SiteEventInput } from './events.ts';
import { EVENT_RETENTION_DAYS, lockCards, matchNewEvents, type StoredEvent } from './matching.ts';

export interface IngestCounts {
  accepted: number;
  duplicates: number;
}

/**
 * Stores a batch of validated site events in ONE transaction, whatever its size: one insert of all the
 * events (`on conflict do nothing returning`: what comes back is new, the rest were duplicates), one
 * read of the cards' open operations, and the SHIPMENT operations autoTrackShipment opens. The Site
 * API, `trackhub sites import` and the inbox all come through here. `inTransaction` lets a caller
 * record its own progress atomically with the events (the inbox's per-file counts).
 */
export async function ingestEvents(
  ctx: HubContext,
  siteId: string,
  events: SiteEventInput[],
  inTransaction?: (tx: Db, counts: IngestCounts) => Promise<void>,
): Promise<IngestCounts> {
  // A resend inside one batch is a duplicate too: keep the first of each eventId.
  const firstOf = new Map<string, SiteEventInput>();
  for (const e of events) if (!firstOf.has(e.eventId)) firstOf.set(e.eventId, e);
  const list = [...firstOf.values()];
  let kickPolling = false;
  let kickDelivery = false;
  const counts = await ctx.db.transaction().execute(async (tx) => {
    let accepted = 0;
    if (list.length > 0) {
      await lockCards(ctx, tx, list);
      // One JSON parameter for the whole batch: cheaper to pass and parse than a thousand rows of values.
      const inserted = await sql<StoredEvent>`
        insert into site_events (site_id, event_id, issuer_id, card_id, type, occurred_at, carrier, tracking_number, reason)
        select ${siteId}::text, "eventId", "issuerId", "cardId", type, "occurredAt", carrier, "trackingNumber", reason
        from json_to_recordset(${JSON.stringify(list)}::json) as e(
          "eventId" text, "issuerId" text, "cardId" text, type text, "occurredAt" timestamptz, carrier text, "trackingNumber" text, reason text)
        on conflict do nothing
        returning site_id, event_id, issuer_id, card_id, type, occurred_at, carrier, tracking_number`.execute(tx);
      accepted = inserted.rows.length;
      const now = ctx.now();
      const matched = await matchNewEvents(ctx, tx, siteId, inserted.rows, now);
      const opened = await autoTrackShipments(ctx, tx, siteId, inserted.rows);
      kickDelivery = matched.notifications > 0 || opened > 0;
      kickPolling = matched.parcels > 0 || opened > 0;
    }
    const result = { accepted, duplicates: events.length - accepted };
    await inTransaction?.(tx, result);
    return result;
  });
  if (kickDelivery) ctx.kickDelivery();
  if (kickPolling) ctx.kickPolling();
  return counts;
}

/**
 * CONTRACT §4: a CARD_SHIPPED report with a tracking number opens a SHIPMENT operation when the issuer
 * has autoTrackShipment on, through the same accept code as an issuer's own request (so its PENDING
 * is sent, and an identical open request is not opened twice). Numbers no carrier rule fits and that
 * come without a carrier are left alone: there is nothing to poll.
 */
async function autoTrackShipments(ctx: HubContext, tx: Db, siteId: string, inserted: StoredEvent[]): Promise<number> {
  const shipped = inserted.filter((e) => e.type === 'CARD_SHIPPED' && e.tracking_number);
  if (shipped.length === 0) return 0;
  const issuerIds = [...new Set(shipped.map((e) => e.issuer_id))];
  const auto = await sql<{ issuer_id: string }>`
    select issuer_id from issuers where auto_track_shipment and enabled and issuer_id = any(${issuerIds}::text[])`.execute(tx);
  if (auto.rows.length === 0) return 0;
  const autoIssuers = new Set(auto.rows.map((r) => r.issuer_id));
  const carriers = await tx.selectFrom('production_sites').select('carriers').where('site_id', '=', siteId).executeTakeFirst();
  const siteCarriers = (carriers?.carriers as unknown as NonNullable<TrackRequestBody['carrier']>[]) ?? [];
  // One request per card: the batch's keys must be distinct, and the newest report wins.
  const byCard = new Map<string, Prepared>();
  for (const e of shipped) {
    if (!autoIssuers.has(e.issuer_id)) continue;
    const trackingNumber = e.tracking_number as string;
    const carrier = (e.carrier as TrackRequestBody['carrier']) ?? ctx.detect(trackingNumber, { siteCarriers })[0];
    if (!carrier) {
      ctx.log.warn({ siteId, eventId: e.event_id }, 'autoTrackShipment: the tracking number fits no carrier and the report names none');
      continue;
    }
    const body: TrackRequestBody = { trackingType: 'SHIPMENT', trackingNumber, carrier, productionSite: siteId };
    byCard.set(`${e.issuer_id}|${e.card_id}`, {
      issuerId: e.issuer_id,
      cardId: e.card_id,
      correlationId: newId('corr'),
      body,
      hash: requestHash(body),
      parcel: { carrier, trackingNumber, trackingUrl: ctx.trackingUrl(carrier, trackingNumber) },
      key: `${e.issuer_id}|${e.card_id}|SHIPMENT`,
    });
  }
  if (byCard.size === 0) return 0;
  const results = await acceptInTransaction(ctx, tx, [...byCard.values()]);
  return results.filter((r) => r.created).length;
}

/** Deletes reports older than the retention period (CONTRACT §4: kept 180 days). */
export async function pruneSiteEvents(db: Db): Promise<number> {
  const res = await sql`delete from site_events where received_at < now() - ${`${EVENT_RETENTION_DAYS} days`}::interval`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}
