import type { CarrierCode } from '../domain/carriers.ts';
import { isCarrierCode } from '../domain/carriers.ts';
import { type Decision, decide, type OperationState } from '../domain/operation.ts';
import type { Db } from '../store/db.ts';
import { saveDecisions } from '../store/operation-decisions.ts';
import { latestShipmentParcels } from '../store/operations.ts';
import { siteCarriers } from '../store/production-sites.ts';
import { markSiteEventsMatched, recentSiteEvents, type StoredEvent } from '../store/site-events.ts';
import type { HubContext } from './context.ts';

/**
 * Matching production-site reports with PRODUCTION and RETURN operations (docs/contract.md §3.3, §4), from both
 * sides: an event that arrives finds the card's open operation; a request that arrives finds the events
 * that waited for it. Both sides take the same per-card advisory locks first, so on PostgreSQL an event
 * and a request committed at the same moment cannot each miss the other.
 */

/** How long an event waits for its track request (docs/contract.md §4). */
export const EVENT_RETENTION_DAYS = 180;

type Parcel = NonNullable<OperationState['parcel']>;

const WANTED: Record<string, StoredEvent['type'] | undefined> = { PRODUCTION: 'CARD_SHIPPED', RETURN: 'CARD_RETURNED' };

/**
 * A request that names its production site listens to that site only: another bureau cannot complete
 * (or spoof) a card it was not asked to make. Without productionSite, any registered site may report it.
 */
export function siteMayReport(s: OperationState, siteId: string): boolean {
  return s.request.productionSite === undefined || s.request.productionSite === siteId;
}

const cardKey = (issuerId: string, cardId: string) => `${issuerId}|${cardId}`;

function occurredAt(e: StoredEvent): string {
  return e.occurred_at instanceof Date ? e.occurred_at.toISOString() : new Date(e.occurred_at).toISOString();
}

/** Resolves the carrier of a reported parcel: the site's word, else detection with the site's usual carriers. */
class CarrierResolver {
  private siteCarriers = new Map<string, CarrierCode[]>();
  constructor(
    private readonly ctx: HubContext,
    private readonly tx: Db,
  ) {}

  async parcel(trackingNumber: string, carrier: string | null, siteId: string | undefined): Promise<Parcel | undefined> {
    let code: CarrierCode | undefined = isCarrierCode(carrier) ? carrier : undefined;
    if (!code) {
      let usual: CarrierCode[] | undefined;
      if (siteId) {
        usual = this.siteCarriers.get(siteId);
        if (!usual) {
          usual = (await siteCarriers(this.tx, siteId)) ?? [];
          this.siteCarriers.set(siteId, usual);
        }
      }
      code = this.ctx.detect(trackingNumber, { siteCarriers: usual })[0];
    }
    if (!code) return undefined;
    return { carrier: code, trackingNumber, trackingUrl: this.ctx.trackingUrl(code, trackingNumber) };
  }
}

/** The card's outbound parcel as a SHIPMENT operation knew it, newest first; for RETURNs without one. */
async function shipmentParcels(ctx: HubContext, tx: Db, cards: { issuerId: string; cardId: string }[]): Promise<Map<string, Parcel>> {
  const out = new Map<string, Parcel>();
  if (cards.length === 0) return out;
  for (const r of await latestShipmentParcels(tx, cards)) {
    if (!isCarrierCode(r.carrier)) continue;
    out.set(cardKey(r.issuer_id, r.card_id), { carrier: r.carrier, trackingNumber: r.tracking_number, trackingUrl: ctx.trackingUrl(r.carrier, r.tracking_number) });
  }
  return out;
}

/**
 * At accept time: new PRODUCTION / RETURN operations look for reports that came first (kept 180 days).
 * A matching report completes the operation before it is even stored; a RETURN without a return parcel
 * gets the card's shipment parcel (from a CARD_SHIPPED report, else an earlier SHIPMENT) and is polled.
 * Mutates `inserts` in place: their decisions and wake-up times.
 */
export async function matchWaitingSiteEvents(
  ctx: HubContext,
  tx: Db,
  inserts: { decision: Decision; wakeAt: Date | null }[],
  now: Date,
): Promise<void> {
  const waiting = inserts.filter((i) => i.decision.state.trackingType !== 'SHIPMENT');
  if (waiting.length === 0) return;
  const cards = waiting.map((i) => ({ issuerId: i.decision.state.issuerId, cardId: i.decision.state.cardId }));
  const events = await recentSiteEvents(tx, cards, EVENT_RETENTION_DAYS);
  const byCard = eventsByCard(events);
  const nowIso = now.toISOString();
  const matches: { siteId: string; eventId: string; operationId: string }[] = [];
  const resolver = new CarrierResolver(ctx, tx);
  const needParcel: typeof waiting = [];
  for (const item of waiting) {
    const s = item.decision.state;
    const mine = (byCard.get(cardKey(s.issuerId, s.cardId)) ?? []).filter((e) => siteMayReport(s, e.site_id));
    // The oldest unused report completes the operation; each report completes at most one operation.
    const report = mine.filter((e) => e.type === WANTED[s.trackingType] && !e.matched_operation_id).at(-1);
    if (report) {
      const done = decide(s, { kind: 'site-event', event: { type: report.type, occurredAt: occurredAt(report), siteId: report.site_id }, now: nowIso }, ctx.policy);
      item.decision = { state: done.state, notifications: [...item.decision.notifications, ...done.notifications] };
      item.wakeAt = null;
      report.matched_operation_id = s.operationId;
      matches.push({ siteId: report.site_id, eventId: report.event_id, operationId: s.operationId });
      continue;
    }
    if (s.trackingType !== 'RETURN' || s.parcel) continue;
    const shipped = mine.find((e) => e.type === 'CARD_SHIPPED' && e.tracking_number);
    const parcel = shipped ? await resolver.parcel(shipped.tracking_number as string, shipped.carrier, shipped.site_id) : undefined;
    if (parcel) equip(item, parcel, now);
    else needParcel.push(item);
  }
  if (needParcel.length > 0) {
    const known = await shipmentParcels(
      ctx,
      tx,
      needParcel.map((i) => ({ issuerId: i.decision.state.issuerId, cardId: i.decision.state.cardId })),
    );
    for (const item of needParcel) {
      const parcel = known.get(cardKey(item.decision.state.issuerId, item.decision.state.cardId));
      if (parcel) equip(item, parcel, now);
    }
  }
  await markSiteEventsMatched(tx, matches);
}

