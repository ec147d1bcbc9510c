import type { CarrierSnapshot, Checkpoint, ShipmentStatus, SubStatus, TrackResult } from '../../domain/shipment.ts';
import { ADVERSE_STATUSES, nonEmpty, objects, oldestFirst, unreadable } from '../parse-util.ts';
import { toUtcIso } from '../time.ts';
import { reportUnknownCode } from '../unknown.ts';
import { FEDEX_EXCEPTION_CLASS, FEDEX_EXCEPTION_REASONS, FEDEX_STATUSES, type StatusRow } from './statuses.ts';

// Only the fields we read; FedEx sends many more (the FedEx Track API documentation).
interface FedexLocation {
  city?: string;
  stateOrProvinceCode?: string;
  postalCode?: string;
  countryCode?: string;
  countryName?: string;
}
interface FedexScanEvent {
  date?: string;
  eventType?: string;
  eventDescription?: string;
  derivedStatusCode?: string;
  exceptionCode?: string;
  exceptionDescription?: string;
  scanLocation?: FedexLocation;
}
interface FedexTrackResult {
  trackingNumberInfo?: { trackingNumber?: string };
  latestStatusDetail?: {
    code?: string;
    derivedCode?: string;
    statusByLocale?: string;
    description?: string;
    scanLocation?: FedexLocation;
    ancillaryDetails?: { reason?: string; reasonDescription?: string }[];
  };
  dateAndTimes?: { type?: string; dateTime?: string }[];
  estimatedDeliveryTimeWindow?: { window?: { begins?: string; ends?: string } };
  scanEvents?: FedexScanEvent[];
  error?: { code?: string; message?: string };
}
export interface FedexTrackResponse {
  output?: { completeTrackResults?: { trackingNumber?: string; trackResults?: FedexTrackResult[] }[] };
  errors?: { code?: string; message?: string }[];
}

const NOT_FOUND_CODES = new Set(['TRACKING.TRACKINGNUMBER.NOTFOUND', 'TRACKING.TRACKINGNUMBER.INVALID']);

/**
 * `code` is the event type (or latest status code), `fallback` FedEx's derived code. The event type is
 * finer and decides, unless the derived code is FedEx's own exception class (`FEDEX_EXCEPTION_CLASS`) and
 * the event type's row reads a normal status: then the class wins.
 */
export function statusFor(code: string | undefined, fallback: string | undefined, description?: string): StatusRow | undefined {
  const own = code && Object.hasOwn(FEDEX_STATUSES, code) ? FEDEX_STATUSES[code] : undefined;
  const classed = fallback && Object.hasOwn(FEDEX_EXCEPTION_CLASS, fallback) ? FEDEX_STATUSES[fallback] : undefined;
  if (classed && !(own && ADVERSE_STATUSES.has(own.status))) return classed;
  if (own) return own;
  if (fallback && FEDEX_STATUSES[fallback]) return FEDEX_STATUSES[fallback];
  if (code) reportUnknownCode('fedex', code, description);
  return undefined;
}

function toCheckpoint(e: FedexScanEvent): Checkpoint | undefined {
  const loc: FedexLocation = typeof e.scanLocation === 'object' && e.scanLocation ? e.scanLocation : {};
  const time = toUtcIso(e.date, loc);
  if (!time) return undefined;
  const row = statusFor(nonEmpty(e.eventType), nonEmpty(e.derivedStatusCode), e.eventDescription);
  const exceptionCode = nonEmpty(e.exceptionCode);
  const reason = exceptionCode && Object.hasOwn(FEDEX_EXCEPTION_REASONS, exceptionCode) ? FEDEX_EXCEPTION_REASONS[exceptionCode] : undefined;
  const status: ShipmentStatus = row?.status ?? 'IN_TRANSIT';
  const subStatus: SubStatus | undefined = reason ?? row?.subStatus;
  const description = nonEmpty(e.eventDescription) ?? '';
  return {
    checkpointTime: time,
    city: nonEmpty(loc.city),
    postalCode: nonEmpty(loc.postalCode),
    countryCode: nonEmpty(loc.countryCode),
    countryName: nonEmpty(loc.countryName),
    message: nonEmpty(e.exceptionDescription) ? `${description}: ${nonEmpty(e.exceptionDescription)}` : description,
    status,
    ...(subStatus ? { subStatus } : {}),
    raw: { code: nonEmpty(e.eventType) ?? nonEmpty(e.derivedStatusCode) ?? '', description },
  };
}

function newestEventTime(r: FedexTrackResult): number {
  let best = -Infinity;
  for (const e of objects<FedexScanEvent>(r.scanEvents)) {
    const t = Date.parse(toUtcIso(e.date, e.scanLocation ?? {}) ?? '');
    if (t > best) best = t;
  }
  return best;
}

