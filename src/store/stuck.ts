import { sql } from 'kysely';
import type { Db } from './db.ts';
import { isoUtc } from './sql-time.ts';

export interface StuckQuery {
  now: Date;
  /** An open shipment with no carrier scan for this long is stuck. */
  scanDays: number;
  /** A shipment a site reported (CARD_SHIPPED) that its carrier has not scanned after this long. */
  siteDays: number;
  /** A notification pending for longer than this. */
  pendingHours: number;
  limit: number;
}

export interface StuckShipment {
  issuerId: string;
  cardId: string;
  operationId: string;
  carrier: string | null;
  trackingNumber: string | null;
  /** The shipment's status (PENDING before the carrier said anything). */
  status: string;
  /** The newest carrier update, or null when the carrier never said anything. */
  lastScanAt: string | null;
  createdAt: string;
}

export interface SiteShippedUnscanned {
  issuerId: string;
  cardId: string;
  operationId: string;
  siteId: string;
  shippedAt: string;
  carrier: string | null;
  trackingNumber: string | null;
  status: string;
}

export interface PendingNotification {
  issuerId: string;
  cardId: string | null;
  operationId: string;
  notificationId: string;
  pendingSince: string;
  attempts: number;
  lastError: string | null;
}

export interface StuckLists {
  noScan: { byStatus: { status: string; count: number }[]; items: StuckShipment[] };
  siteShippedNoScan: { items: SiteShippedUnscanned[] };
  pendingNotifications: { items: PendingNotification[] };
}

const DAY_MS = 86_400_000;
// What the shipment's state says of the carrier, as the generated columns of migration 0016 hold it: its
// status (none yet: PENDING) and its newest update.
export const STATUS = sql.raw('o.shipment_status');
export const LAST_SCAN = sql.raw('o.last_scan_at');
/** The stuck list's clock: the newest carrier word, or the request when the carrier never said anything. */
const QUIET_SINCE = sql.raw('coalesce(o.last_scan_at, o.created_at)');

/**
 * The stuck lists of the console, oldest first, each bounded by `limit`. Every one starts from a partial
 * index (operations_open_shipments_by_scan, operations_open_pre_pickup, outbox_pending_since): open
 * shipments and pending notifications are what is live, not the store's history, and the shipments' status
 * and last scan are columns of those indexes, so no query reads a shipment's state.
 */
export async function readStuck(db: Db, q: StuckQuery): Promise<StuckLists> {
  const scanCutoff = new Date(q.now.getTime() - q.scanDays * DAY_MS).toISOString();
  const siteCutoff = new Date(q.now.getTime() - q.siteDays * DAY_MS).toISOString();
  const pendingCutoff = new Date(q.now.getTime() - q.pendingHours * 3_600_000).toISOString();
  // A shipment the carrier last spoke of before the cutoff (or never, and it was asked before the cutoff).
  const noScanWhere = sql`o.is_open and o.tracking_type = 'SHIPMENT' and o.created_at < ${scanCutoff}::timestamptz
    and ${QUIET_SINCE} < ${scanCutoff}::timestamptz`;
  const byStatus = await sql<{ status: string; count: string }>`
    select ${STATUS} as status, count(*) as count from operations o where ${noScanWhere} group by 1 order by 1`.execute(db);
  const noScan = await sql<{ issuer_id: string; card_id: string; operation_id: string; carrier: string | null; tracking_number: string | null; status: string; last_scan: string | null; created: string }>`
    select o.issuer_id, o.card_id, o.operation_id, o.carrier, o.tracking_number, ${STATUS} as status,
      ${isoUtc('o.last_scan_at')} as last_scan, ${isoUtc('o.created_at')} as created
    from operations o where ${noScanWhere}
    order by ${QUIET_SINCE}, o.operation_id limit ${q.limit}`.execute(db);
  // An open shipment the carrier has not picked up yet (pre-pickup status), whose card a site reported
  // shipped before the cutoff: the parcel left the site, the carrier never scanned it.
  const siteShipped = await sql<{ issuer_id: string; card_id: string; operation_id: string; site_id: string; shipped: string; carrier: string | null; tracking_number: string | null; status: string }>`
    select issuer_id, card_id, operation_id, site_id, ${isoUtc('occurred_at')} as shipped, carrier, tracking_number, status
    from (
      -- Each such shipment with its card's first report: a hash join of the two sets (the open pre-pickup
      -- shipments come from operations_open_pre_pickup alone), not one index probe per open shipment.
      select distinct on (o.operation_id) o.issuer_id, o.card_id, o.operation_id, e.site_id, e.occurred_at, o.carrier, o.tracking_number, ${STATUS} as status
      from operations o join site_events e on e.issuer_id = o.issuer_id and e.card_id = o.card_id
      where o.is_open and o.tracking_type = 'SHIPMENT' and ${STATUS} in ('PENDING', 'INFO_RECEIVED')
        and e.type = 'CARD_SHIPPED' and e.occurred_at < ${siteCutoff}::timestamptz
      order by o.operation_id, e.occurred_at
    ) first_report
    order by occurred_at, operation_id limit ${q.limit}`.execute(db);
  const pending = await sql<{ issuer_id: string; card_id: string | null; operation_id: string; id: string; since: string; attempts: number; last_error: string | null }>`
    select n.issuer_id, o.card_id, n.operation_id, n.id, ${isoUtc('n.created_at')} as since, n.attempts, n.last_error
    from outbox n left join operations o on o.operation_id = n.operation_id
    where n.state = 'pending' and n.created_at < ${pendingCutoff}::timestamptz
    order by n.created_at, n.id limit ${q.limit}`.execute(db);
  return {
    noScan: {
      byStatus: byStatus.rows.map((r) => ({ status: r.status, count: Number(r.count) })),
      items: noScan.rows.map((r) => ({
        issuerId: r.issuer_id, cardId: r.card_id, operationId: r.operation_id, carrier: r.carrier, trackingNumber: r.tracking_number,
        status: r.status, lastScanAt: r.last_scan, createdAt: r.created,
      })),
    },
    siteShippedNoScan: {
      items: siteShipped.rows.map((r) => ({
        issuerId: r.issuer_id, cardId: r.card_id, operationId: r.operation_id, siteId: r.site_id, shippedAt: r.shipped,
        carrier: r.carrier, trackingNumber: r.tracking_number, status: r.status,
      })),
    },
    pendingNotifications: {
      items: pending.rows.map((r) => ({
        issuerId: r.issuer_id, cardId: r.card_id, operationId: r.operation_id, notificationId: r.id, pendingSince: r.since,
        attempts: r.attempts, lastError: r.last_error,
      })),
    },
  };
}
