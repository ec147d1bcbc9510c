import type { CarrierSnapshot, Checkpoint, ShipmentStatus, TrackResult } from '../../domain/shipment.ts';
import { defined, isObject, nonEmpty, objects, oldestFirst, readSafely, type StatusRow, withSub } from '../parse-util.ts';
import { toUtcIso } from '../time.ts';
import { reportUnknownCode } from '../unknown.ts';
import { UPS_ACTIVITY_CODES, UPS_EXCEPTION_RESOLUTIONS, UPS_NOT_FOUND_CODES, UPS_STATUS_CODES, UPS_TYPE_DECIDES, UPS_TYPES } from './statuses.ts';

// Only the fields we read (the UPS Tracking API, Tracking.yaml).
interface UpsAddress {
  city?: string;
  stateProvince?: string;
  postalCode?: string;
  country?: string;
  countryCode?: string;
}
interface UpsStatus {
  type?: string;
  code?: string;
  statusCode?: string;
  description?: string;
  simplifiedTextDescription?: string;
}
interface UpsActivity {
  location?: { address?: UpsAddress; slic?: string };
  status?: UpsStatus;
  date?: string;
  time?: string;
  gmtDate?: string;
  gmtTime?: string;
  gmtOffset?: string;
}
interface UpsPackage {
  trackingNumber?: string;
  currentStatus?: UpsStatus;
  activity?: UpsActivity[];
  deliveryDate?: { type?: string; date?: string }[];
  deliveryTime?: { type?: string; startTime?: string; endTime?: string };
  packageAddress?: { type?: string; address?: UpsAddress }[];
}
interface UpsMessage {
  code?: string;
  message?: string;
}
export interface UpsTrackResponse {
  trackResponse?: { shipment?: { inquiryNumber?: string; package?: UpsPackage[]; warnings?: UpsMessage[] }[] };
  response?: { errors?: UpsMessage[] };
}

function countryOf(a: UpsAddress | undefined): string | undefined {
  const code = nonEmpty(a?.countryCode) ?? nonEmpty(a?.country);
  return code && /^[A-Za-z]{2}$/.test(code) ? code.toUpperCase() : undefined;
}