function toSnapshot(trackingNumber: string, r: FedexTrackResult): CarrierSnapshot {
  // The Track API lists `scanEvents` newest first (so do all recorded answers).
  const checkpoints = oldestFirst(objects<FedexScanEvent>(r.scanEvents).map(toCheckpoint), 'newest-first');
  const latest = r.latestStatusDetail;
  const newest = checkpoints.at(-1);
  const row = statusFor(nonEmpty(latest?.code), nonEmpty(latest?.derivedCode), latest?.description);
  const status: ShipmentStatus = row?.status ?? newest?.status ?? 'PENDING';
  // The derived code can say more than the code (IT + RL "running late"): keep its reason when it agrees.
  const derivedCode = nonEmpty(latest?.derivedCode);
  const derived = derivedCode && Object.hasOwn(FEDEX_STATUSES, derivedCode) ? FEDEX_STATUSES[derivedCode] : undefined;
  const derivedSub = derived?.status === status ? derived.subStatus : undefined;
  const subStatus = row?.subStatus ?? derivedSub ?? (newest?.status === status ? newest?.subStatus : undefined);
  const edd =
    objects<{ type?: string; dateTime?: string }>(r.dateAndTimes).find((d) => d.type === 'ESTIMATED_DELIVERY')?.dateTime ??
    r.estimatedDeliveryTimeWindow?.window?.ends ??
    r.estimatedDeliveryTimeWindow?.window?.begins;
  const estimatedDeliveryDate = status === 'DELIVERED' ? undefined : toUtcIso(edd, latest?.scanLocation ?? {});
  return {
    carrier: 'fedex',
    trackingNumber,
    status,
    ...(subStatus ? { subStatus } : {}),
    message: nonEmpty(latest?.statusByLocale) ?? nonEmpty(latest?.description) ?? newest?.message ?? 'Label created',
    ...(estimatedDeliveryDate ? { estimatedDeliveryDate } : {}),
    ...(newest ? { lastUpdatedAt: newest.checkpointTime } : {}),
    checkpoints,
  };
}

/**
 * Reads a Track API response. FedEx reports "not found" inside a 200 body, and may return several
 * shipments for one reused number (told apart by trackingNumberUniqueId): we take the one with the
 * newest scan, which is the parcel the issuer just sent.
 */
export function parseFedexTrackResponse(body: FedexTrackResponse, requested: string[]): Map<string, TrackResult> {
  try {
    return readResponse(body, requested);
  } catch (err) {
    return new Map(requested.map((n) => [n, unreadable('FedEx', err)]));
  }
}

function readResponse(body: FedexTrackResponse, requested: string[]): Map<string, TrackResult> {
  const results = new Map<string, TrackResult>();
  const errors = objects<{ code?: string; message?: string }>(body?.errors);
  if (!body?.output && errors.length) {
    const err = errors[0];
    const result: TrackResult = NOT_FOUND_CODES.has(err.code ?? '')
      ? { kind: 'not_found', message: err.message ?? 'not found' }
      : { kind: 'error', retryable: false, message: `${err.code}: ${err.message}` };
    for (const n of requested) results.set(n, result);
    return results;
  }
  for (const complete of objects<{ trackingNumber?: string; trackResults?: FedexTrackResult[] }>(body?.output?.completeTrackResults)) {
    const trackResults = objects<FedexTrackResult>(complete.trackResults);
    const number = nonEmpty(complete.trackingNumber) ?? nonEmpty(trackResults[0]?.trackingNumberInfo?.trackingNumber);
    if (!number) continue;
    // A result with scans is data even beside an `error` block (FedEx's own documentation example has both).
    const usable = trackResults.filter((r) => !r.error || objects(r.scanEvents).length > 0);
    if (usable.length === 0) {
      const err = trackResults[0]?.error;
      results.set(
        number,
        !err || NOT_FOUND_CODES.has(err.code ?? '')
          ? { kind: 'not_found', message: err?.message ?? 'not found' }
          : // A per-number code we do not know is about this number, not an outage: asking again changes nothing.
            { kind: 'error', retryable: false, message: `${err.code}: ${err.message}` },
      );
      continue;
    }
    const chosen = usable.reduce((a, b) => (newestEventTime(b) > newestEventTime(a) ? b : a));
    results.set(number, { kind: 'found', snapshot: toSnapshot(number, chosen) });
  }
  for (const n of requested) {
    if (!results.has(n)) results.set(n, { kind: 'error', retryable: true, message: 'number missing from FedEx response' });
  }
  return results;
}
