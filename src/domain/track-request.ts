import { createHash } from 'node:crypto';
import { CARRIER_CODES, type CarrierCode, isCarrierCode } from './carriers.ts';
import type { Result } from './errors.ts';

export const TRACKING_TYPES = ['PRODUCTION', 'SHIPMENT', 'RETURN'] as const;
export type TrackingType = (typeof TRACKING_TYPES)[number];

export interface TrackRequestBody {
  trackingType: TrackingType;
  productionSite?: string;
  trackingNumber?: string;
  carrier?: CarrierCode;
  shipmentDate?: string;
  postalCode?: string;
  countryCode?: string;
}

export const ISSUER_ID = /^[A-Za-z0-9_-]{10}$/;
export const CARD_ID = /^[A-Za-z0-9_-]{1,48}$/;
export const CORRELATION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TRACKING_NUMBER = /^[A-Za-z0-9]{4,40}$/;
const PRODUCTION_SITE = /^[A-Za-z0-9_.-][A-Za-z0-9 _.-]{0,63}$/;
const POSTAL_CODE = /^[A-Za-z0-9][A-Za-z0-9 -]{0,11}$/;
const COUNTRY_CODE = /^[A-Z]{2}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/** Fields each tracking type accepts (docs/contract.md §2.2); anything else is refused. */
const ALLOWED: Record<TrackingType, readonly string[]> = {
  PRODUCTION: ['trackingType', 'productionSite'],
  SHIPMENT: ['trackingType', 'trackingNumber', 'carrier', 'shipmentDate', 'productionSite', 'postalCode', 'countryCode'],
  RETURN: ['trackingType', 'productionSite', 'trackingNumber', 'carrier'],
};

const regions = new Intl.DisplayNames(['en'], { type: 'region' });

export function countryName(code: string | undefined): string | undefined {
  if (!code) return undefined;
  try {
    const name = regions.of(code.toUpperCase());
    return name && name !== code.toUpperCase() ? name : undefined;
  } catch {
    return undefined;
  }
}

function invalidFormat(field: string, why: string): Result<never> {
  return { ok: false, errorCode: 'FIELD_INVALID_FORMAT', error: `${field}: ${why}` };
}
function invalidValue(field: string, why: string): Result<never> {
  return { ok: false, errorCode: 'FIELD_INVALID_VALUE', error: `${field}: ${why}` };
}

function checkString(body: Record<string, unknown>, field: string, pattern: RegExp, what: string): Result<never> | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !pattern.test(v)) return invalidFormat(field, `must be ${what}`);
  return undefined;
}

/** Date.parse rolls 31 February over into March; a real date must keep its day. */
function isRealDate(iso: string): boolean {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  const day = new Date(Date.UTC(y, m - 1, d));
  return day.getUTCMonth() === m - 1 && day.getUTCDate() === d && !Number.isNaN(Date.parse(iso));
}

/**
 * Validates a track request body. The first field in error is named, in a stable order, so an
 * integrator fixing one error at a time converges.
 */
export function validateTrackRequest(body: unknown): Result<TrackRequestBody> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalidFormat('body', 'must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  if (b.trackingType === undefined) return invalidFormat('trackingType', 'is required');
  if (typeof b.trackingType !== 'string') return invalidFormat('trackingType', 'must be a string');
  if (!(TRACKING_TYPES as readonly string[]).includes(b.trackingType)) {
    return invalidValue('trackingType', `must be one of ${TRACKING_TYPES.join(', ')}`);
  }
  const type = b.trackingType as TrackingType;
  for (const key of Object.keys(b)) {
    if (!ALLOWED[type].includes(key)) return invalidValue(key, `is not a field of a ${type} request`);
  }
  if (type === 'SHIPMENT' && b.trackingNumber === undefined) return invalidFormat('trackingNumber', 'is required');
  const formatError =
    checkString(b, 'trackingNumber', TRACKING_NUMBER, '4 to 40 letters or digits') ??
    checkString(b, 'productionSite', PRODUCTION_SITE, 'at most 64 letters, digits, spaces, dots, dashes or underscores') ??
    checkString(b, 'postalCode', POSTAL_CODE, 'at most 12 letters, digits, spaces or dashes') ??
    checkString(b, 'countryCode', COUNTRY_CODE, 'an ISO 3166-1 alpha-2 code such as GB') ??
    checkString(b, 'shipmentDate', ISO_DATE, 'an ISO 8601 date or date-time with offset') ??
    checkString(b, 'carrier', /^.*$/s, 'a string');
  if (formatError) return formatError;
  if (b.shipmentDate !== undefined && !isRealDate(b.shipmentDate as string)) {
    return invalidValue('shipmentDate', 'is not a real date');
  }
  if (b.countryCode !== undefined && !countryName(b.countryCode as string)) {
    return invalidValue('countryCode', 'is not an assigned ISO 3166-1 country code');
  }
  if (b.carrier !== undefined && !isCarrierCode(b.carrier)) return invalidValue('carrier', `is not a supported carrier code; use one of ${CARRIER_CODES.join(', ')}`);
  if (type === 'RETURN' && b.carrier !== undefined && b.trackingNumber === undefined) {
    return invalidFormat('trackingNumber', 'is required when carrier is given');
  }
  const value: TrackRequestBody = { trackingType: type };
  for (const key of ALLOWED[type]) if (b[key] !== undefined) (value as unknown as Record<string, unknown>)[key] = b[key];
  return { ok: true, value };
}

/** Stable hash of a validated body: the same request sent twice hashes the same, whatever its key order. */
export function requestHash(body: TrackRequestBody): string {
  const canonical = JSON.stringify(Object.keys(body).sort().map((k) => [k, (body as unknown as Record<string, unknown>)[k]]));
  return createHash('sha256').update(canonical).digest('base64url');
}
