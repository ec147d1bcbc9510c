/**
 * Carriers sometimes give a local time without an offset. We convert it with the time zone of the
 * checkpoint's location; when the location gives no zone we fall back to UTC rather than invent one.
 */
const COUNTRY_ZONES: Record<string, string> = {
  FR: 'Europe/Paris', DE: 'Europe/Berlin', ES: 'Europe/Madrid', GB: 'Europe/London', IE: 'Europe/Dublin',
  IT: 'Europe/Rome', NL: 'Europe/Amsterdam', BE: 'Europe/Brussels', LU: 'Europe/Luxembourg', CH: 'Europe/Zurich',
  AT: 'Europe/Vienna', PT: 'Europe/Lisbon', PL: 'Europe/Warsaw', CZ: 'Europe/Prague', SE: 'Europe/Stockholm',
  DK: 'Europe/Copenhagen', NO: 'Europe/Oslo', FI: 'Europe/Helsinki', GR: 'Europe/Athens', SG: 'Asia/Singapore',
  JP: 'Asia/Tokyo', CN: 'Asia/Shanghai', HK: 'Asia/Hong_Kong', KR: 'Asia/Seoul', IN: 'Asia/Kolkata',
  AE: 'Asia/Dubai', MX: 'America/Mexico_City', BR: 'America/Sao_Paulo', AR: 'America/Argentina/Buenos_Aires',
  CA: 'America/Toronto', US: 'America/New_York', AU: 'Australia/Sydney', NZ: 'Pacific/Auckland', ZA: 'Africa/Johannesburg',
};

const US_STATE_ZONES: Record<string, string> = {
  AL: 'America/Chicago', AK: 'America/Anchorage', AZ: 'America/Phoenix', AR: 'America/Chicago', CA: 'America/Los_Angeles',
  CO: 'America/Denver', CT: 'America/New_York', DE: 'America/New_York', DC: 'America/New_York', FL: 'America/New_York',
  GA: 'America/New_York', HI: 'Pacific/Honolulu', ID: 'America/Boise', IL: 'America/Chicago', IN: 'America/Indiana/Indianapolis',
  IA: 'America/Chicago', KS: 'America/Chicago', KY: 'America/New_York', LA: 'America/Chicago', ME: 'America/New_York',
  MD: 'America/New_York', MA: 'America/New_York', MI: 'America/Detroit', MN: 'America/Chicago', MS: 'America/Chicago',
  MO: 'America/Chicago', MT: 'America/Denver', NE: 'America/Chicago', NV: 'America/Los_Angeles', NH: 'America/New_York',
  NJ: 'America/New_York', NM: 'America/Denver', NY: 'America/New_York', NC: 'America/New_York', ND: 'America/Chicago',
  OH: 'America/New_York', OK: 'America/Chicago', OR: 'America/Los_Angeles', PA: 'America/New_York', RI: 'America/New_York',
  SC: 'America/New_York', SD: 'America/Chicago', TN: 'America/Chicago', TX: 'America/Chicago', UT: 'America/Denver',
  VT: 'America/New_York', VA: 'America/New_York', WA: 'America/Los_Angeles', WV: 'America/New_York', WI: 'America/Chicago',
  WY: 'America/Denver', PR: 'America/Puerto_Rico',
};

export interface PlaceHint {
  countryCode?: string;
  stateOrProvinceCode?: string;
}

export function zoneFor(place: PlaceHint): string | undefined {
  const country = typeof place.countryCode === 'string' ? place.countryCode.toUpperCase() : undefined;
  if (country === 'US' && typeof place.stateOrProvinceCode === 'string') {
    return US_STATE_ZONES[place.stateOrProvinceCode.toUpperCase()] ?? COUNTRY_ZONES.US;
  }
  return country ? COUNTRY_ZONES[country] : undefined;
}

/** Offset of `zone` from UTC, in minutes, at the given instant. */
function offsetMinutes(zone: string, at: Date): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - at.getTime()) / 60000);
}

const HAS_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;
const FIELDS = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/;

/**
 * Whether the calendar and clock fields written in the text exist: `Date` rolls overflowing fields
 * forward (month 13, day 45, hour 99 become a later real time), which would turn a garbled carrier time
 * into a plausible one, even a delivery in the future. Year 1970–9999 only: an ISO string past 9999 no
 * longer sorts as text.
 */
function fieldsExist(text: string): boolean {
  const f = FIELDS.exec(text);
  // Only ISO 8601 with a full date: Date.parse reads many other forms ("12 Z", "30 Feb 2026 … +0000",
  // "2026-2-30Z") and rolls their impossible fields forward just the same.
  if (!f) return false;
  const [y, mo, d, h = 0, mi = 0, s = 0] = f.slice(1).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return y >= 1970 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth && h <= 23 && mi <= 59 && s <= 59;
}
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?$/;

/**
 * Turns a carrier time into ISO 8601 UTC with milliseconds. Times with an offset are exact; local times
 * are read in the zone of `place`. Returns undefined for text that is not a time.
 */
export function toUtcIso(value: unknown, place: PlaceHint = {}): string | undefined {
  // Untrusted JSON: a number or object where a time belongs is no time, not an exception.
  if (typeof value !== 'string' || !value) return undefined;
  const text = value.trim();
  if (!fieldsExist(text)) return undefined;
  if (HAS_OFFSET.test(text)) {
    const ms = Date.parse(text);
    if (Number.isNaN(ms) || ms < 0 || ms >= Date.UTC(10_000, 0, 1)) return undefined;
    return new Date(ms).toISOString();
  }
  const m = LOCAL.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0'] = m;
  const wallAsUtc = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, +frac.padEnd(3, '0'));
  if (Number.isNaN(wallAsUtc)) return undefined;
  const zone = zoneFor(place);
  if (!zone) return new Date(wallAsUtc).toISOString();
  // Two passes settle the offset across a DST change.
  let utc = wallAsUtc - offsetMinutes(zone, new Date(wallAsUtc)) * 60000;
  utc = wallAsUtc - offsetMinutes(zone, new Date(utc)) * 60000;
  return new Date(utc).toISOString();
}
