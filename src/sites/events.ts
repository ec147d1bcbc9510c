import { CARRIER_CODES, type CarrierCode, isCarrierCode } from '../domain/carriers.ts';
import type { Result } from '../domain/errors.ts';
import { hasUnprintable } from '../domain/text.ts';
import { CARD_ID, ISSUER_ID } from '../domain/track-request.ts';

/** One production-site report (docs/contract.md §4), validated. */
export interface SiteEventInput {
  eventId: string;
  issuerId: string;
  cardId: string;
  type: 'CARD_SHIPPED' | 'CARD_RETURNED';
  occurredAt: string;
  carrier?: CarrierCode;
  trackingNumber?: string;
  reason?: string;
}

export const SITE_EVENT_FIELDS = ['eventId', 'issuerId', 'cardId', 'type', 'occurredAt', 'carrier', 'trackingNumber', 'reason'] as const;
export const SITE_EVENT_TYPES = ['CARD_SHIPPED', 'CARD_RETURNED'] as const;

/** A site id names its inbox folder: it may not start with a dot (`.` and `..` would leave `inbox/`). */
export const SITE_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;
export const SITE_ID_RULE = '1 to 64 of [A-Za-z0-9_.-], not starting with a dot';
const EVENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const TRACKING_NUMBER = /^[A-Za-z0-9]{4,40}$/;
/**
 * Free text, one line: control characters would break CSV reports and logs, and a line separator or a
 * bidirectional override would make a reason read differently in an operator's terminal or console.
 */
const REASON_MAX = 500;
/** With the u flag a surrogate pair is one code point; only a lone half is in the Cs category. */
const LONE_SURROGATE = /\p{Cs}/u;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
/** A site's clock may run a little ahead; a report from further in the future is a mistake. */
const FUTURE_SLACK_MS = 24 * 3_600_000;
/**
 * No card is reported shipped before this. The bound also keeps every accepted time inside what
 * PostgreSQL's timestamptz stores and parses: `0000-01-01T00:00:00+23:59` is year -1 in UTC, which the
 * store refuses, and a refusal there would take the good events of the same batch down with it.
 */
export const EARLIEST_OCCURRED_AT = '2000-01-01T00:00:00Z';
const EARLIEST_OCCURRED_AT_MS = Date.parse(EARLIEST_OCCURRED_AT);

const bad = (errorCode: 'FIELD_INVALID_FORMAT' | 'FIELD_INVALID_VALUE', field: string, why: string): Result<never> => ({
  ok: false,
  errorCode,
  error: `${field}: ${why}`,
});

function realDateTime(iso: string): boolean {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  const day = new Date(Date.UTC(y, m - 1, d));
  return day.getUTCMonth() === m - 1 && day.getUTCDate() === d && !Number.isNaN(Date.parse(iso));
}

/**
 * Validates one event on its own, so a bad event in a batch is rejected alone. Fields are checked in a
 * stable order and the first one in error is named. Empty strings count as absent (CSV cells).
 */
export function validateSiteEvent(raw: unknown, now = Date.now()): Result<SiteEventInput> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('FIELD_INVALID_FORMAT', 'event', 'must be an object');
  const e = raw as Record<string, unknown>;
  for (const key of Object.keys(e)) {
    if (!(SITE_EVENT_FIELDS as readonly string[]).includes(key)) return bad('FIELD_INVALID_VALUE', key, 'is not a field of a site event');
  }
  const present = (k: string) => e[k] !== undefined && e[k] !== null && e[k] !== '';
  const text = (k: string, pattern: RegExp, what: string, required: boolean): Result<never> | undefined => {
    if (!present(k)) return required ? bad('FIELD_INVALID_FORMAT', k, 'is required') : undefined;
    if (typeof e[k] !== 'string' || !pattern.test(e[k] as string)) return bad('FIELD_INVALID_FORMAT', k, `must be ${what}`);
    return undefined;
  };
  const formatError =
    text('eventId', EVENT_ID, '1 to 128 of [A-Za-z0-9_.:-]', true) ??
    text('issuerId', ISSUER_ID, '10 of [A-Za-z0-9_-]', true) ??
    text('cardId', CARD_ID, '1 to 48 of [A-Za-z0-9_-]', true) ??
    text('type', /^.+$/s, 'a string', true) ??
    text('occurredAt', DATE_TIME, 'an ISO 8601 date-time with offset, e.g. 2026-05-01T10:00:00Z', true) ??
    text('carrier', /^.+$/s, 'a string', false) ??
    text('trackingNumber', TRACKING_NUMBER, '4 to 40 letters or digits', false) ??
    (present('reason') && (typeof e.reason !== 'string' || e.reason.length > REASON_MAX || hasUnprintable(e.reason))
      ? bad('FIELD_INVALID_FORMAT', 'reason', `must be at most ${REASON_MAX} characters without control, invisible or bidirectional formatting characters, or line separators`)
      : undefined);
  if (formatError) return formatError;
  // The store keeps text as UTF-8 and refuses a lone surrogate half (JSON allows `\ud800`), and NUL
  // (which hasUnprintable already refuses, as a control character).
  if (present('reason') && LONE_SURROGATE.test(e.reason as string)) return bad('FIELD_INVALID_FORMAT', 'reason', 'must be well-formed text (a lone UTF-16 surrogate is not)');
  const type = e.type as string;
  if (!(SITE_EVENT_TYPES as readonly string[]).includes(type)) return bad('FIELD_INVALID_VALUE', 'type', 'must be CARD_SHIPPED or CARD_RETURNED');
  const occurredAt = e.occurredAt as string;
  if (!realDateTime(occurredAt)) return bad('FIELD_INVALID_VALUE', 'occurredAt', 'is not a real date');
  if (Date.parse(occurredAt) < EARLIEST_OCCURRED_AT_MS) return bad('FIELD_INVALID_VALUE', 'occurredAt', `is before ${EARLIEST_OCCURRED_AT}`);
  if (Date.parse(occurredAt) > now + FUTURE_SLACK_MS) return bad('FIELD_INVALID_VALUE', 'occurredAt', 'is more than a day in the future');
  if (present('carrier') && !isCarrierCode(e.carrier)) return bad('FIELD_INVALID_VALUE', 'carrier', `is not a supported carrier code; use one of ${CARRIER_CODES.join(', ')}`);
  const value: SiteEventInput = {
    eventId: e.eventId as string,
    issuerId: e.issuerId as string,
    cardId: e.cardId as string,
    type: type as SiteEventInput['type'],
    occurredAt: new Date(occurredAt).toISOString(),
  };
  if (present('carrier')) value.carrier = e.carrier as CarrierCode;
  if (present('trackingNumber')) value.trackingNumber = e.trackingNumber as string;
  if (present('reason')) value.reason = e.reason as string;
  return { ok: true, value };
}
