import type { Checkpoint, ShipmentStatus, SubStatus } from '../domain/shipment.ts';
import { reportUnknownCode } from './unknown.ts';

export interface StatusRow {
  status: ShipmentStatus;
  subStatus?: SubStatus;
}

export function nonEmpty(s: string | null | undefined): string | undefined {
  const t = typeof s === 'string' ? s.trim() : undefined;
  return t ? t : undefined;
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

/** Checkpoints oldest first; the sort is stable so same-time events keep the carrier's order. */
export function oldestFirst(checkpoints: (Checkpoint | undefined)[]): Checkpoint[] {
  return checkpoints
    .filter((c): c is Checkpoint => c !== undefined)
    .sort((a, b) => a.checkpointTime.localeCompare(b.checkpointTime));
}

/** Spreads a subStatus only when there is one, so snapshots never carry `subStatus: undefined`. */
export function withSub(subStatus: SubStatus | undefined): { subStatus?: SubStatus } {
  return subStatus ? { subStatus } : {};
}

/** Adds optional string fields without writing `undefined` values into the object. */
export function defined<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
