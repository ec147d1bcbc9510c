import type { ErrorCode } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import type { OperationState } from '../domain/operation.ts';
import type { TrackRequestBody } from '../domain/track-request.ts';
import { requestHash } from '../domain/track-request.ts';
import { acceptInTransaction, type Prepared } from '../operations/accept.ts';
import type { HubContext } from '../operations/context.ts';
import { EVENT_RETENTION_DAYS, expectedMatches, matchNewEvents, siteMayReport } from '../operations/matching.ts';
import type { Db } from '../store/db.ts';
import { autoTrackingIssuers } from '../store/issuers.ts';
import { lockCards, openSiteOperations } from '../store/operations.ts';
import { siteCarriers } from '../store/production-sites.ts';
import { deleteSiteEventsOlderThan, insertSiteEvents, type StoredEvent } from '../store/site-events.ts';
import type { SiteEventInput } from './events.ts';

export interface IngestCounts {
  accepted: number;
  duplicates: number;
}

/** An event the store refused after validation; `index` is its place in the list given to ingestEvents. */
export interface IngestRejection {
  index: number;
  errorCode: ErrorCode;
  error: string;
}

export interface IngestResult extends IngestCounts {
  rejected: IngestRejection[];
}

const cardKey = (issuerId: string, cardId: string) => `${issuerId}|${cardId}`;

/** Whether a store error is PostgreSQL refusing a value (a data exception, a constraint, a size limit). */
function refusedValue(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code) ? code : undefined;
}

interface Kicks {
  delivery: boolean;
  polling: boolean;
}

/**
 * Stores a batch of validated site events in ONE transaction, whatever its size: one read (and lock)
 * of the cards' open PRODUCTION / RETURN operations, one insert of all the events (`on conflict do
 * nothing returning`: what comes back is new, the rest were duplicates), and the SHIPMENT operations
 * autoTrackShipment opens. The Site API, `trackhub sites import` and the inbox all come through here.
 * A report for a card whose open operations all name another production site is refused (returned in
 * `rejected`), not stored: that site was not asked to make the card. `inTransaction` lets a caller
 * record its own progress atomically with the events (the inbox's per-file counts).
 *
 * Validation should leave nothing the store refuses; if the store refuses the batch anyway (a value
 * validation missed), the batch is stored again in halves under savepoints down to single events, so
 * each one it refuses is rejected alone and the others are kept: one bad line never takes its chunk down, and
 * an inbox file never sticks in processing/ on it. Other store errors (connection, deadlock) are thrown.
 */
export async function ingestEvents(
  ctx: HubContext,
  siteId: string,
  events: SiteEventInput[],
  inTransaction?: (tx: Db, result: IngestResult) => Promise<void>,
): Promise<IngestResult> {
  const kicks: Kicks = { delivery: false, polling: false };
  let result: IngestResult;
  try {
    result = await ctx.db.transaction().execute(async (tx) => {
      const out = await ingestInTransaction(ctx, tx, siteId, events, kicks);
      await inTransaction?.(tx, out);
      return out;
    });
  } catch (err) {
    const code = refusedValue(err);
    if (!code) throw err;
    ctx.log.warn({ siteId, events: events.length, sqlState: code }, 'the store refused a batch of site events; storing it in parts to find the refused ones');
    kicks.delivery = false;
    kicks.polling = false;
    result = await ingestSplitting(ctx, siteId, events, kicks, inTransaction);
  }
  if (kicks.delivery) ctx.kickDelivery();
  if (kicks.polling) ctx.kickPolling();
  return result;
}

/**
 * The fallback of ingestEvents, in one transaction: the batch is halved under savepoints until each
 * part the store takes is stored and each event it refuses stands alone (about 2 log2(n) tries for one
 * bad event in n, instead of n). Events keep their order, so a resend later in the batch is still the
 * duplicate.
 */
async function ingestSplitting(
  ctx: HubContext,
  siteId: string,
  events: SiteEventInput[],
  kicks: Kicks,
  inTransaction?: (tx: Db, result: IngestResult) => Promise<void>,
): Promise<IngestResult> {
  const trx = await ctx.db.startTransaction().execute();
  const out: IngestResult = { accepted: 0, duplicates: 0, rejected: [] };
  const store = async (part: SiteEventInput[], offset: number): Promise<void> => {
    const sp = await trx.savepoint('site_events_part').execute();
    try {
      const stored = await ingestInTransaction(ctx, sp, siteId, part, kicks);
      await sp.releaseSavepoint('site_events_part').execute();
      out.accepted += stored.accepted;
      out.duplicates += stored.duplicates;
      for (const r of stored.rejected) out.rejected.push({ ...r, index: offset + r.index });
      return;
    } catch (err) {
      const code = refusedValue(err);
      if (!code) throw err;
      await sp.rollbackToSavepoint('site_events_part').execute();
      await sp.releaseSavepoint('site_events_part').execute();
      if (part.length === 1) {
        out.rejected.push({ index: offset, errorCode: 'FIELD_INVALID_VALUE', error: `event: the store refused a value of this event (SQLSTATE ${code})` });
        return;
      }
    }
    const half = Math.ceil(part.length / 2);
    await store(part.slice(0, half), offset);
    await store(part.slice(half), offset + half);
  };
  try {
    await store(events, 0);
    out.rejected.sort((a, b) => a.index - b.index);
    await inTransaction?.(trx, out);
    await trx.commit().execute();
    return out;
  } catch (err) {
    await trx.rollback().execute().catch(() => {});
    throw err;
  }
}

