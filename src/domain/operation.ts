import type { CarrierCode } from './carriers.ts';
import { type CarrierSnapshot, type Checkpoint, FINAL_SHIPMENT_STATUSES, type ShipmentStatus, type SubStatus } from './shipment.ts';
import type { TrackRequestBody, TrackingType } from './track-request.ts';

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
  parcel?: { carrier: CarrierCode; trackingNumber: string; trackingUrl: string };
  shipment?: ShipmentState;
  /** When the hub last saw the carrier's data change; drives TRACKING_EXPIRED. */
  lastChangeAt?: string;
  errorCode?: FailureCode;
  error?: string;
}

export interface SiteEvent {
  type: 'CARD_SHIPPED' | 'CARD_RETURNED';
  occurredAt: string;
}

export type OperationInput =
  | { kind: 'accept'; now: string }
  | { kind: 'carrier-found'; snapshot: CarrierSnapshot; now: string }
  | { kind: 'carrier-not-found'; now: string }
  | { kind: 'site-event'; event: SiteEvent; now: string }
  | { kind: 'tick'; now: string }
  | { kind: 'supersede'; now: string };

export interface Timeouts {
  notFoundAfterMs: number;
  expireAfterMs: number;
  productionTimeoutMs: number;
  returnTimeoutMs: number;
}

export interface OperationObject {
  operationId: string;
  operation: 'STANDALONE_TRACKING';
  status: OperationStatus;
  issuerId: string;
  cardId: string;
  timestamp: string;
  startTime: string;
  endTime?: string;
  sequenceNumber: number;
  details: {
    trackingType: TrackingType;
    productionSite?: string;
    status?: 'CARD_SHIPPED' | 'CARD_RETURNED';
    shipment?: ShipmentObject;
  };
  errorCode?: FailureCode;
  error?: string;
}

