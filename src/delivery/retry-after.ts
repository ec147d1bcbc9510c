/** An issuer's `Retry-After` (RFC 9110 §10.2.3), as delay-seconds or an HTTP date, in milliseconds from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  // Only an HTTP date (all three of RFC 9110's forms start with the day's name): Date.parse alone also
  // reads "-5" or "1.5" as dates long past, which would mean "no wait".
  if (!HTTP_DATE_START.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const HTTP_DATE_START = /^\s*(Mon|Tue|Wed|Thu|Fri|Sat|Sun)/;
