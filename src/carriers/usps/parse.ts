import type { CarrierSnapshot, Checkpoint, TrackResult } from '../../domain/shipment.ts';
import { defined, lookupStatus, nonEmpty, objects, oldestFirst, readSafely, type StatusRow, unreadable, withSub } from '../parse-util.ts';
import { toUtcIso } from '../time.ts';
import { reportUnknownCode } from '../unknown.ts';
import { USPS_EVENT_CODES, USPS_NOT_FOUND_CODES, USPS_STATUS_CATEGORIES } from './statuses.ts';

// Only the fields we read (the USPS Tracking 3.0 API documentation).
interface UspsEvent {
  eventType?: string | null;
  eventTimestamp?: string | null;
  GMTTimestamp?: string | null;
  GMTOffset?: string | null;
  eventCountry?: string | null;
  eventCity?: string | null;
  eventState?: string | null;
  eventZIP?: string | null;
  eventCode?: string | null;
}
export interface UspsTrackingResponse {
  trackingNumber?: string;
  statusCategory?: string | null;
  status?: string | null;
  statusSummary?: string | null;
  destinationState?: string | null;
  expectedDeliveryTimeStamp?: string | null;
  trackingEvents?: UspsEvent[] | null;
  error?: { code?: string; message?: string; errors?: { code?: string; title?: string; detail?: string }[] };
}

/** USPS texts carry HTML such as `<SUP>&#174;</SUP>`; issuers get plain text. */
function plain(s: unknown): string | undefined {
  if (typeof s !== 'string') return undefined;
  return nonEmpty(s.replace(/<[^>]*>[^<]*<\/[^>]*>|<[^>]*>/g, '').replace(/\s+-\s*$/, ''));
}

/**
 * `eventTimestamp` is the local wall clock even when it ends in `Z`. `GMTOffset` is exact when present;
 * `GMTTimestamp` is not used because recorded responses show it off by a day.
 */
function eventTime(e: UspsEvent): string | undefined {
  const local = nonEmpty(e.eventTimestamp)?.replace(/(Z|[+-]\d{2}:?\d{2})$/i, '');
  if (!local) return undefined;
  const offset = nonEmpty(e.GMTOffset);
  if (offset && /^[+-]\d{2}:\d{2}$/.test(offset)) return toUtcIso(`${local}${offset}`);
  const country = nonEmpty(e.eventCountry);
  // No country means a domestic scan; a country given only by name has no zone we can trust, so UTC.
  return toUtcIso(local, {
    countryCode: !country ? 'US' : country.length === 2 ? country : undefined,
    stateOrProvinceCode: nonEmpty(e.eventState),
  });
}

function toCheckpoint(e: UspsEvent): Checkpoint | undefined {
  const time = eventTime(e);
  if (!time) return undefined;
  const code = nonEmpty(e.eventCode);
  const description = nonEmpty(e.eventType) ?? '';
  const row = lookupStatus('usps', USPS_EVENT_CODES, code, { status: 'IN_TRANSIT' }, description);
  const country = nonEmpty(e.eventCountry);
  return {
    checkpointTime: time,
    ...defined({
      city: nonEmpty(e.eventCity),
      postalCode: nonEmpty(e.eventZIP),
      countryCode: country && country.length === 2 ? country.toUpperCase() : country ? undefined : 'US',
      countryName: country && country.length > 2 ? country : undefined,
    }),
    message: description,
    status: row.status,
    ...withSub(row.subStatus),
    raw: { code: code ?? '', description },
  };
}

function snapshotStatus(body: UspsTrackingResponse, newest: Checkpoint | undefined): StatusRow {
  const newestCode = newest?.raw.code;
  if (newest && newestCode && USPS_EVENT_CODES[newestCode]) return newest;
  const category = nonEmpty(body.statusCategory);
  if (category && USPS_STATUS_CATEGORIES[category]) return USPS_STATUS_CATEGORIES[category];
  if (category) reportUnknownCode('usps', `category:${category}`, nonEmpty(body.status));
  return newest ?? { status: 'PENDING' };
}

function errorResult(body: UspsTrackingResponse): TrackResult {
  const first = objects<{ code?: string; title?: string; detail?: string }>(body.error?.errors)[0];
  const message = plain(first?.title) ?? plain(body.error?.message) ?? 'USPS error';
  const code = nonEmpty(first?.code);
  return USPS_NOT_FOUND_CODES.has(code ?? '')
    ? { kind: 'not_found', message }
    : { kind: 'error', retryable: false, message: `${code ?? nonEmpty(body.error?.code) ?? '?'}: ${message}` };
}

/** Reads one USPS Tracking v3 body (`GET /tracking/v3/tracking/{n}?expand=DETAIL`). */
export function parseUspsTrackingResponse(body: UspsTrackingResponse, requested: string): TrackResult {
  return readSafely('USPS', () => readResponse(body, requested));
}

