import type { CarrierCode } from './carriers.ts';
import { type CarrierAnswers, carrierConfirms, deadline, recordAnswer, type Timeouts } from './deadlines.ts';
import { type OperationObject, toOperationObject } from './operation-view.ts';
import { type CarrierSnapshot, type Checkpoint, FINAL_SHIPMENT_STATUSES, PRE_PICKUP_STATUSES, type ShipmentStatus, type SubStatus } from './shipment.ts';
import type { TrackingType, TrackRequestBody } from './track-request.ts';

/**
 * The heart of the hub: a pure state machine. Given an operation's state and one input it returns the new
 * state and the operation objects to notify. No clock, no I/O: `now` comes in with every input.
 */

export type OperationStatus = 'PENDING' | 'SUCCESSFUL' | 'FAILED';
export type FailureCode =
  | 'SUPERSEDED'
  | 'TRACKING_NUMBER_NOT_FOUND'
  | 'TRACKING_EXPIRED'
  | 'PRODUCTION_TIMEOUT'
  | 'RETURN_TIMEOUT';

export interface ShipmentState {
  carrier: CarrierCode;
  trackingNumber: string;
  trackingUrl: string;
  status: ShipmentStatus;
  subStatus?: SubStatus;
  message: string;
  estimatedDeliveryDate?: string;
  lastUpdatedAt?: string;
  checkpoints: Checkpoint[];
}

export interface OperationState {
  operationId: string;
  issuerId: string;
  cardId: string;
  trackingType: TrackingType;
  correlationId: string;
  request: TrackRequestBody;
  status: OperationStatus;
  open: boolean;
  startTime: string;
  endTime?: string;
  /** Time of the newest produced update; what on-demand reads report as `timestamp`. */
  updatedAt: string;
  sequenceNumber: number;
  /** Where the carrier data comes from (SHIPMENT, or RETURN with a return parcel). */
  parcel?: Parcel;
  shipment?: ShipmentState;
  /** When the hub last saw the carrier's data change; drives TRACKING_EXPIRED. */
  lastChangeAt?: string;
  errorCode?: FailureCode;
  error?: string;
  /** The site whose report completed a request that named none: docs/contract.md §3.2 shows it "when known". */
  productionSite?: string;
  /** What carriers answered when asked: the evidence TRACKING_NUMBER_NOT_FOUND and TRACKING_EXPIRED need. */
  answers?: CarrierAnswers;
}

export interface Parcel {
  carrier: CarrierCode;
  trackingNumber: string;
  trackingUrl: string;
  /**
   * When detection found several carriers for the number (best first) and none has known it yet: each
   * "not found" moves the parcel to the next one, round and round until one knows it or the not-found
   * deadline passes. Dropped as soon as a carrier knows the number: the operation sticks with it.
   */
  candidates?: { carrier: CarrierCode; trackingUrl: string }[];
  /** The provider whose view of the parcel the checkpoints are (TRACKHUB_CARRIER_ROUTES). */
  provider?: string;
  /** When the newest carrier push for this parcel was accepted: while pushes flow, polling is a safety net. */
  pushedAt?: string;
  /** Since when a due poll has been put off (budget, breaker): cleared by the next answer. */
  waitingSince?: string;
}

export interface SiteEvent {
  type: 'CARD_SHIPPED' | 'CARD_RETURNED';
  occurredAt: string;
  /** The production site that sent the report. */
  siteId?: string;
}

export type OperationInput =
  | { kind: 'accept'; now: string }
  /**
   * `partial`: the snapshot holds only the events a push carried (a webhook), possibly older than what
   * is known, so the status is taken from the newest known checkpoint rather than from the snapshot.
   */
  /**
   * `askedAt`: when the poll that got this answer was sent. "Asked after the deadline" means sent after it:
   * an answer received a moment after the deadline may describe the parcel as it was before.
   */
  | { kind: 'carrier-found'; snapshot: CarrierSnapshot; now: string; partial?: boolean; from?: AnsweringProvider; askedAt?: string }
  | { kind: 'carrier-not-found'; now: string; askedAt?: string }
  | { kind: 'site-event'; event: SiteEvent; now: string }
  | { kind: 'tick'; now: string }
  | { kind: 'supersede'; now: string };

/**
 * The provider that answered a poll. `preferred`: it comes before the parcel's provider in the route (the
 * primary answering a parcel the fallback had been serving).
 */
export interface AnsweringProvider {
  name: string;
  preferred: boolean;
}

export interface Decision {
  state: OperationState;
  notifications: OperationObject[];
}

