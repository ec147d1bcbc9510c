import { type RawBuilder, sql } from 'kysely';
import type { Db } from './db.ts';
import { allLive, type BucketCount, bucketPercentile, type Coverage, durationsIn, ensureRolled, finishedRows, funnelCodes, openedRows } from './insight-rollup.ts';

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

/**
 * Site names no registered site bears, shown at most (alphabetically first): a request's productionSite is the
 * issuer's free text, so their number has no bound; registered sites are always shown, never cut by these.
 */
export const UNREGISTERED_SITES_SHOWN = 500;

/** Registered site ids first (all of them), then at most UNREGISTERED_SITES_SHOWN others; how many others were cut. */
function capUnregistered<T>(keys: T[], registered: Set<T>): { kept: Set<T>; omitted: number } {
  const others = keys.filter((k) => !registered.has(k)).sort();
  const kept = new Set([...keys.filter((k) => registered.has(k)), ...others.slice(0, UNREGISTERED_SITES_SHOWN)]);
  return { kept, omitted: Math.max(0, others.length - UNREGISTERED_SITES_SHOWN) };
}

const HOUR_TEXT = sql`to_char(hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"')`;

/** Funnel stages, highest first, with the stage number funnel_code holds in its low bits (migration 0016). */
const STAGES = [
  ['DELIVERED', 4],
  ['OUT_FOR_DELIVERY', 3],
  ['IN_TRANSIT', 2],
  ['INFO_RECEIVED', 1],
] as const;

function pct(n: number, p50: number | null, p90: number | null): Percentiles {
  const round = (v: number | null) => (v === null ? null : Math.round(Number(v) * 1000) / 1000);
  return { count: n, p50Seconds: round(p50), p90Seconds: round(p90) };
}

/** Percentiles per key from bucket rows, keys in the order of their first row. */
function percentilesBy(rows: { key: string | null; bucket: number; n: number }[]): Map<string | null, Percentiles> {
  const groups = new Map<string | null, BucketCount[]>();
  for (const r of rows) {
    const g = groups.get(r.key) ?? [];
    g.push({ bucket: Number(r.bucket), n: Number(r.n) });
    groups.set(r.key, g);
  }
  const out = new Map<string | null, Percentiles>();
  for (const [key, g] of groups) out.set(key, pct(g.reduce((s, b) => s + b.n, 0), bucketPercentile(g, 0.5), bucketPercentile(g, 0.9)));
  return out;
}

/** Roll-up rows of the rolled part of the window (none when nothing is rolled). */
function rolledIn(table: string, c: Coverage): RawBuilder<unknown> {
  if (!c.rolled) return sql`select * from ${sql.table(table)} where false`;
  return sql`select * from ${sql.table(table)} where hour >= ${c.rolled[0]}::timestamptz and hour < ${c.rolled[1]}::timestamptz`;
}

/** Percentiles of a kind's durations over the window, per carrier and per site (keys ordered, null last). */
async function durations(db: Db, c: Coverage, kind: string) {
  const rows = await sql<{ dimension: string; key: string | null; bucket: number; n: string }>`
    select dimension, key, bucket, sum(n) as n from (${durationsIn(c, kind)}) d
    group by dimension, key, bucket order by dimension, key nulls last, bucket`.execute(db);
  const of = (dimension: string) => percentilesBy(rows.rows.filter((r) => r.dimension === dimension).map((r) => ({ key: r.key, bucket: r.bucket, n: Number(r.n) })));
  return { byCarrier: of('carrier'), bySite: of('site') };
}

export interface InsightsSummary {
  opened: { hour: string; trackingType: string; count: number }[];
  finished: { hour: string; trackingType: string; status: string; errorCode: string | null; count: number }[];
  funnel: { shipments: number; PENDING: number; INFO_RECEIVED: number; IN_TRANSIT: number; OUT_FOR_DELIVERY: number; DELIVERED: number; exceptions: number; failures: number };
  deliveryTime: {
    byCarrier: (Percentiles & { carrier: string | null })[];
    /** Every registered site, the shipments with no site (null) and at most UNREGISTERED_SITES_SHOWN other names. */
    bySite: (Percentiles & { productionSite: string | null })[];
    /** Other site names left out of bySite. */
    unregisteredSitesOmitted: number;
  };
  rates: { shipments: number; exceptionRate: number | null; failureRate: number | null; finished: number; failedFinished: number; failureRateFinished: number | null };
}

