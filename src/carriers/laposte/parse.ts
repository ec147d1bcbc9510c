import type { CarrierCode } from '../../domain/carriers.ts';
import type { CarrierSnapshot, Checkpoint, TrackResult } from '../../domain/shipment.ts';
import { isObject, nonEmpty, objects, oldestFirst, readSafely, withSub } from '../parse-util.ts';
import type { TrackRequest } from '../provider.ts';
import { toUtcIso } from '../time.ts';
import { LAPOSTE_NOT_FOUND_CODES, laposteRow } from './statuses.ts';
import { withTimeline } from './timeline.ts';

// Only the fields we read (the La Poste Suivi v2 API documentation).
interface LaPosteEvent {
  code?: string;
  label?: string;
  date?: string;
}
interface LaPosteShipment {
  idShip?: string;
  product?: string;
  isFinal?: boolean;
  deliveryDate?: string;
  estimDate?: string;
  event?: LaPosteEvent[];
  timeline?: unknown[];
  contextData?: { originCountry?: string; arrivalCountry?: string };
}
export interface LaPosteItem {
  returnCode?: number;
  returnMessage?: string;
  idShip?: string;
  shipment?: LaPosteShipment;
}
/** `/idships/{id}` answers with one object, `/idships/{id1,id2}` with an array of them. */
export type LaPosteResponse = LaPosteItem | LaPosteItem[];

function toCheckpoint(e: LaPosteEvent, s: LaPosteShipment): Checkpoint | undefined {
  // Events carry an offset; a bare local time would be French wall clock for the origin country.
  const time = toUtcIso(e.date, { countryCode: nonEmpty(s.contextData?.originCountry) ?? 'FR' });
  if (!time) return undefined;
  const code = nonEmpty(e.code);
  const description = nonEmpty(e.label) ?? '';
  const row = laposteRow(code, description);
  return {
    checkpointTime: time,
    message: description,
    status: row.status,
    ...withSub(row.subStatus),
    raw: { code: code ?? '', description },
  };
}

function toSnapshot(carrier: CarrierCode, trackingNumber: string, s: LaPosteShipment): CarrierSnapshot {
  // Suivi v2 lists `event[]` newest first (the La Poste Suivi v2 API documentation).
  const events = oldestFirst(objects<LaPosteEvent>(s.event).map((e) => toCheckpoint(e, s)), 'newest-first');
  const checkpoints = withTimeline(events, s.timeline, nonEmpty(s.contextData?.originCountry) ?? 'FR');
  const newest = checkpoints.at(-1);
  // Events decide the status and its text; a timeline stage only adds a place and a time (timeline.ts).
  const decider = events.at(-1) ?? newest;
  const status = decider?.status ?? 'PENDING';
  const edd = status === 'DELIVERED' || s.isFinal ? undefined : toUtcIso(s.estimDate, { countryCode: 'FR' });
  return {
    carrier,
    trackingNumber,
    status,
    ...withSub(decider?.subStatus),
    message: decider?.message ?? 'No scans yet',
    ...(edd ? { estimatedDeliveryDate: edd } : {}),
    ...(newest ? { lastUpdatedAt: newest.checkpointTime } : {}),
    checkpoints,
  };
}

function itemResult(item: LaPosteItem, requested: string, carrier: CarrierCode): TrackResult {
  const code = typeof item.returnCode === 'number' ? item.returnCode : 200;
  if (isObject(item.shipment) && (code === 200 || code === 207)) {
    return { kind: 'found', snapshot: toSnapshot(carrier, requested, item.shipment) };
  }
  const message = `${code}: ${nonEmpty(item.returnMessage) ?? 'La Poste error'}`;
  if (LAPOSTE_NOT_FOUND_CODES.has(code) || code === 200) return { kind: 'not_found', message };
  return { kind: 'error', retryable: code === 429 || code >= 500, message };
}

/**
 * Reads a Suivi v2 body. Success or failure is per item in `returnCode`, inside an HTTP answer that may
 * itself be 200 or 207.
 */
export function parseLaPosteResponse(body: LaPosteResponse, requested: string, carrier: CarrierCode): TrackResult {
  return readSafely('La Poste', () => readResponse(body, requested, carrier));
}

function readResponse(body: LaPosteResponse, requested: string, carrier: CarrierCode): TrackResult {
  const items = objects<LaPosteItem>(Array.isArray(body) ? body : [body]);
  const match = (i: LaPosteItem) => (nonEmpty(i.shipment?.idShip) ?? nonEmpty(i.idShip))?.toUpperCase() === requested.toUpperCase();
  const item = items.find(match) ?? (items.length === 1 ? items[0] : undefined);
  if (!item) return { kind: 'not_found', message: 'La Poste returned nothing for this number' };
  return itemResult(item, requested, carrier);
}

/** Most ids one `/idships/{id1,…}` call may name ("1 to 10, comma separated", the Suivi v2 Swagger). */
export const LAPOSTE_MAX_IDS = 10;

/**
 * Reads the answer to `/idships/{id1,…,idN}`: an array with one item per id, each with its own
 * `returnCode`; the HTTP status is 207 when they differ. One id keeps the single-number reading (its answer
 * may be a bare object that names no id). With several, an id no item names gets an error to retry: the
 * answer said nothing about it, so it is not "not found". A bare error object naming one of the ids is about
 * that id; naming none, it is a failure of the whole call, the same for every id.
 */
export function parseLaPosteBatch(body: LaPosteResponse, requested: TrackRequest[]): Map<string, TrackResult> {
  if (requested.length === 1) {
    const [r] = requested;
    return new Map([[r.trackingNumber, parseLaPosteResponse(body, r.trackingNumber, r.carrier)]]);
  }
  const items = objects<LaPosteItem>(Array.isArray(body) ? body : [body]);
  const idOf = (i: LaPosteItem) => (nonEmpty(i.shipment?.idShip) ?? nonEmpty(i.idShip))?.toUpperCase();
  const namesOne = items.some((i) => requested.some((r) => idOf(i) === r.trackingNumber.toUpperCase()));
  const whole = Array.isArray(body) || namesOne ? undefined : wholeCallFailure(items[0]);
  const results = new Map<string, TrackResult>();
  for (const r of requested) {
    const item = items.find((i) => idOf(i) === r.trackingNumber.toUpperCase());
    results.set(
      r.trackingNumber,
      item
        ? readSafely('La Poste', () => itemResult(item, r.trackingNumber, r.carrier))
        : (whole ?? { kind: 'error', retryable: true, message: 'La Poste left this number out of its answer' }),
    );
  }
  return results;
}

/** A bare object answering several ids, naming none of them: its code is about the call, not a number. */
function wholeCallFailure(item: LaPosteItem | undefined): TrackResult | undefined {
  const code = typeof item?.returnCode === 'number' ? item.returnCode : undefined;
  if (code === undefined || code === 200 || code === 207) return undefined;
  return { kind: 'error', retryable: code === 429 || code >= 500, message: `La Poste refused the call: ${code}: ${nonEmpty(item?.returnMessage) ?? 'error'}` };
}