export function newOperation(init: {
  operationId: string;
  issuerId: string;
  cardId: string;
  correlationId: string;
  request: TrackRequestBody;
  parcel?: OperationState['parcel'];
  now: string;
}): OperationState {
  return {
    operationId: init.operationId,
    issuerId: init.issuerId,
    cardId: init.cardId,
    trackingType: init.request.trackingType,
    correlationId: init.correlationId,
    request: init.request,
    status: 'PENDING',
    open: true,
    startTime: init.now,
    updatedAt: init.now,
    sequenceNumber: 0,
    ...(init.parcel ? { parcel: init.parcel } : {}),
  };
}

const FAILURE_TEXT: Record<FailureCode, string> = {
  SUPERSEDED: 'A newer track request for this card and tracking type replaced this operation',
  TRACKING_NUMBER_NOT_FOUND: 'No carrier knew the tracking number in time',
  TRACKING_EXPIRED: 'The carrier sent no update for too long',
  PRODUCTION_TIMEOUT: 'The production site did not report the card shipped in time',
  RETURN_TIMEOUT: 'No return of the card was reported in time',
};

function checkpointKey(c: Checkpoint): string {
  return `${c.checkpointTime}|${c.raw.code}|${c.city ?? ''}|${c.raw.description}`;
}

/**
 * Union of known and new checkpoints, oldest first: carriers repeat themselves and push out of order.
 * Events at the same instant keep the incoming order (the parsers give it oldest first): a polled answer
 * is the carrier's whole history, so its order wins over what we knew; a push carries a few events, so
 * the known order stays and its new events come after known ones of the same instant.
 */
function mergeCheckpoints(known: Checkpoint[], incoming: Checkpoint[], partial: boolean): Checkpoint[] {
  const byKey = new Map<string, Checkpoint>();
  const incomingKeys = new Set(incoming.map(checkpointKey));
  for (const c of known) if (partial || !incomingKeys.has(checkpointKey(c))) byKey.set(checkpointKey(c), c);
  // Setting an existing key keeps its place: a repeated event takes the newer reading, not a new position.
  for (const c of incoming) byKey.set(checkpointKey(c), c);
  // Array sort is stable, so equal times stay in the order just built.
  return [...byKey.values()].sort((a, b) => a.checkpointTime.localeCompare(b.checkpointTime));
}

/** What an issuer would call "new": status, reason, estimated delivery, or a checkpoint. */
function fingerprint(sh: ShipmentState | undefined): string {
  if (!sh) return '';
  return JSON.stringify([sh.status, sh.subStatus, sh.estimatedDeliveryDate, sh.checkpoints.map(checkpointKey)]);
}

function emit(state: OperationState, now: string, changes: Partial<OperationState>): Decision {
  const next: OperationState = { ...state, ...changes, sequenceNumber: state.sequenceNumber + 1, updatedAt: now };
  return { state: next, notifications: [toOperationObject(next)] };
}

function fail(state: OperationState, now: string, code: FailureCode, extra: Partial<OperationState> = {}): Decision {
  return emit(state, now, { ...extra, status: 'FAILED', open: false, endTime: now, errorCode: code, error: FAILURE_TEXT[code] });
}

const nothing = (state: OperationState): Decision => ({ state, notifications: [] });

/**
 * A parcel delivered after its return had started went back to the sender: the true end of a return,
 * whatever code the carrier uses for the final delivery scan (FedEx, UPS, USPS and DHL print a plain
 * "delivered" at the shipper's door).
 */
function settleReturn(status: ShipmentStatus, checkpoints: Checkpoint[]): ShipmentStatus {
  if (status !== 'DELIVERED') return status;
  const lastDelivery = checkpoints.map((c) => c.status).lastIndexOf('DELIVERED');
  const returnStarted = checkpoints.findIndex((c) => c.status === 'RETURNING_TO_SENDER');
  return returnStarted >= 0 && (lastDelivery < 0 || returnStarted < lastDelivery) ? 'RETURNED_TO_SENDER' : status;
}

/**
 * A carrier that answers with nothing does not know the number yet: AfterShip's "Pending" with no scans,
 * and its "Expired" with no scans (it gave up without ever getting carrier data). Either way the
 * not-found deadline must still be able to act.
 */
export function saysNothing(snapshot: CarrierSnapshot): boolean {
  return (snapshot.status === 'PENDING' || snapshot.status === 'EXPIRED') && snapshot.checkpoints.length === 0;
}

/** The newest time an answer speaks of: its newest checkpoint, else its own update time. */
function newestTime(checkpoints: Checkpoint[], lastUpdatedAt?: string): string {
  return checkpoints.map((c) => c.checkpointTime).concat(lastUpdatedAt ?? []).sort().at(-1) ?? '';
}