/** `rollups: false` computes everything live from operations (the tests' and the bench's reference). */
export async function insightsSummary(db: Db, w: InsightsWindow, rollups = true): Promise<InsightsSummary> {
  const { from, to } = { from: w.from.toISOString(), to: w.to.toISOString() };
  const c = rollups ? await ensureRolled(db, w.from, w.to) : allLive(w.from, w.to);
  const opened = await sql<{ hour: string; tracking_type: string; n: string }>`
    select ${HOUR_TEXT} as hour, tracking_type, sum(n) as n
    from (select hour, tracking_type, n from (${rolledIn('insight_opened', c)}) r
          union all select hour, tracking_type, n from (${openedRows(c.live)}) l) o
    group by hour, tracking_type order by hour, tracking_type`.execute(db);
  const finished = await sql<{ hour: string; tracking_type: string; status: string; code: string | null; n: string }>`
    select ${HOUR_TEXT} as hour, tracking_type, status, error_code as code, sum(n) as n
    from (select hour, tracking_type, status, error_code, n from (${rolledIn('insight_finished', c)}) r
          union all select hour, tracking_type, status, error_code, n from (${finishedRows(c.live)}) l) o
    group by hour, tracking_type, status, error_code order by hour, tracking_type, status, error_code`.execute(db);
  const codes = await sql<{ code: number; n: string }>`${funnelCodes(c, from, to)}`.execute(db);
  const count = (pick: (code: number) => boolean) => codes.rows.filter((r) => pick(Number(r.code))).reduce((sum, r) => sum + Number(r.n), 0);
  const stage = (min: number) => count((code) => (code & 7) >= min);
  const { byCarrier, bySite } = await durations(db, c, 'delivery');
  const registered = new Set<string | null>((await db.selectFrom('production_sites').select('site_id').execute()).map((r) => r.site_id));
  registered.add(null);
  const siteCut = capUnregistered([...bySite.keys()], registered);
  const f = {
    shipments: count(() => true),
    delivered: stage(STAGES[0][1]),
    out_for_delivery: stage(STAGES[1][1]),
    in_transit: stage(STAGES[2][1]),
    info_received: stage(STAGES[3][1]),
    exceptions: count((code) => (code & 8) !== 0),
    failures: count((code) => (code & 16) !== 0),
  };
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
      byCarrier: [...byCarrier].map(([carrier, p]) => ({ carrier, ...p })),
      bySite: [...bySite].filter(([site]) => siteCut.kept.has(site)).map(([productionSite, p]) => ({ productionSite, ...p })),
      unregisteredSitesOmitted: siteCut.omitted,
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
 * Sites are every registered one and, of the names requests gave that no registered site bears (an
 * issuer's free text), the first UNREGISTERED_SITES_SHOWN alphabetically; unregisteredSitesOmitted counts the rest.
 */
export async function siteInsights(db: Db, w: InsightsWindow, rollups = true): Promise<{ sites: SiteInsight[]; unregisteredSitesOmitted: number }> {
  const { from, to } = { from: w.from.toISOString(), to: w.to.toISOString() };
  const c = rollups ? await ensureRolled(db, w.from, w.to) : allLive(w.from, w.to);
  // Requests that named a site, from the roll-ups; those that named none have a site once a site's report
  // completed them, which may come after their hour was rolled: counted live (operations_production_unnamed).
  const requested = await sql<{ site: string; n: string }>`
    select site, sum(n) as n from (
      select site, n from (${rolledIn('insight_opened', c)}) r where tracking_type = 'PRODUCTION'
      union all select site, n from (${openedRows(c.live)}) l where tracking_type = 'PRODUCTION'
      union all select state->>'productionSite', 1 from operations
        where tracking_type = 'PRODUCTION' and (state->'request'->>'productionSite') is null and created_at >= ${from} and created_at < ${to}
    ) o where site is not null group by site`.execute(db);
  const timeouts = await sql<{ site: string; n: string }>`
    select site, sum(n) as n from (
      select site, n, error_code from (${rolledIn('insight_finished', c)}) r where tracking_type = 'PRODUCTION'
      union all select site, n, error_code from (${finishedRows(c.live)}) l where tracking_type = 'PRODUCTION'
    ) o where site is not null and error_code = 'PRODUCTION_TIMEOUT' group by site`.execute(db);
  const latency = (await durations(db, c, 'production')).bySite;
  latency.delete(null);
  const req = new Map(requested.rows.map((r) => [r.site, Number(r.n)]));
  const out = new Map(timeouts.rows.map((r) => [r.site, Number(r.n)]));
  const named = [...new Set([...req.keys(), ...out.keys(), ...[...latency.keys()].filter((k): k is string => k !== null)])];
  const files = await sql<{ site_id: string; files: string; processing: string; done: string; rejected: string; accepted: string; duplicates: string; lines: string }>`
    select site_id, count(*) as files,
      count(*) filter (where state = 'processing') as processing, count(*) filter (where state = 'done') as done,
      count(*) filter (where state = 'rejected') as rejected,
      coalesce(sum(accepted), 0) as accepted, coalesce(sum(duplicates), 0) as duplicates, coalesce(sum(rejected_count), 0) as lines
    from inbox_files where created_at >= ${from} and created_at < ${to} group by site_id`.execute(db);
  const registered = await db.selectFrom('production_sites').select('site_id').execute();
  const known = new Set(registered.map((r) => r.site_id));
  const byFiles = new Map(files.rows.map((r) => [r.site_id, r]));
  // Inbox files belong to registered sites (their folders are made for them), but a site deleted since keeps its files.
  const cut = capUnregistered([...new Set([...known, ...named, ...byFiles.keys()])], known);
  const ids = [...cut.kept].sort();
  const sites = ids.map((id) => {
    const f = byFiles.get(id);
    return {
      productionSite: id,
      registered: known.has(id),
      requested: req.get(id) ?? 0,
      shipped: latency.get(id) ?? pct(0, null, null),
      productionTimeouts: out.get(id) ?? 0,
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
  return { sites, unregisteredSitesOmitted: cut.omitted };
}
