import type { Checkpoint, ShipmentStatus, SubStatus, TrackResult } from '../domain/shipment.ts';
import { reportUnknownCode } from './unknown.ts';

export interface StatusRow {
  status: ShipmentStatus;
  subStatus?: SubStatus;
  /** Where the row comes from (a carrier document, or recorded answers), for rows a precedence rule reads. */
  source?: string;
}

/**
 * The statuses that name something going wrong. When a carrier classes an event as an exception itself
 * (UPS type X, FedEx derived DE/SE, DHL `failure`, La Poste PB/ND codes), a code-table row in this set
 * only says more precisely what went wrong and is kept; a row outside it contradicts the carrier and
 * gives way, unless the table writes down why not (docs/adding-a-carrier.md, "Precedence").
 */
export const ADVERSE_STATUSES: ReadonlySet<ShipmentStatus> = new Set(['EXCEPTION', 'FAILED_ATTEMPT', 'RETURNING_TO_SENDER', 'RETURNED_TO_SENDER']);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A trimmed non-empty string, or undefined for anything else: carriers send numbers and nulls where
 * strings belong. Control characters are dropped and lone surrogates become U+FFFD: the store refuses a
 * NUL or a lone surrogate in JSON, and one such checkpoint text must not stall its parcel's updates.
 */
export function nonEmpty(s: unknown): string | undefined {
  const t = typeof s === 'string' ? s.replace(CONTROL, '').replace(LONE_SURROGATE, '\uFFFD').trim() : undefined;
  return t ? t : undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The object items of a list field; anything that is not a list reads as empty. A carrier body is
 * untrusted JSON whatever its TypeScript type says, and one bad field must not throw the whole answer away.
 */
export function objects<T>(v: T[] | null | undefined | unknown): T[] {
  return Array.isArray(v) ? (v.filter(isObject) as T[]) : [];
}

/**
 * What a parser answers when a body still made it throw: a carrier error (retried with back-off, counted
 * by the breaker), never an exception that would end a poll round or a webhook with a 500.
 */
export function unreadable(label: string, err: unknown): TrackResult {
  return { kind: 'error', retryable: true, message: `${label} sent an unreadable body (${(err as Error)?.message ?? err})` };
}

/** Runs a parser's reading of one body; what still throws comes back as `unreadable`. */
export function readSafely(label: string, read: () => TrackResult): TrackResult {
  try {
    return read();
  } catch (err) {
    return unreadable(label, err);
  }
}

/**
 * The shape a pushed body must have, for the fields we read: `'string'`, `'scalar'` (string or number),
 * `[item]` for a list, or an object of field shapes. Missing and null fields are allowed everywhere.
 */
export type Shape = 'string' | 'scalar' | readonly [Shape] | { readonly [field: string]: Shape };

/** The path of the first field that does not match `shape` (e.g. `shipments[0].events`), or undefined. */
export function shapeError(value: unknown, shape: Shape, path = 'body'): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (shape === 'string') return typeof value === 'string' ? undefined : path;
  if (shape === 'scalar') return typeof value === 'string' || typeof value === 'number' ? undefined : path;
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return path;
    for (const [i, item] of value.entries()) {
      // A null item of a list is no data at all, unlike a missing field.
      const bad = item === null ? `${path}[${i}]` : shapeError(item, shape[0], `${path}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  if (!isObject(value)) return path;
  for (const [field, inner] of Object.entries(shape as Record<string, Shape>)) {
    const bad = shapeError(value[field], inner, `${path}.${field}`);
    if (bad) return bad;
  }
  return undefined;
}

/**
 * Looks a carrier code up in its table. A miss is reported (once per code) and answered with `fallback`,
 * the nearest safe status, so a new carrier code never breaks a poll.
 */
export function lookupStatus(
  provider: string,
  table: Record<string, StatusRow>,
  code: string | undefined,
  fallback: StatusRow,
  description?: string,
): StatusRow {
  if (code && Object.hasOwn(table, code)) return table[code];
  if (code) reportUnknownCode(provider, code, description);
  return fallback;
}

/**
 * Checkpoints oldest first. `feed` is the order the carrier lists events in: a newest-first list is
 * reversed before the (stable) sort, so two events at the same instant keep their true order, the older
 * one first, and the newest one (DELIVERED after OUT_FOR_DELIVERY in the same minute) decides the status.
 */
export function oldestFirst(checkpoints: (Checkpoint | undefined)[], feed: 'oldest-first' | 'newest-first'): Checkpoint[] {
  const present = checkpoints.filter((c): c is Checkpoint => c !== undefined);
  if (feed === 'newest-first') present.reverse();
  return present.sort((a, b) => a.checkpointTime.localeCompare(b.checkpointTime));
}

/** Spreads a subStatus only when there is one, so snapshots never carry `subStatus: undefined`. */
export function withSub(subStatus: SubStatus | undefined): { subStatus?: SubStatus } {
  return subStatus ? { subStatus } : {};
}

/** Adds optional string fields without writing `undefined` values into the object. */
export function defined<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
