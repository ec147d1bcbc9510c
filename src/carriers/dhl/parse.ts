import type { CarrierCode } from '../../domain/carriers.ts';
import type { CarrierSnapshot, Checkpoint, TrackResult } from '../../domain/shipment.ts';
import { ADVERSE_STATUSES, defined, lookupStatus, nonEmpty, objects, oldestFirst, readSafely, type StatusRow, withSub } from '../parse-util.ts';
import { toUtcIso } from '../time.ts';
import { DHL_EXPRESS_TYPE_CODES, DHL_STATUS_CODES, DHL_TEXT_RULES } from './statuses.ts';

// Only the fields we read (the DHL Shipment Tracking – Unified API documentation).
interface DhlAddress {
  countryCode?: string;
  postalCode?: string;
  addressLocality?: string;
}
interface DhlEvent {
  timestamp?: string;
  location?: { address?: DhlAddress };
  statusCode?: string;
  status?: string;
  description?: string;
  remark?: string;
}
interface DhlShipment {
  id?: string | number;
  service?: string;
  origin?: { address?: DhlAddress };
  destination?: { address?: DhlAddress };
  status?: DhlEvent;
  estimatedTimeOfDelivery?: string;
  estimatedDeliveryTimeFrame?: { estimatedFrom?: string; estimatedThrough?: string };
  events?: DhlEvent[];
}
export interface DhlTrackResponse {
  shipments?: DhlShipment[];
  // problem+json (RFC 7807) on errors
  title?: string;
  detail?: string;
  status?: number;
}

/** Services whose scans are all German wall clock, so a location without a country is still in DE. */
const GERMAN_SERVICES = new Set(['parcel-de', 'post-de']);

function zoneCountry(e: DhlEvent, s: DhlShipment): string | undefined {
  const own = nonEmpty(e.location?.address?.countryCode);
  if (own) return own;
  const service = nonEmpty(s.service);
  if (service && GERMAN_SERVICES.has(service)) return 'DE';
  const from = nonEmpty(s.origin?.address?.countryCode);
  const to = nonEmpty(s.destination?.address?.countryCode);
  // A domestic shipment's scans are all in one country; an international one's could be anywhere.
  return from && from === to ? from : undefined;
}

/**
 * An Express type code in `status` refines the coarse `statusCode`, except against DHL's own exception
 * class: under `failure` a type code reading a normal status (PU, AR…) gives way to EXCEPTION, keeping its
 * sub-status (CC customs); an adverse one (BA, NH, RT, OH, CD) or a `failure` phrase says more and stays.
 */
export function dhlStatusRow(e: DhlEvent | undefined): StatusRow {
  const code = nonEmpty(e?.statusCode);
  const text = [nonEmpty(e?.status), nonEmpty(e?.description)].filter(Boolean).join(' ');
  const typeCode = nonEmpty(e?.status);
  const typeRow = typeCode && /^[A-Z]{2}$/.test(typeCode) && Object.hasOwn(DHL_EXPRESS_TYPE_CODES, typeCode) ? DHL_EXPRESS_TYPE_CODES[typeCode] : undefined;
  const rule = DHL_TEXT_RULES.find((r) => r.within.includes(code ?? '') && r.pattern.test(text));
  if (code === 'failure') {
    if (typeRow && ADVERSE_STATUSES.has(typeRow.status)) return typeRow;
    if (rule) return rule.row;
    return typeRow ? { status: 'EXCEPTION', ...withSub(typeRow.subStatus) } : DHL_STATUS_CODES.failure;
  }
  if (typeRow) return typeRow;
  const base = lookupStatus('dhl', DHL_STATUS_CODES, code, { status: 'IN_TRANSIT' }, text);
  return rule ? rule.row : base;
}

/** Countries whose name is also the name of a city in them: there the name may well be the city. */
const CITY_NAMED_COUNTRIES = new Set(['SG', 'LU', 'MC', 'HK', 'MO', 'VA', 'SM', 'GI', 'KW', 'DJ', 'PA', 'GT', 'MX']);