/** Gives a RETURN the parcel to watch and wakes it for its first poll now. */
function equip(item: { decision: Decision; wakeAt: Date | null }, parcel: Parcel, now: Date): void {
  item.decision = { ...item.decision, state: { ...item.decision.state, parcel } };
  item.wakeAt = now;
}

/**
 * Before new events are stored: the operation each would complete if it proves new (not a resend), so
 * the event is written with it (insertSiteEvents); matchNewEvents corrects what the insert proves wrong.
 * The same rule as matchNewEvents: of an operation's card, the first report of the type it waits for.
 */
export function expectedMatches(siteId: string, events: { eventId: string; issuerId: string; cardId: string; type: string }[], open: OperationState[]): Map<string, string> {
  const out = new Map<string, string>();
  if (open.length === 0) return out;
  const waiting = new Map<string, OperationState[]>();
  for (const s of open) {
    if (!siteMayReport(s, siteId) || !WANTED[s.trackingType]) continue;
    const key = cardKey(s.issuerId, s.cardId);
    waiting.set(key, [...(waiting.get(key) ?? []), s]);
  }
  const taken = new Set<string>();
  for (const e of events) {
    for (const s of waiting.get(cardKey(e.issuerId, e.cardId)) ?? []) {
      if (WANTED[s.trackingType] !== e.type || taken.has(s.operationId)) continue;
      taken.add(s.operationId);
      out.set(e.eventId, s.operationId);
    }
  }
  return out;
}

/**
 * When events arrive: each of the cards' open PRODUCTION / RETURN operations (`open`, from
 * openSiteOperations) a new report completes is decided and saved; RETURNs waiting for a parcel get
 * the one a CARD_SHIPPED report names. Returns how many notifications were queued and parcels given.
 */
export async function matchNewEvents(ctx: HubContext, tx: Db, siteId: string, inserted: StoredEvent[], open: OperationState[], now: Date): Promise<{ notifications: number; parcels: number }> {
  let notifications = 0;
  let parcels = 0;
  if (inserted.length === 0 || open.length === 0) return { notifications, parcels };
  const byCard = eventsByCard(inserted);
  const nowIso = now.toISOString();
  const matches: { siteId: string; eventId: string; operationId: string }[] = [];
  // Decided one by one here, written all at once below: a statement per operation made matching cost
  // ×20 what storing the events did (bench/import.ts, issue 13).
  const saves: { decision: Decision; wakeAt: Date | null }[] = [];
  const resolver = new CarrierResolver(ctx, tx);
  for (const s of open) {
    if (!siteMayReport(s, siteId)) continue;
    const mine = byCard.get(cardKey(s.issuerId, s.cardId)) ?? [];
    const report = mine.find((e) => e.type === WANTED[s.trackingType]);
    if (report) {
      const d = decide(s, { kind: 'site-event', event: { type: report.type, occurredAt: occurredAt(report), siteId }, now: nowIso }, ctx.policy);
      saves.push({ decision: d, wakeAt: null });
      notifications += d.notifications.length;
      matches.push({ siteId, eventId: report.event_id, operationId: s.operationId });
      continue;
    }
    if (s.trackingType !== 'RETURN' || s.parcel) continue;
    const shipped = mine.find((e) => e.type === 'CARD_SHIPPED' && e.tracking_number);
    const parcel = shipped ? await resolver.parcel(shipped.tracking_number as string, shipped.carrier, siteId) : undefined;
    if (!parcel) continue;
    saves.push({ decision: { state: { ...s, parcel }, notifications: [] }, wakeAt: now });
    parcels++;
  }
  await saveDecisions(tx, saves);
  // Events were stored with the operation expected (expectedMatches): only what differs is written again.
  const completes = new Map(matches.map((m) => [m.eventId, m.operationId]));
  const corrections = inserted
    .filter((e) => (e.matched_operation_id ?? null) !== (completes.get(e.event_id) ?? null))
    .map((e) => ({ siteId, eventId: e.event_id, operationId: completes.get(e.event_id) ?? null }));
  await markSiteEventsMatched(tx, corrections);
  return { notifications, parcels };
}

/** Site events grouped by card (`cardKey`), in the order given. */
function eventsByCard(events: StoredEvent[]): Map<string, StoredEvent[]> {
  const byCard = new Map<string, StoredEvent[]>();
  for (const e of events) {
    const key = cardKey(e.issuer_id, e.card_id);
    const list = byCard.get(key);
    if (list) list.push(e);
    else byCard.set(key, [e]);
  }
  return byCard;
}
