import { type RawBuilder, sql } from 'kysely';
import type { Db } from './db.ts';

/**
 * Aggregates behind the console's Overview and Sites views (GET /admin/v1/insights/summary and /sites).
 * A window [from, to) selects operations by when they were opened (created_at: operations_newest) or
 * finished (updated_at of a closed operation: operations_finished, migration 0014). A closed operation is
 * written no more (saveDecision is the only writer of updated_at, and nothing decides on a closed one), so
 * its updated_at is when it finished. Hours are UTC.
 */

export interface InsightsWindow {
  from: Date;
  to: Date;
}

export interface Percentiles {
  count: number;
  p50Seconds: number | null;
  p90Seconds: number | null;
}

const HOUR = sql`to_char(date_trunc('hour', ts at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:00:00"Z"')`;
/** Seconds from the request to the operation's end, from the state's own times (the hub's clock). */
const DURATION = sql`extract(epoch from ((s->>'endTime')::timestamptz - (s->>'startTime')::timestamptz))`;
/** The site that made the card: the one whose report completed it, else the one the request named. */
const SITE = sql`coalesce(s->>'productionSite', s->'request'->>'productionSite')`;
/**
 * The state, read once per row: every \`state->…\` reads the whole stored value again (out of line once a
 * shipment has a few checkpoints), so inner queries take this in-memory copy and stop flattening (offset 0).
 */
const STATE_ONCE = sql`(state || '{}'::jsonb) as s`;

/** A shipment reached one of these statuses: its current status or any checkpoint's. */
function reached(statuses: string[]): RawBuilder<boolean> {
  const each = statuses.map((s) => sql`(st = ${s} or cps @> ${JSON.stringify([{ status: s }])}::jsonb)`);
  return sql<boolean>`(${sql.join(each, sql` or `)})`;
}

/** Funnel stages; each counts the shipments that reached it or any later one (a DELIVERED parcel went through IN_TRANSIT even when the carrier sent no such scan). */
const STAGES: [string, string[]][] = [
  ['DELIVERED', ['DELIVERED']],
  ['OUT_FOR_DELIVERY', ['OUT_FOR_DELIVERY', 'AVAILABLE_FOR_PICKUP', 'FAILED_ATTEMPT']],
  ['IN_TRANSIT', ['IN_TRANSIT', 'RETURNING_TO_SENDER', 'RETURNED_TO_SENDER']],
  ['INFO_RECEIVED', ['INFO_RECEIVED']],
];

function pct(row: { n: number | string; p50: number | null; p90: number | null }): Percentiles {
  const round = (v: number | null) => (v === null ? null : Math.round(Number(v) * 1000) / 1000);
  return { count: Number(row.n), p50Seconds: round(row.p50), p90Seconds: round(row.p90) };
}

export interface InsightsSummary {
  opened: { hour: string; trackingType: string; count: number }[];
  finished: { hour: string; trackingType: string; status: string; errorCode: string | null; count: number }[];
  funnel: { shipments: number; PENDING: number; INFO_RECEIVED: number; IN_TRANSIT: number; OUT_FOR_DELIVERY: number; DELIVERED: number; exceptions: number; failures: number };
  deliveryTime: { byCarrier: (Percentiles & { carrier: string | null })[]; bySite: (Percentiles & { productionSite: string | null })[] };
  rates: { shipments: number; exceptionRate: number | null; failureRate: number | null; finished: number; failedFinished: number; failureRateFinished: number | null };
}

export async function insightsSummary(db: Db, w: InsightsWindow): Promise<InsightsSummary> {
  const { from, to } = { from: w.from.toISOString(), to: w.to.toISOString() };
  const opened = await sql<{ hour: string; tracking_type: string; n: string }>`
    select ${HOUR} as hour, tracking_type, count(*) as n
    from (select created_at as ts, tracking_type from operations where created_at >= ${from} and created_at < ${to}) o
    group by 1, 2 order by 1, 2`.execute(db);
  const finished = await sql<{ hour: string; tracking_type: string; status: string; code: string | null; n: string }>`
    select ${HOUR} as hour, tracking_type, status, code, count(*) as n
    from (select updated_at as ts, tracking_type, status, case when status = 'FAILED' then state->>'errorCode' end as code from operations
          where not is_open and updated_at >= ${from} and updated_at < ${to}) o
    group by 1, 2, 3, 4 order by 1, 2, 3, 4`.execute(db);
  const stageCols = STAGES.map((_, i) => sql`count(*) filter (where ${sql.join(STAGES.slice(0, i + 1).map(([, s]) => reached(s)), sql` or `)})`);
  const funnel = await sql<Record<string, string>>`
    select count(*) as shipments,
      ${stageCols[0]} as delivered, ${stageCols[1]} as out_for_delivery, ${stageCols[2]} as in_transit, ${stageCols[3]} as info_received,
      count(*) filter (where ${reached(['EXCEPTION'])}) as exceptions,
      count(*) filter (where status = 'FAILED') as failures
    from (select status, coalesce(sh->>'status', '') as st, coalesce(sh->'checkpoints', '[]'::jsonb) as cps
          from (select status, state->'shipment' as sh from operations
                where tracking_type = 'SHIPMENT' and created_at >= ${from} and created_at < ${to} offset 0) r) f`.execute(db);
  // Delivered shipments finished in the window (a parcel returned to its sender is no delivery), per
  // carrier and per site in one pass.
  const times = await sql<{ by_carrier: number; key: string | null; n: string; p50: number | null; p90: number | null }>`
    select grouping(site) as by_carrier, coalesce(carrier, site) as key, count(*) as n,
      percentile_cont(0.5) within group (order by secs) as p50, percentile_cont(0.9) within group (order by secs) as p90
    from (select carrier, ${SITE} as site, ${DURATION} as secs
          from (select carrier, ${STATE_ONCE} from operations
                where not is_open and updated_at >= ${from} and updated_at < ${to} and tracking_type = 'SHIPMENT' and status = 'SUCCESSFUL'
                offset 0) d
          where s->'shipment'->>'status' = 'DELIVERED') e
    group by grouping sets ((carrier), (site))
    order by 1 desc, 2 nulls last`.execute(db);
  const byCarrier = times.rows.filter((r) => Number(r.by_carrier) === 1);
  const bySite = times.rows.filter((r) => Number(r.by_carrier) === 0).slice(0, 500);
  const f = funnel.rows[0];
  const shipments = Number(f.shipments);
  const closed = finished.rows.reduce((sum, r) => sum + Number(r.n), 0);
  const failedClosed = finished.rows.filter((r) => r.status === 'FAILED').reduce((sum, r) => sum + Number(r.n), 0);
  const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000);
  return {
    opened: opened.rows.map((r) => ({ hour: r.hour, trackingType: r.tracking_type, count: Number(r.n) })),
    finished: finished.rows.map((r) => ({ hour: r.hour, trackingType: r.tracking_type, status: r.status, errorCode: r.code, count: Number(r.n) })),
    funnel: {
      shipments,
      PENDING: shipments,
      INFO_RECEIVED: Number(f.info_received),
      IN_TRANSIT: Number(f.in_transit),
      OUT_FOR_DELIVERY: Number(f.out_for_delivery),
      DELIVERED: Number(f.delivered),
      exceptions: Number(f.exceptions),
      failures: Number(f.failures),
    },
    deliveryTime: {
      byCarrier: byCarrier.map((r) => ({ carrier: r.key, ...pct(r) })),
      bySite: bySite.map((r) => ({ productionSite: r.key, ...pct(r) })),
    },
    rates: {
      shipments,
      exceptionRate: ratio(Number(f.exceptions), shipments),
      failureRate: ratio(Number(f.failures), shipments),
      finished: closed,
      failedFinished: failedClosed,
      failureRateFinished: ratio(failedClosed, closed),
    },
  };
}

