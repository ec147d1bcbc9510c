import type { CarrierCode } from '../../domain/carriers.ts';
import type { CarrierSnapshot, Checkpoint, TrackResult } from '../../domain/shipment.ts';
import { defined, isObject, lookupStatus, nonEmpty, objects, oldestFirst, readSafely, type StatusRow, withSub } from '../parse-util.ts';
import { toUtcIso } from '../time.ts';
import { AFTERSHIP_NOT_FOUND_CODES, AFTERSHIP_SUBTAGS, AFTERSHIP_TAGS } from './statuses.ts';

// Fields of both the legacy v4 and the dated (2024-xx and later) tracking object; only those we read.
interface AftershipCheckpoint {
  checkpoint_time?: string | null;
  message?: string | null;
  tag?: string | null;
  subtag?: string | null;
  raw_tag?: string | null;
  city?: string | null;
  state?: string | null;
  zip?: string | null;
  location?: string | null;
  country_iso3?: string | null;
  country_name?: string | null;
  country_region?: string | null;
  country_region_name?: string | null;
}
interface AftershipEdd {
  datetime?: string | null;
  source?: string | null;
  estimated_delivery_date?: string | null;
}
export interface AftershipTracking {
  id?: string;
  tracking_number?: string;
  slug?: string;
  tag?: string | null;
  subtag?: string | null;
  subtag_message?: string | null;
  expected_delivery?: string | null;
  courier_estimated_delivery_date?: AftershipEdd | null;
  latest_estimated_delivery?: AftershipEdd | null;
  destination_country_iso3?: string | null;
  destination_country_region?: string | null;
  checkpoints?: AftershipCheckpoint[] | null;
}
export interface AftershipEnvelope {
  meta?: { code?: number; message?: string; type?: string };
  data?: { tracking?: AftershipTracking; trackings?: AftershipTracking[] } & AftershipTracking;
}

/** AfterShip gives ISO 3166 alpha-3; the hub and the zone table speak alpha-2. */
const ISO3_TO_ISO2: Record<string, string> = {
  USA: 'US', CAN: 'CA', MEX: 'MX', BRA: 'BR', ARG: 'AR', GBR: 'GB', IRL: 'IE', FRA: 'FR', DEU: 'DE', ESP: 'ES',
  PRT: 'PT', ITA: 'IT', NLD: 'NL', BEL: 'BE', LUX: 'LU', CHE: 'CH', AUT: 'AT', POL: 'PL', CZE: 'CZ', SWE: 'SE',
  DNK: 'DK', NOR: 'NO', FIN: 'FI', GRC: 'GR', SGP: 'SG', JPN: 'JP', CHN: 'CN', HKG: 'HK', KOR: 'KR', IND: 'IN',
  ARE: 'AE', AUS: 'AU', NZL: 'NZ', ZAF: 'ZA',
};

export function iso2(code: unknown): string | undefined {
  const c = nonEmpty(code)?.toUpperCase();
  if (!c) return undefined;
  return c.length === 2 ? c : Object.hasOwn(ISO3_TO_ISO2, c) ? ISO3_TO_ISO2[c] : undefined;
}

export function aftershipStatusRow(tag: unknown, subtag: unknown, text?: string): StatusRow {
  const t = nonEmpty(tag);
  const coarse = lookupStatus('aftership', AFTERSHIP_TAGS, t, { status: 'IN_TRANSIT' }, text);
  const sub = nonEmpty(subtag);
  return sub ? lookupStatus('aftership', AFTERSHIP_SUBTAGS, sub, coarse, text) : coarse;
}

function toCheckpoint(c: AftershipCheckpoint): Checkpoint | undefined {
  const country = iso2(c.country_region ?? c.country_iso3);
  const time = toUtcIso(c.checkpoint_time, { countryCode: country, stateOrProvinceCode: nonEmpty(c.state) });
  if (!time) return undefined;
  const description = nonEmpty(c.message) ?? '';
  const row = aftershipStatusRow(c.tag, c.subtag, description);
  // Without `city`, `location` is the place as the carrier prints it, often "DONGGUAN CN": city, country.
  // "MEMPHIS, TN" (a state after a comma) and a suffix other than the known country are left whole.
  const m = nonEmpty(c.city) ? null : /^([^,]*\S)\s+([A-Z]{2})$/.exec(nonEmpty(c.location) ?? '');
  const located = m && (!country || country === m[2]) ? m : null;
  return {
    checkpointTime: time,
    ...defined({
      city: nonEmpty(c.city) ?? (located ? located[1] : nonEmpty(c.location)),
      postalCode: nonEmpty(c.zip),
      countryCode: country ?? located?.[2],
      countryName: nonEmpty(c.country_region_name) ?? nonEmpty(c.country_name),
    }),
    message: description,
    status: row.status,
    ...withSub(row.subStatus),
    raw: { code: nonEmpty(c.raw_tag) ?? nonEmpty(c.subtag) ?? nonEmpty(c.tag) ?? '', description },
  };
}

