import type { CarrierCode } from '../../domain/carriers.ts';
import type { CarrierSnapshot, Checkpoint, TrackResult } from '../../domain/shipment.ts';
import { isObject, lookupStatus, nonEmpty, objects, oldestFirst, readSafely, withSub } from '../parse-util.ts';
import { toUtcIso } from '../time.ts';
import { LAPOSTE_EVENT_CODES, LAPOSTE_NOT_FOUND_CODES } from './statuses.ts';

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
  const row = lookupStatus('laposte', LAPOSTE_EVENT_CODES, code, { status: 'IN_TRANSIT' }, description);
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
  const checkpoints = oldestFirst(objects<LaPosteEvent>(s.event).map((e) => toCheckpoint(e, s)), 'newest-first');
  const newest = checkpoints.at(-1);
  const status = newest?.status ?? 'PENDING';
  const edd = status === 'DELIVERED' || s.isFinal ? undefined : toUtcIso(s.estimDate, { countryCode: 'FR' });
  return {
    carrier,
    trackingNumber,
    status,
    ...withSub(newest?.subStatus),
    message: newest?.message ?? 'No scans yet',
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