function readResponse(body: UspsTrackingResponse, requested: string): TrackResult {
  if (!body || typeof body !== 'object') return { kind: 'error', retryable: true, message: 'USPS sent no tracking object' };
  if (body.error) return errorResult(body);
  // USPS Tracking v3 lists `trackingEvents` newest first (so do all recorded answers).
  const checkpoints = oldestFirst(objects<UspsEvent>(body.trackingEvents).map(toCheckpoint), 'newest-first');
  const newest = checkpoints.at(-1);
  const row = snapshotStatus(body, newest);
  const edd =
    row.status === 'DELIVERED'
      ? undefined
      : toUtcIso(nonEmpty(body.expectedDeliveryTimeStamp), { countryCode: 'US', stateOrProvinceCode: nonEmpty(body.destinationState) });
  const snapshot: CarrierSnapshot = {
    carrier: 'usps-iv-api',
    trackingNumber: requested,
    status: row.status,
    ...withSub(row.subStatus),
    message: plain(body.status) ?? newest?.message ?? 'No scans yet',
    ...(edd ? { estimatedDeliveryDate: edd } : {}),
    ...(newest ? { lastUpdatedAt: newest.checkpointTime } : {}),
    checkpoints,
  };
  return { kind: 'found', snapshot };
}

/** Most numbers one Tracking 3.2 call may carry (integrators' reading of the v3r2 spec; see docs/adding-a-carrier.md). */
export const USPS_MAX_NUMBERS = 35;

/** One item of a Tracking 3.2 answer: a v3 tracking body, or an error envelope, with the item's own `statusCode`. */
export interface UspsTrackingItem extends UspsTrackingResponse {
  statusCode?: string;
}
/** `POST /tracking/v3r2/tracking` answers an array (207 when some items failed), or one error object for the whole call. */
export type UspsBatchResponse = UspsTrackingItem[] | UspsTrackingItem;

/**
 * Reads a Tracking 3.2 answer for the numbers asked, one result each. Items are matched by `trackingNumber`;
 * a number no item names gets an error to retry (the answer said nothing of it). A bare object answering one
 * number is read as the v3 answer always was; answering several and naming none, it is a failure of the
 * whole call, the same for every number.
 */
export function parseUspsBatch(body: UspsBatchResponse, status: number, requested: string[]): Map<string, TrackResult> {
  try {
    return readBatch(body, status, requested);
  } catch (err) {
    return new Map(requested.map((n) => [n, unreadable('USPS', err)]));
  }
}

function readBatch(body: UspsBatchResponse, status: number, requested: string[]): Map<string, TrackResult> {
  const items = objects<UspsTrackingItem>(Array.isArray(body) ? body : [body]);
  const numberOf = (i: UspsTrackingItem) => nonEmpty(i.trackingNumber)?.toUpperCase();
  const results = new Map<string, TrackResult>();
  if (!Array.isArray(body) && requested.length === 1) {
    results.set(requested[0], bareAnswer(items[0] ?? {}, status, requested[0]));
    return results;
  }
  const namesOne = items.some((i) => requested.some((n) => numberOf(i) === n.toUpperCase()));
  const whole = Array.isArray(body) || namesOne ? undefined : wholeCallFailure(items[0], status);
  for (const n of requested) {
    const item = items.find((i) => numberOf(i) === n.toUpperCase()) ?? (requested.length === 1 && items.length === 1 ? items[0] : undefined);
    // Asked about one number, the call's own 404 is about that number too.
    const gone = requested.length === 1 && status === 404;
    results.set(n, item ? itemResult(item, n, gone) : (whole ?? { kind: 'error', retryable: true, message: 'USPS left this number out of its answer' }));
  }
  return results;
}

/** An error item with status 404 (its own, or the call's when it was the only number) is USPS saying it has no such number. */
function itemResult(item: UspsTrackingItem, requested: string, gone = false): TrackResult {
  const result = parseUspsTrackingResponse(item, requested);
  if (result.kind === 'error' && item.error && (gone || nonEmpty(item.statusCode) === '404')) return { kind: 'not_found', message: result.message };
  return result;
}

/** The whole answer for a single number, as the one-number v3 call read it. */
function bareAnswer(item: UspsTrackingItem, status: number, requested: string): TrackResult {
  if (status === 404) return { kind: 'not_found', message: 'USPS: no record of this number' };
  if (status >= 400 && !item.error) return { kind: 'error', retryable: false, message: `USPS answered ${status}` };
  return parseUspsTrackingResponse(item, requested);
}

function wholeCallFailure(item: UspsTrackingItem | undefined, status: number): TrackResult {
  const message = plain(item?.error?.message) ?? `USPS answered ${status}`;
  return { kind: 'error', retryable: status < 400, message: `USPS refused the call: ${message}` };
}