/** The carrier's own estimate; AfterShip's predicted dates are left out on purpose. */
function carrierEdd(t: AftershipTracking): string | undefined {
  const latest = t.latest_estimated_delivery;
  const fromCarrier = isObject(latest) && /carrier/i.test(nonEmpty(latest.source) ?? '') ? latest.datetime : undefined;
  const raw = nonEmpty(t.courier_estimated_delivery_date?.estimated_delivery_date) ?? nonEmpty(t.expected_delivery) ?? nonEmpty(fromCarrier);
  return toUtcIso(raw, { countryCode: iso2(t.destination_country_region ?? t.destination_country_iso3) });
}

export function aftershipSnapshot(t: AftershipTracking, requested: string, carrier: CarrierCode): CarrierSnapshot {
  // AfterShip lists `checkpoints[]` oldest first.
  const checkpoints = oldestFirst(objects<AftershipCheckpoint>(t.checkpoints).map(toCheckpoint), 'oldest-first');
  const newest = checkpoints.at(-1);
  const row = nonEmpty(t.tag) || nonEmpty(t.subtag) ? aftershipStatusRow(t.tag, t.subtag, nonEmpty(t.subtag_message)) : (newest ?? { status: 'PENDING' as const });
  const edd = row.status === 'DELIVERED' ? undefined : carrierEdd(t);
  return {
    carrier,
    trackingNumber: requested,
    status: row.status,
    ...withSub(row.subStatus),
    message: newest?.message ?? nonEmpty(t.subtag_message) ?? 'No carrier data yet',
    ...(edd ? { estimatedDeliveryDate: edd } : {}),
    ...(newest ? { lastUpdatedAt: newest.checkpointTime } : {}),
    checkpoints,
  };
}

const sameNumber = (a: unknown, b: string) => nonEmpty(a)?.replace(/\s+/g, '').toUpperCase() === b.replace(/\s+/g, '').toUpperCase();

/**
 * The tracking inside an envelope: `data.tracking` (v4), `data` itself, or in a list (`data.trackings`)
 * the entry for the requested number and slug. A list can hold other numbers (or the same number at
 * another courier), so without a match there is no tracking rather than someone else's.
 */
export function trackingOf(body: AftershipEnvelope, requested?: string, slug?: string): AftershipTracking | undefined {
  const d = body?.data;
  if (!isObject(d)) return undefined;
  if (isObject(d.tracking)) return d.tracking;
  if (Array.isArray(d.trackings)) {
    const list = objects<AftershipTracking>(d.trackings);
    if (requested === undefined) return list[0];
    return list.find((t) => sameNumber(t.tracking_number, requested) && (!slug || !nonEmpty(t.slug) || nonEmpty(t.slug) === slug));
  }
  return nonEmpty(d.tracking_number) ? d : undefined;
}

/**
 * Reads an AfterShip envelope for one number. Errors come as `meta.code` (4004 "does not exist", 4003
 * "already exists" and so on), usually with a matching HTTP status.
 */
export function parseAftershipResponse(body: AftershipEnvelope, requested: string, carrier: CarrierCode): TrackResult {
  return readSafely('AfterShip', () => readResponse(body, requested, carrier));
}

function readResponse(body: AftershipEnvelope, requested: string, carrier: CarrierCode): TrackResult {
  const code = Number(body?.meta?.code ?? 200) || 200;
  const message = `${code}: ${nonEmpty(body?.meta?.message) ?? 'AfterShip error'}`;
  if (code >= 400) {
    if (AFTERSHIP_NOT_FOUND_CODES.has(code)) return { kind: 'not_found', message };
    return { kind: 'error', retryable: code === 429 || (code >= 500 && code < 600), message };
  }
  const tracking = trackingOf(body, requested, carrier);
  if (!tracking) return { kind: 'not_found', message: 'AfterShip returned no tracking for this number' };
  // "Expired" with no scans: AfterShip gave up without ever getting the carrier's data for the number.
  if (nonEmpty(tracking.tag) === 'Expired' && objects(tracking.checkpoints).length === 0) {
    return { kind: 'not_found', message: 'AfterShip expired the tracking without any carrier data' };
  }
  return { kind: 'found', snapshot: aftershipSnapshot(tracking, requested, carrier) };
}