/** Upper-cased country names in the languages DHL writes (English, German, and neighbours'). */
const COUNTRY_NAMES = (() => {
  const names = new Set<string>();
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (const locale of ['en', 'de', 'fr', 'es', 'it', 'nl']) {
    const display = new Intl.DisplayNames([locale], { type: 'region', fallback: 'none' });
    for (const a of letters) {
      for (const b of letters) {
        const name = CITY_NAMED_COUNTRIES.has(a + b) ? undefined : display.of(a + b);
        if (name) names.add(name.toUpperCase());
      }
    }
  }
  return names;
})();

/** DHL sometimes puts only the country's name in `addressLocality` ("Deutschland"): that is no city. */
function cityOf(address: DhlAddress | undefined): string | undefined {
  const locality = nonEmpty(address?.addressLocality);
  return locality && !COUNTRY_NAMES.has(locality.toUpperCase()) ? locality : undefined;
}

function toCheckpoint(e: DhlEvent, s: DhlShipment): Checkpoint | undefined {
  const time = toUtcIso(e.timestamp, { countryCode: zoneCountry(e, s) });
  if (!time) return undefined;
  const row = dhlStatusRow(e);
  const address = e.location?.address;
  const description = nonEmpty(e.description) ?? nonEmpty(e.status) ?? '';
  return {
    checkpointTime: time,
    ...defined({
      city: cityOf(address),
      postalCode: nonEmpty(address?.postalCode),
      countryCode: nonEmpty(address?.countryCode),
    }),
    message: description,
    status: row.status,
    ...withSub(row.subStatus),
    raw: { code: nonEmpty(e.statusCode) ?? '', description: nonEmpty(e.status) ?? description },
  };
}

function toSnapshot(carrier: CarrierCode, trackingNumber: string, s: DhlShipment): CarrierSnapshot {
  // Unified lists `events[]` newest first, as recorded answers show.
  const checkpoints = oldestFirst(objects<DhlEvent>(s.events).map((e) => toCheckpoint(e, s)), 'newest-first');
  const newest = checkpoints.at(-1);
  const row = typeof s.status === 'object' && s.status ? dhlStatusRow(s.status) : (newest ?? { status: 'PENDING' as const });
  const edd =
    row.status === 'DELIVERED'
      ? undefined
      : toUtcIso(s.estimatedTimeOfDelivery ?? s.estimatedDeliveryTimeFrame?.estimatedThrough, {
          countryCode: nonEmpty(s.destination?.address?.countryCode),
        });
  return {
    carrier,
    trackingNumber,
    status: row.status,
    ...withSub(row.subStatus),
    message: nonEmpty(s.status?.description) ?? nonEmpty(s.status?.status) ?? newest?.message ?? 'No scans yet',
    ...(edd ? { estimatedDeliveryDate: edd } : {}),
    ...(newest ? { lastUpdatedAt: newest.checkpointTime } : {}),
    checkpoints,
  };
}

/**
 * Reads a Unified tracking body for one number. DHL answers "not found" with a 404 problem document;
 * an empty `shipments` list means the same.
 */
export function parseDhlTrackResponse(body: DhlTrackResponse, requested: string, carrier: CarrierCode): TrackResult {
  return readSafely('DHL', () => readResponse(body, requested, carrier));
}

function readResponse(body: DhlTrackResponse, requested: string, carrier: CarrierCode): TrackResult {
  const shipments = objects<DhlShipment>(body?.shipments);
  if (shipments.length === 0) {
    const message = nonEmpty(body?.detail) ?? nonEmpty(body?.title) ?? 'DHL returned no shipment';
    const status = typeof body?.status === 'number' ? body.status : undefined;
    if (status === undefined || status === 404) return { kind: 'not_found', message };
    return { kind: 'error', retryable: status === 429 || status >= 500, message: `${status}: ${message}` };
  }
  const exact = shipments.find((s) => String(s.id ?? '').toUpperCase() === requested.toUpperCase());
  return { kind: 'found', snapshot: toSnapshot(carrier, requested, exact ?? shipments[0]) };
}