/**
 * Whose view of the parcel an answer from another provider than the parcel's own becomes. Two providers
 * report the same scans under their own codes and texts, so their histories are never merged: one
 * replaces the other. The provider ahead in the route (the primary, answering again after a fallback had
 * the parcel) takes over once its view is as recent as the one held (newer, or as new with the same
 * status); a provider behind it (asked because the parcel's own failed this round) only when it has a
 * scan newer than any known. Otherwise the answer counts as asked with nothing new.
 */
function takesOver(s: OperationState, snapshot: CarrierSnapshot, from: AnsweringProvider): boolean {
  const held = newestTime(s.shipment?.checkpoints ?? [], s.shipment?.lastUpdatedAt);
  const offered = newestTime(snapshot.checkpoints, snapshot.lastUpdatedAt);
  // At the same newest time, the primary takes over only when it reads the parcel the same way: a view as
  // recent but behind in status (fewer scans known) would take back what the issuer was told.
  if (from.preferred && offered === held) return snapshot.status === s.shipment?.status;
  return offered > held;
}

function onCarrierData(s: OperationState, snapshot: CarrierSnapshot, now: string, t: Timeouts, partial = false, from?: AnsweringProvider): Decision {
  const parcel = s.parcel;
  if (!parcel) return nothing(s);
  if (saysNothing(snapshot)) return onNotFound(s, now, t);
  const switching = !partial && from !== undefined && parcel.provider !== undefined && parcel.provider !== from.name;
  if (switching && !takesOver(s, snapshot, from)) return onTick(s, now, t);
  // The carrier knows the number: stop trying other candidates; remember whose view this is.
  const { candidates: _tried, ...known } = parcel;
  const provider = !partial && from && (switching || !parcel.provider) ? { provider: from.name } : {};
  const settled: OperationState = { ...s, parcel: { ...known, ...provider } };
  if (s.trackingType === 'RETURN') {
    // The card's own shipment coming back, or the return parcel the issuer named reaching the sender.
    const status = settleReturn(snapshot.status, snapshot.checkpoints);
    const returned = status === 'RETURNED_TO_SENDER' || (s.request.trackingNumber !== undefined && status === 'DELIVERED');
    return returned ? emit(settled, now, { status: 'SUCCESSFUL', open: false, endTime: now }) : onTick(settled, now, t);
  }
  // A parcel the carrier has scanned cannot go back to "label created". An answer saying so takes its
  // status from its newest scan past pickup when that is news (a carrier whose summary lags its own
  // scans); otherwise it is stale (a lagging replica, a sandbox that restarted its story): no update.
  if (!partial && s.shipment && !PRE_PICKUP_STATUSES.has(s.shipment.status) && PRE_PICKUP_STATUSES.has(snapshot.status)) {
    // News is a scan not already known (by what it is, not by its time: a delivery may share the
    // minute of the out-for-delivery scan before it).
    const known = new Set(s.shipment.checkpoints.map(checkpointKey));
    const scanned = [...snapshot.checkpoints].reverse().find((c) => !PRE_PICKUP_STATUSES.has(c.status) && !known.has(checkpointKey(c)));
    if (!scanned) return onTick(settled, now, t);
    return onCarrierData(s, { ...snapshot, status: scanned.status, subStatus: scanned.subStatus, message: scanned.message }, now, t, false, from);
  }
  // A provider taking over brings its own history in place of the other's.
  const checkpoints = mergeCheckpoints(switching ? [] : (s.shipment?.checkpoints ?? []), snapshot.checkpoints, partial);
  const newest = checkpoints.at(-1);
  // A push may carry an older event than one already known: the newest event then decides.
  const fromNewest = partial && newest && s.shipment;
  const status = settleReturn(fromNewest ? newest.status : snapshot.status, checkpoints);
  const subStatus = fromNewest ? newest.subStatus : snapshot.subStatus;
  const estimatedDeliveryDate = snapshot.estimatedDeliveryDate ?? (partial ? s.shipment?.estimatedDeliveryDate : undefined);
  const merged: ShipmentState = {
    carrier: parcel.carrier,
    trackingNumber: parcel.trackingNumber,
    trackingUrl: parcel.trackingUrl,
    status,
    ...(subStatus ? { subStatus } : {}),
    message: fromNewest ? newest.message : snapshot.message,
    ...(estimatedDeliveryDate && !FINAL_SHIPMENT_STATUSES.has(status) ? { estimatedDeliveryDate } : {}),
    checkpoints,
  };
  const lastUpdatedAt = [newest?.checkpointTime, snapshot.lastUpdatedAt, partial ? s.shipment?.lastUpdatedAt : undefined].filter(Boolean).sort().at(-1);
  if (lastUpdatedAt) merged.lastUpdatedAt = lastUpdatedAt;
  // A carrier that itself calls the history expired (AfterShip's "Expired": no news for a month) has
  // nothing more to say: the end docs/contract.md §3.3 names TRACKING_EXPIRED, not another SUCCESSFUL update.
  if (snapshot.status === 'EXPIRED') return fail(settled, now, 'TRACKING_EXPIRED', { shipment: { ...merged, status: 'EXPIRED' } });
  // Nothing new: the same answer again is no news, but the quiet clock still runs (TRACKING_EXPIRED).
  if (fingerprint(merged) === fingerprint(s.shipment)) return onTick(settled, now, t);
  const final = FINAL_SHIPMENT_STATUSES.has(merged.status);
  return emit(settled, now, {
    status: 'SUCCESSFUL',
    shipment: merged,
    lastChangeAt: now,
    ...(final ? { open: false, endTime: now } : {}),
  });
}

