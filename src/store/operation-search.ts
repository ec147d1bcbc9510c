import { sql } from 'kysely';
import type { OperationState } from '../domain/operation.ts';
import type { Db } from './db.ts';

export interface OperationFilter {
  issuerId?: string;
  cardId?: string;
  status?: string;
  trackingType?: string;
  open?: boolean;
  carrier?: string;
  limit: number;
  /** Keyset position: rows strictly older than this one. `createdAt` is the store's own text form. */
  after?: { createdAt: string; operationId: string };
}

export interface OperationListing {
  state: OperationState;
  carrier: string | null;
  trackingNumber: string | null;
  wakeAt: string | null;
  /** Exact creation time as the store prints it (microseconds kept): the cursor's sort key. */
  sortKey: string;
}

/** Operations newest first. Keyset paging stays fast at any depth, unlike OFFSET. */
export async function listOperations(db: Db, f: OperationFilter): Promise<OperationListing[]> {
  let q = db
    .selectFrom('operations')
    .select(['state', 'carrier', 'tracking_number', sql<string | null>`to_char(wake_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`.as('wake_at_iso'), sql<string>`created_at::text`.as('created_key')])
    .orderBy('created_at', 'desc')
    .orderBy('operation_id', 'desc')
    .limit(f.limit);
  if (f.issuerId) q = q.where('issuer_id', '=', f.issuerId);
  if (f.cardId) q = q.where('card_id', '=', f.cardId);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.trackingType) q = q.where('tracking_type', '=', f.trackingType);
  if (f.open !== undefined) q = q.where('is_open', '=', f.open);
  if (f.carrier) q = q.where('carrier', '=', f.carrier);
  if (f.after) {
    const { createdAt, operationId } = f.after;
    q = q.where(sql<boolean>`(created_at, operation_id) < (${createdAt}::timestamptz, ${operationId})`);
  }
  const rows = await q.execute();
  return rows.map((r) => ({
    state: r.state as unknown as OperationState,
    carrier: r.carrier,
    trackingNumber: r.tracking_number,
    wakeAt: r.wake_at_iso,
    sortKey: r.created_key,
  }));
}