async function ingestInTransaction(ctx: HubContext, tx: Db, siteId: string, events: SiteEventInput[], kicks: Kicks): Promise<IngestResult> {
  let accepted = 0;
  const rejected: IngestRejection[] = [];
  if (events.length > 0) {
    await lockCards(tx, events);
    const cards = [...new Map(events.map((e) => [cardKey(e.issuerId, e.cardId), e])).values()];
    const open = await openSiteOperations(tx, cards);
    const openByCard = new Map<string, OperationState[]>();
    for (const s of open) {
      const list = openByCard.get(cardKey(s.issuerId, s.cardId)) ?? [];
      list.push(s);
      openByCard.set(cardKey(s.issuerId, s.cardId), list);
    }
    // A resend inside one batch is a duplicate too: keep the first of each eventId.
    const seen = new Set<string>();
    const list: SiteEventInput[] = [];
    events.forEach((e, index) => {
      const ops = openByCard.get(cardKey(e.issuerId, e.cardId)) ?? [];
      if (ops.length > 0 && ops.every((s) => !siteMayReport(s, siteId))) {
        rejected.push({ index, errorCode: 'FIELD_INVALID_VALUE', error: 'cardId: the card is tracked with another production site' });
      } else if (!seen.has(e.eventId)) {
        seen.add(e.eventId);
        list.push(e);
      }
    });
    if (list.length > 0) {
      const inserted = await insertSiteEvents(tx, siteId, list, expectedMatches(siteId, list, open));
      accepted = inserted.length;
      const now = ctx.now();
      const matched = await matchNewEvents(ctx, tx, siteId, inserted, open, now);
      const opened = await autoTrackShipments(ctx, tx, siteId, inserted, openByCard);
      if (matched.notifications > 0 || opened > 0) kicks.delivery = true;
      if (matched.parcels > 0 || opened > 0) kicks.polling = true;
    }
  }
  return { accepted, duplicates: events.length - rejected.length - accepted, rejected };
}

/**
 * docs/contract.md §4: a CARD_SHIPPED report with a tracking number opens a SHIPMENT operation when the issuer
 * has autoTrackShipment on, through the same accept code as an issuer's own request (so its PENDING
 * is sent). It only fills a gap: a card with an open SHIPMENT keeps it (the issuer's own request, with
 * its countryCode or carrier, must not be superseded by a report), and a card whose open PRODUCTION /
 * RETURN names another site gets none from this site. Numbers no carrier rule fits and that come
 * without a carrier are left alone: there is nothing to poll.
 */
async function autoTrackShipments(ctx: HubContext, tx: Db, siteId: string, inserted: StoredEvent[], openByCard: Map<string, OperationState[]>): Promise<number> {
  const shipped = inserted.filter((e) => e.type === 'CARD_SHIPPED' && e.tracking_number);
  if (shipped.length === 0) return 0;
  const issuerIds = [...new Set(shipped.map((e) => e.issuer_id))];
  const auto = await autoTrackingIssuers(tx, issuerIds);
  if (auto.length === 0) return 0;
  const autoIssuers = new Set(auto);
  const usual = (await siteCarriers(tx, siteId)) ?? [];
  // One request per card: the batch's keys must be distinct, and the newest report wins.
  const byCard = new Map<string, Prepared>();
  for (const e of shipped) {
    if (!autoIssuers.has(e.issuer_id)) continue;
    if ((openByCard.get(cardKey(e.issuer_id, e.card_id)) ?? []).some((s) => !siteMayReport(s, siteId))) continue;
    const trackingNumber = e.tracking_number as string;
    const carrier = (e.carrier as TrackRequestBody['carrier']) ?? ctx.detect(trackingNumber, { siteCarriers: usual })[0];
    if (!carrier) {
      ctx.log.warn({ siteId, eventId: e.event_id }, 'autoTrackShipment: the tracking number fits no carrier and the report names none');
      continue;
    }
    const body: TrackRequestBody = { trackingType: 'SHIPMENT', trackingNumber, carrier, productionSite: siteId };
    byCard.set(cardKey(e.issuer_id, e.card_id), {
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
  const results = await acceptInTransaction(ctx, tx, [...byCard.values()], { keepOpen: true });
  return results.filter((r) => r.created).length;
}

/** Deletes reports older than the retention period (docs/contract.md §4: kept 180 days). */
export async function pruneSiteEvents(db: Db): Promise<number> {
  return deleteSiteEventsOlderThan(db, EVENT_RETENTION_DAYS);
}