/** The carrier asked does not know the number (yet): try the next candidate, and let the deadline act. */
function onNotFound(s: OperationState, now: string, t: Timeouts): Decision {
  // A carrier that knew the number and now says it does not: nothing new, and the expiry may act.
  if (s.shipment) return onTick(s, now, t);
  const timedOut = onTick(s, now, t);
  if (timedOut.notifications.length > 0) return timedOut;
  const parcel = s.parcel;
  const candidates = parcel?.candidates;
  if (!parcel || !candidates || candidates.length < 2) return nothing(s);
  const at = candidates.findIndex((c) => c.carrier === parcel.carrier);
  const next = candidates[(at + 1) % candidates.length];
  // Changing which carrier is asked is not news for the issuer: no notification.
  return { state: { ...s, parcel: { ...parcel, carrier: next.carrier, trackingUrl: next.trackingUrl } }, notifications: [] };
}

function onTick(s: OperationState, now: string, t: Timeouts): Decision {
  const due = deadline(s, t);
  if (!due || Date.parse(now) < Date.parse(due)) return nothing(s);
  switch (s.trackingType) {
    case 'PRODUCTION':
      return fail(s, now, 'PRODUCTION_TIMEOUT');
    case 'RETURN':
      return fail(s, now, 'RETURN_TIMEOUT');
    case 'SHIPMENT':
      if (!carrierConfirms(s, due, t)) return nothing(s);
      if (!s.shipment) return fail(s, now, 'TRACKING_NUMBER_NOT_FOUND');
      return fail(s, now, 'TRACKING_EXPIRED', { shipment: { ...s.shipment, status: 'EXPIRED' } });
  }
}

export function decide(s: OperationState, input: OperationInput, t: Timeouts): Decision {
  if (!s.open) return nothing(s);
  switch (input.kind) {
    case 'accept':
      // SHIPMENT says "we are on it" at once; PRODUCTION and RETURN speak only when something happened.
      return s.trackingType === 'SHIPMENT' && s.sequenceNumber === 0 ? emit(s, input.now, {}) : nothing(s);
    case 'supersede':
      return fail(s, input.now, 'SUPERSEDED');
    case 'carrier-found': {
      // A push is the carrier speaking unasked: it marks the parcel as pushed, and is no answer to a poll.
      if (input.partial) {
        const pushed = s.parcel ? { ...s, parcel: { ...s.parcel, pushedAt: input.now } } : s;
        return onCarrierData(pushed, input.snapshot, input.now, t, true);
      }
      const asked = recordAnswer(s, input.askedAt ?? input.now, saysNothing(input.snapshot), t);
      return onCarrierData(asked, input.snapshot, input.now, t, false, input.from);
    }
    case 'carrier-not-found':
      // Not knowing a number yet is normal for a day or two; only the carrier's repeated word, the last
      // after the deadline, turns it into a failure.
      return onNotFound(recordAnswer(s, input.askedAt ?? input.now, true, t), input.now, t);
    case 'tick':
      return onTick(s, input.now, t);
    case 'site-event': {
      const wanted = s.trackingType === 'PRODUCTION' ? 'CARD_SHIPPED' : s.trackingType === 'RETURN' ? 'CARD_RETURNED' : undefined;
      if (input.event.type !== wanted) return nothing(s);
      const site = !s.request.productionSite && input.event.siteId ? { productionSite: input.event.siteId } : {};
      return emit(s, input.now, { status: 'SUCCESSFUL', open: false, endTime: input.now, ...site });
    }
  }
}