/** `YYYYMMDD` + `HHMMSS` (or `HH:MM:SS`) → `YYYY-MM-DDTHH:MM:SS`, the local wall clock. */
function wallClock(date: string | undefined, time: string | undefined): string | undefined {
  const d = nonEmpty(date);
  if (!d || !/^\d{8}$/.test(d)) return undefined;
  const t = (nonEmpty(time) ?? '000000').replace(/:/g, '').padEnd(6, '0');
  if (!/^\d{6}$/.test(t)) return undefined;
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}`;
}

/**
 * The most exact time UPS gives for an activity: `gmtDate` + `gmtTime` are UTC (the time may be written
 * `HH:MM:SS` where the local one is `HHMMSS`); else the local time with `gmtOffset` (`-04.00` in Track
 * Alert, `+08:00` elsewhere); only else the local time read in the zone of the scan's place, a guess.
 */
function activityTime(a: UpsActivity): string | undefined {
  const gmt = wallClock(a.gmtDate, a.gmtTime);
  if (gmt && nonEmpty(a.gmtTime)) return toUtcIso(`${gmt}Z`);
  const local = wallClock(a.date, a.time);
  if (!local) return gmt ? toUtcIso(`${gmt}Z`) : undefined;
  const offset = nonEmpty(a.gmtOffset)?.replace('.', ':');
  if (offset && /^[+-]\d{2}:\d{2}$/.test(offset)) return toUtcIso(`${local}${offset}`);
  const address = a.location?.address;
  return toUtcIso(local, { countryCode: countryOf(address), stateOrProvinceCode: nonEmpty(address?.stateProvince) });
}

/**
 * Precedence: a type letter of `UPS_TYPE_DECIDES` (X exception, MV voided) wins over both code tables,
 * except for the codes that end an exception (`UPS_EXCEPTION_RESOLUTIONS`); the code's row still gives
 * the reason (092 under X is a customs EXCEPTION). Otherwise the 3-digit code, then the 2-letter code,
 * then the letter as a fallback.
 */
export function upsStatusRow(s: UpsStatus | undefined): StatusRow | undefined {
  const rawCode = nonEmpty(s?.code);
  // currentStatus sometimes carries the 3-digit code in `code` instead of `statusCode`.
  const statusCode = nonEmpty(s?.statusCode) ?? (rawCode && /^\d{3}$/.test(rawCode) ? rawCode : undefined);
  const code = rawCode === statusCode ? undefined : rawCode;
  const type = nonEmpty(s?.type);
  const byCode =
    (statusCode && Object.hasOwn(UPS_STATUS_CODES, statusCode) ? UPS_STATUS_CODES[statusCode] : undefined) ??
    (code && Object.hasOwn(UPS_ACTIVITY_CODES, code) ? UPS_ACTIVITY_CODES[code] : undefined);
  const unknown = byCode ? undefined : (code ?? statusCode);
  if (unknown) reportUnknownCode('ups', unknown, s?.description);
  const resolves = [code, statusCode].some((c) => c !== undefined && Object.hasOwn(UPS_EXCEPTION_RESOLUTIONS, c));
  if (type && Object.hasOwn(UPS_TYPE_DECIDES, type) && !(type === 'X' && resolves)) {
    const decided = UPS_TYPE_DECIDES[type];
    return { status: decided.status, ...withSub(decided.subStatus ?? byCode?.subStatus) };
  }
  if (byCode) return byCode;
  if (type && Object.hasOwn(UPS_TYPES, type)) return UPS_TYPES[type];
  if (type) reportUnknownCode('ups', `type:${type}`, s?.description);
  // A scan we cannot place at all still means the parcel is in UPS's hands.
  return unknown || type ? { status: 'IN_TRANSIT' } : undefined;
}

/**
 * `currentStatus` can come without a type (the recorded customs hold: code 092 only). When it names the
 * same code as the newest activity, it is that activity, and takes its type: else the summary would read
 * IN_TRANSIT while its own scan says EXCEPTION.
 */
function currentWithType(current: UpsStatus | undefined, newest: UpsActivity | undefined): UpsStatus | undefined {
  if (!isObject(current) || nonEmpty(current.type) || !isObject(newest?.status)) return current;
  const codes = (x: UpsStatus) => [nonEmpty(x.code), nonEmpty(x.statusCode)].filter((c): c is string => c !== undefined);
  const mine = codes(current);
  const same = mine.length > 0 && codes(newest.status).some((c) => mine.includes(c));
  return same ? { ...current, type: nonEmpty(newest.status.type) } : current;
}

function toCheckpoint(a: UpsActivity): Checkpoint | undefined {
  const time = activityTime(a);
  if (!time) return undefined;
  const row = upsStatusRow(a.status) ?? { status: 'IN_TRANSIT' as ShipmentStatus };
  const address = a.location?.address;
  const description = nonEmpty(a.status?.description) ?? nonEmpty(a.status?.simplifiedTextDescription) ?? '';
  return {
    checkpointTime: time,
    ...defined({ city: nonEmpty(address?.city), postalCode: nonEmpty(address?.postalCode), countryCode: countryOf(address) }),
    message: description,
    status: row.status,
    ...withSub(row.subStatus),
    raw: { code: nonEmpty(a.status?.code) ?? nonEmpty(a.status?.statusCode) ?? nonEmpty(a.status?.type) ?? '', description },
  };
}

function estimatedDelivery(p: UpsPackage): string | undefined {
  const dates = objects<{ type?: string; date?: string }>(p.deliveryDate);
  // A rescheduled date replaces the scheduled one.
  const date = dates.find((d) => d.type === 'RDD')?.date ?? dates.find((d) => d.type === 'SDD')?.date;
  const time = isObject(p.deliveryTime) && p.deliveryTime.type !== 'DEL' ? nonEmpty(p.deliveryTime.endTime) : undefined;
  const local = wallClock(date, time ?? '000000');
  const dest = objects<{ type?: string; address?: UpsAddress }>(p.packageAddress).find((a) => a.type === 'DESTINATION')?.address;
  return toUtcIso(local, { countryCode: countryOf(dest), stateOrProvinceCode: nonEmpty(dest?.stateProvince) });
}

function toSnapshot(trackingNumber: string, p: UpsPackage): CarrierSnapshot {
  // The Track API lists `activity[]` newest first (so do all recorded answers).
  const activities = objects<UpsActivity>(p.activity);
  const checkpoints = oldestFirst(activities.map(toCheckpoint), 'newest-first');
  const newest = checkpoints.at(-1);
  const current = upsStatusRow(currentWithType(p.currentStatus, activities[0]));
  const status = current?.status ?? newest?.status ?? 'PENDING';
  const subStatus = current ? current.subStatus : newest?.subStatus;
  const edd = status === 'DELIVERED' ? undefined : estimatedDelivery(p);
  return {
    carrier: 'ups',
    trackingNumber,
    status,
    ...withSub(subStatus),
    message:
      nonEmpty(p.currentStatus?.simplifiedTextDescription) ??
      nonEmpty(p.currentStatus?.description) ??
      newest?.message ??
      'No scans yet',
    ...(edd ? { estimatedDeliveryDate: edd } : {}),
    ...(newest ? { lastUpdatedAt: newest.checkpointTime } : {}),
    checkpoints,
  };
}

function messageResult(m: UpsMessage): TrackResult {
  const code = nonEmpty(m.code);
  const text = `${code ?? '?'}: ${nonEmpty(m.message) ?? 'UPS error'}`;
  return UPS_NOT_FOUND_CODES.has(code ?? '')
    ? { kind: 'not_found', message: text }
    : { kind: 'error', retryable: false, message: text };
}

/**
 * Reads a UPS Track API body for one inquiry number. UPS reports "not found" as a warning inside a 200
 * (TW0001, with no package) and request problems as `response.errors`.
 */
export function parseUpsTrackResponse(body: UpsTrackResponse, requested: string): TrackResult {
  return readSafely('UPS', () => readResponse(body, requested));
}

function readResponse(body: UpsTrackResponse, requested: string): TrackResult {
  const errors = objects<UpsMessage>(body?.response?.errors);
  if (!body?.trackResponse && errors.length) return messageResult(errors[0]);
  const shipments = objects<{ package?: UpsPackage[]; warnings?: UpsMessage[] }>(body?.trackResponse?.shipment);
  const packages = shipments.flatMap((s) => objects<UpsPackage>(s.package));
  const pkg = packages.find((p) => nonEmpty(p.trackingNumber)?.toUpperCase() === requested.toUpperCase()) ?? packages[0];
  if (pkg) return { kind: 'found', snapshot: toSnapshot(requested, pkg) };
  const warning = shipments.flatMap((s) => objects<UpsMessage>(s.warnings))[0];
  if (warning) return messageResult(warning);
  return { kind: 'not_found', message: 'UPS returned no package for this number' };
}
