import { Type } from 'typebox';
import { ApiError } from '../domain/errors.ts';
import { parseTime } from '../domain/time.ts';

const HOUR_MS = 3_600_000;
/** The longest window: a month of hours is what a chart shows, and it bounds what one request reads. */
const MAX_WINDOW_MS = 31 * 24 * HOUR_MS;
/** An ISO 8601 time with its offset: a time without one would be read in the hub's zone, and every view is UTC. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The domain's ISO reader (it refuses a day its month lacks), held to a time with its offset; `name` is the field the 400 names. */
export function timeParam(name: string, value: string): Date {
  const t = ISO_TIME.test(value) ? parseTime(value) : undefined;
  if (!t) throw new ApiError('FIELD_INVALID_FORMAT', `${name}: is not an ISO 8601 time with an offset (e.g. 2026-12-01T00:00:00Z)`);
  // Times are held to the millisecond: microseconds would be cut off silently, and a replay would then
  // take rows from before `since` (or refuse an `until` that is after it). Trailing zeros are harmless.
  if (/\.\d{3}0*[1-9]/.test(value)) {
    throw new ApiError('FIELD_INVALID_VALUE', `${name}: at most millisecond precision (e.g. 2026-12-01T00:00:00.123Z; Python: isoformat(timespec='milliseconds'))`);
  }
  // An offset can carry a time past either end once in UTC (9999-12-31T23:59:59-12:00 is in year 10000):
  // PostgreSQL would refuse it with a message naming no field.
  const year = t.getUTCFullYear();
  if (year < 1 || year > 9999) throw new ApiError('FIELD_INVALID_VALUE', `${name}: must fall within the years 0001 to 9999 in UTC`);
  return t;
}

export interface TimeWindow {
  from: Date;
  to: Date;
}

/** The window asked for (the insights routes' `from` and `to`), checked before any query: from before to, at most 31 days; default the last 24 hours. */
export function insightsWindow(q: { from?: string; to?: string }, now = new Date()): TimeWindow {
  const to = q.to !== undefined ? timeParam('to', q.to) : now;
  const from = q.from !== undefined ? timeParam('from', q.from) : new Date(to.getTime() - 24 * HOUR_MS);
  if (from.getTime() >= to.getTime()) throw new ApiError('FIELD_INVALID_VALUE', 'from: must be before to');
  if (to.getTime() - from.getTime() > MAX_WINDOW_MS) throw new ApiError('FIELD_INVALID_VALUE', 'to: the window from from to to is at most 31 days');
  return { from, to };
}

/** The query of a windowed insights route: `from` and `to`, as insightsWindow reads them. */
export const WindowQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 time with offset (default: 24 hours before `to`)' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 time with offset, excluded (default: now)' })),
  },
  { additionalProperties: false },
);