export interface ShipmentObject {
  carrier: CarrierCode;
  trackingNumber: string;
  status: ShipmentStatus;
  subStatus?: SubStatus;
  message: string;
  trackingUrl: string;
  estimatedDeliveryDate?: string;
  lastUpdatedAt?: string;
  lastCheckpoint?: Omit<Checkpoint, 'raw' | 'subStatus'> & { raw: Checkpoint['raw'] };
  checkpoints?: Checkpoint[];
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

function businessStatus(type: TrackingType): 'CARD_SHIPPED' | 'CARD_RETURNED' {
  return type === 'RETURN' ? 'CARD_RETURNED' : 'CARD_SHIPPED';
}

/** The operation object of CONTRACT §3.2 for the state's latest update. */
export function toOperationObject(s: OperationState, opts: { withCheckpoints?: boolean } = {}): OperationObject {
  const showBusinessStatus = s.status !== 'FAILED' && (s.trackingType === 'SHIPMENT' || s.status === 'SUCCESSFUL');
  const shipmentShown = s.trackingType === 'SHIPMENT' && s.shipment;
  return {
    operationId: s.operationId,
    operation: 'STANDALONE_TRACKING',
    status: s.status,
    issuerId: s.issuerId,
    cardId: s.cardId,
    timestamp: s.updatedAt,
    startTime: s.startTime,
    ...(s.endTime ? { endTime: s.endTime } : {}),
    sequenceNumber: s.sequenceNumber,
    details: {
      trackingType: s.trackingType,
      ...(s.request.productionSite ? { productionSite: s.request.productionSite } : {}),
      ...(showBusinessStatus ? { status: businessStatus(s.trackingType) } : {}),
      ...(shipmentShown && s.shipment ? { shipment: shipmentObject(s.shipment, opts.withCheckpoints ?? false) } : {}),
    },
    ...(s.errorCode ? { errorCode: s.errorCode, error: s.error } : {}),
  };
}

function shipmentObject(sh: ShipmentState, withCheckpoints: boolean): ShipmentObject {
  const last = sh.checkpoints.at(-1);
  return {
    carrier: sh.carrier,
    trackingNumber: sh.trackingNumber,
    status: sh.status,
    ...(sh.subStatus ? { subStatus: sh.subStatus } : {}),
    message: sh.message,
    trackingUrl: sh.trackingUrl,
    ...(sh.estimatedDeliveryDate ? { estimatedDeliveryDate: sh.estimatedDeliveryDate } : {}),
    ...(sh.lastUpdatedAt ? { lastUpdatedAt: sh.lastUpdatedAt } : {}),
    ...(last ? { lastCheckpoint: last } : {}),
    ...(withCheckpoints ? { checkpoints: sh.checkpoints } : {}),
  };
}

function checkpointKey(c: Checkpoint): string {
  return `${c.checkpointTime}|${c.raw.code}|${c.city ?? ''}|${c.raw.description}`;
}

/** Union of known and new checkpoints, oldest first: carriers repeat themselves and push out of order. */
function mergeCheckpoints(known: Checkpoint[], incoming: Checkpoint[]): Checkpoint[] {
  const byKey = new Map<string, Checkpoint>();
  for (const c of known) byKey.set(checkpointKey(c), c);
  for (const c of incoming) byKey.set(checkpointKey(c), c);
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

function elapsed(from: string, now: string): number {
  return Date.parse(now) - Date.parse(from);
}

/** When the operation times out if nothing happens, or undefined when closed. */
export function deadline(s: OperationState, t: Timeouts): string | undefined {
  if (!s.open) return undefined;
  const at = (from: string, ms: number) => new Date(Date.parse(from) + ms).toISOString();
  switch (s.trackingType) {
    case 'PRODUCTION':
      return at(s.startTime, t.productionTimeoutMs);
    case 'RETURN':
      return at(s.startTime, t.returnTimeoutMs);
    case 'SHIPMENT':
      return s.shipment ? at(s.lastChangeAt ?? s.startTime, t.expireAfterMs) : at(s.startTime, t.notFoundAfterMs);
  }
}

function onCarrierData(s: OperationState, snapshot: CarrierSnapshot, now: string, t: Timeouts): Decision {
  const parcel = s.parcel;
  if (!parcel) return nothing(s);
  if (s.trackingType === 'RETURN') {
    // The card's own shipment coming back, or the return parcel the issuer named reaching the sender.
    const returned = snapshot.status === 'RETURNED_TO_SENDER' || (s.request.trackingNumber !== undefined && snapshot.status === 'DELIVERED');
    // Not back yet: the deadline still runs (a carrier that keeps answering must not hold it off).
    return returned ? emit(s, now, { status: 'SUCCESSFUL', open: false, endTime: now }) : onTick(s, now, t);
  }
  const merged: ShipmentState = {
    carrier: parcel.carrier,
    trackingNumber: parcel.trackingNumber,
    trackingUrl: parcel.trackingUrl,
    status: snapshot.status,
    ...(snapshot.subStatus ? { subStatus: snapshot.subStatus } : {}),
    message: snapshot.message,
    ...(snapshot.estimatedDeliveryDate ? { estimatedDeliveryDate: snapshot.estimatedDeliveryDate } : {}),
    checkpoints: mergeCheckpoints(s.shipment?.checkpoints ?? [], snapshot.checkpoints),
  };
  const newest = merged.checkpoints.at(-1)?.checkpointTime;
  const lastUpdatedAt = [newest, snapshot.lastUpdatedAt].filter(Boolean).sort().at(-1);
  if (lastUpdatedAt) merged.lastUpdatedAt = lastUpdatedAt;
  // Nothing new: only the deadline may act (TRACKING_EXPIRED counts from the last change, not the last poll).
  if (fingerprint(merged) === fingerprint(s.shipment)) return onTick(s, now, t);
  const final = FINAL_SHIPMENT_STATUSES.has(merged.status);
  return emit(s, now, {
    status: 'SUCCESSFUL',
    shipment: merged,
    lastChangeAt: now,
    ...(final ? { open: false, endTime: now } : {}),
  });
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
    case 'carrier-found':
      return onCarrierData(s, input.snapshot, input.now, t);
    case 'carrier-not-found':
      // Not knowing a number yet is normal for a day or two; only the deadline turns it into a failure.
      return s.shipment ? nothing(s) : onTick(s, input.now, t);
    case 'tick':
      return onTick(s, input.now, t);
    case 'site-event': {
      const wanted = s.trackingType === 'PRODUCTION' ? 'CARD_SHIPPED' : s.trackingType === 'RETURN' ? 'CARD_RETURNED' : undefined;
      if (input.event.type !== wanted) return nothing(s);
      return emit(s, input.now, { status: 'SUCCESSFUL', open: false, endTime: input.now });
    }
  }
}