export interface SiteInsight {
  productionSite: string;
  registered: boolean;
  requested: number;
  shipped: Percentiles;
  productionTimeouts: number;
  inboxFiles: { files: number; processing: number; done: number; rejected: number; accepted: number; duplicates: number; rejectedLines: number };
}

/**
 * Per production site: PRODUCTION requests opened in the window, request → CARD_SHIPPED latency and
 * PRODUCTION_TIMEOUTs of those finished in it, and the inbox files first seen in it with their counts.
 * Sites are the registered ones and any a request named (at most 500 of those).
 */
export async function siteInsights(db: Db, w: InsightsWindow): Promise<SiteInsight[]> {
  const { from, to } = { from: w.from.toISOString(), to: w.to.toISOString() };
  const ops = await sql<{ site: string; requested: string; n: string; p50: number | null; p90: number | null; timeouts: string }>`
    select site,
      count(*) filter (where created_at >= ${from} and created_at < ${to}) as requested,
      count(*) filter (where done) as n,
      percentile_cont(0.5) within group (order by secs) filter (where done) as p50,
      percentile_cont(0.9) within group (order by secs) filter (where done) as p90,
      count(*) filter (where ended and code = 'PRODUCTION_TIMEOUT') as timeouts
    from (select ${SITE} as site, created_at, ended, ended and status = 'SUCCESSFUL' as done, case when ended then ${DURATION} end as secs, s->>'errorCode' as code
          from (select created_at, status, ${STATE_ONCE}, (not is_open and updated_at >= ${from} and updated_at < ${to}) as ended from operations
                where tracking_type = 'PRODUCTION'
                  and ((created_at >= ${from} and created_at < ${to}) or (not is_open and updated_at >= ${from} and updated_at < ${to}))) w
          offset 0) o
    where site is not null
    group by 1 order by 1 limit 500`.execute(db);
  const files = await sql<{ site_id: string; files: string; processing: string; done: string; rejected: string; accepted: string; duplicates: string; lines: string }>`
    select site_id, count(*) as files,
      count(*) filter (where state = 'processing') as processing, count(*) filter (where state = 'done') as done,
      count(*) filter (where state = 'rejected') as rejected,
      coalesce(sum(accepted), 0) as accepted, coalesce(sum(duplicates), 0) as duplicates, coalesce(sum(rejected_count), 0) as lines
    from inbox_files where created_at >= ${from} and created_at < ${to} group by site_id`.execute(db);
  const registered = await db.selectFrom('production_sites').select('site_id').execute();
  const known = new Set(registered.map((r) => r.site_id));
  const byOps = new Map(ops.rows.map((r) => [r.site, r]));
  const byFiles = new Map(files.rows.map((r) => [r.site_id, r]));
  const ids = [...new Set([...known, ...byOps.keys(), ...byFiles.keys()])].sort();
  return ids.map((id) => {
    const o = byOps.get(id);
    const f = byFiles.get(id);
    return {
      productionSite: id,
      registered: known.has(id),
      requested: Number(o?.requested ?? 0),
      shipped: pct(o ?? { n: 0, p50: null, p90: null }),
      productionTimeouts: Number(o?.timeouts ?? 0),
      inboxFiles: {
        files: Number(f?.files ?? 0),
        processing: Number(f?.processing ?? 0),
        done: Number(f?.done ?? 0),
        rejected: Number(f?.rejected ?? 0),
        accepted: Number(f?.accepted ?? 0),
        duplicates: Number(f?.duplicates ?? 0),
        rejectedLines: Number(f?.lines ?? 0),
      },
    };
  });
}
