import { type RawBuilder, sql } from 'kysely';
import type { Db } from './db.ts';
import { withLongerTimeout } from './read-timeout.ts';

/**
 * Hourly roll-ups behind the insights (migration 0016, docs/design.md "Insights at scale"). The same
 * aggregate statements fill the roll-up tables for closed hours and answer live for the rest of a window
 * (its partial first and last hours, the hours not rolled yet), so a rolled answer equals the live one.
 *
 * An hour is rolled once no transaction that began before its end can still commit a row into it:
 * created_at and updated_at are the writing transaction's now(), so a transaction that began at 10:59
 * and commits at 11:01 writes into hour 10. The horizon is therefore the start of the oldest transaction
 * still running on this database (pg_stat_activity; the hub's own role sees its sessions), and at least a
 * minute ago. A closed operation is never written again (saveDecision writes only open ones, nothing
 * deletes operations), so once rolled an hour's figures never change.
 */

/** Durations go into log-scale buckets: 16 per doubling, so a bucket's midpoint is within 2^(1/32) − 1 ≈ 2.2 % of any value in it. */
export const BUCKETS_PER_DOUBLING = 16;
/** Relative bound of a percentile read from buckets against percentile_cont over the same values. */
export const PERCENTILE_ERROR = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const LOCK_KEY = sql`hashtext('trackhub.insight_rollup')`;
/** Statement timeout of a roll-up run inside a console read (a read's own is a few seconds). */
export const ROLLUP_STATEMENT_TIMEOUT_MS = 60_000;

/** A time range [from, to) as ISO strings. */
export type Range = [string, string];

export function inRanges(column: RawBuilder<unknown>, ranges: Range[]): RawBuilder<boolean> {
  if (ranges.length === 0) return sql<boolean>`false`;
  return sql<boolean>`(${sql.join(
    ranges.map(([a, b]) => sql`(${column} >= ${a}::timestamptz and ${column} < ${b}::timestamptz)`),
    sql` or `,
  )})`;
}

const hourOf = (column: RawBuilder<unknown>) => sql`(date_trunc('hour', ${column} at time zone 'UTC') at time zone 'UTC')`;
/** Seconds from the request to the operation's end, from the state's own times (the hub's clock). */
const DURATION = sql`extract(epoch from ((s->>'endTime')::timestamptz - (s->>'startTime')::timestamptz))::float8`;
/** The site that made the card: the one whose report completed it, else the one the request named. */
export const SITE = sql`coalesce(s->>'productionSite', s->'request'->>'productionSite')`;
const BUCKET = sql`floor(${BUCKETS_PER_DOUBLING} * ln(greatest(secs, 0.001)) / ln(2))::smallint`;

/** Operations opened, per hour, type and (PRODUCTION) the site the request named. */
export function openedRows(ranges: Range[]): RawBuilder<{ hour: Date; tracking_type: string; site: string | null; n: number }> {
  const created = sql.raw('created_at');
  return sql`select ${hourOf(created)} as hour, tracking_type,
      case when tracking_type = 'PRODUCTION' then state->'request'->>'productionSite' end as site, count(*)::int as n
    from operations where ${inRanges(created, ranges)} group by 1, 2, 3`;
}

/** Operations finished, per hour, type, status, error code and (PRODUCTION) site. */
export function finishedRows(ranges: Range[]): RawBuilder<{ hour: Date; tracking_type: string; status: string; error_code: string | null; site: string | null; n: number }> {
  const updated = sql.raw('updated_at');
  return sql`select ${hourOf(updated)} as hour, tracking_type, status,
      case when status = 'FAILED' then state->>'errorCode' end as error_code,
      case when tracking_type = 'PRODUCTION' then coalesce(state->>'productionSite', state->'request'->>'productionSite') end as site, count(*)::int as n
    from operations where not is_open and ${inRanges(updated, ranges)} group by 1, 2, 3, 4, 5`;
}

/**
 * Durations per hour of finishing, bucketed: 'delivery' for delivered shipments (a parcel returned to its
 * sender is no delivery), 'production' for PRODUCTION requests a site completed; each counted once by
 * carrier and once by site. The state is read once per row (`state || '{}'` is an in-memory copy; offset 0
 * keeps it one).
 */
export function durationRows(ranges: Range[]): RawBuilder<{ hour: Date; kind: string; dimension: string; key: string | null; bucket: number; n: number }> {
  const updated = sql.raw('updated_at');
  return sql`select hour, kind, case when grouping(site) = 1 then 'carrier' else 'site' end as dimension, coalesce(carrier, site) as key,
      bucket, count(*)::int as n
    from (select ${hourOf(updated)} as hour, kind, carrier, site, ${BUCKET} as bucket
          from (select updated_at, case when tracking_type = 'SHIPMENT' then 'delivery' else 'production' end as kind,
                  case when tracking_type = 'SHIPMENT' then carrier end as carrier, ${SITE} as site, ${DURATION} as secs
                from (select updated_at, tracking_type, carrier, (state || '{}'::jsonb) as s from operations
                      where not is_open and status = 'SUCCESSFUL' and tracking_type in ('SHIPMENT', 'PRODUCTION') and ${inRanges(updated, ranges)}
                      offset 0) d
                where tracking_type = 'PRODUCTION' or s->'shipment'->>'status' = 'DELIVERED') e
          where secs is not null) b
    group by grouping sets ((hour, kind, carrier, bucket), (hour, kind, site, bucket))`;
}

/** Bucketed durations of a kind over a window: full days from the daily sums, other rolled hours, the live rest. */
export function durationsIn(c: Coverage, kind: string): RawBuilder<unknown> {
  const live = sql`select dimension, key, bucket, n from (${durationRows(c.live)}) l where kind = ${kind}`;
  if (!c.rolled) return live;
  const [a, b] = c.rolled;
  // Whole UTC days inside the rolled range.
  const dayA = new Date(Math.ceil(Date.parse(a) / DAY_MS) * DAY_MS).toISOString();
  const dayB = new Date(Math.max(Date.parse(dayA), Math.floor(Date.parse(b) / DAY_MS) * DAY_MS)).toISOString();
  // Every hour of the rolled range is rolled, so each of its whole days has its daily sums (written in
  // the transaction that rolled the day's last hour).
  const hours: Range[] = dayA < dayB ? [[a, dayA], [dayB, b]] : [[a, b]];
  return sql`select dimension, key, bucket, n from insight_durations_daily
      where kind = ${kind} and day >= ${dayA}::timestamptz and day < ${dayB}::timestamptz
    union all select dimension, key, bucket, n from insight_durations where kind = ${kind} and ${inRanges(sql.raw('hour'), hours.filter(([x, y]) => x < y))}
    union all ${live}`;
}

/** Closed shipments finished in the ranges, per hour they were opened in and funnel code (migration 0016). */
function closedShipmentRows(ranges: Range[]): RawBuilder<{ created_hour: Date; code: number; n: number }> {
  return sql`select ${hourOf(sql.raw('created_at'))} as created_hour, funnel_code as code, count(*)::int as n
    from operations where not is_open and tracking_type = 'SHIPMENT' and ${inRanges(sql.raw('updated_at'), ranges)} group by 1, 2`;
}

/**
 * Shipments opened in the window per funnel code, in one statement (one snapshot): for the whole hours
 * rolled, the closed ones whose finishing hour is rolled (insight_funnel), the open ones
 * (operations_open_shipment_funnel) and those closed in an hour not rolled yet (at or after the horizon:
 * every hour from the window's first whole hour to the horizon is rolled); the partial hours, live.
 */
export function funnelCodes(c: Coverage, from: string, to: string): RawBuilder<{ code: number; n: string }> {
  const all = (ranges: Range[]) => sql`select funnel_code as code, 1 as n from operations where tracking_type = 'SHIPMENT' and ${inRanges(sql.raw('created_at'), ranges)}`;
  if (!c.rolled) return sql`select code, count(*) as n from (${all([[from, to]])}) f group by code`;
  const [a, b] = c.rolled;
  return sql`select code, sum(n) as n from (
      select code, n from insight_funnel where created_hour >= ${a}::timestamptz and created_hour < ${b}::timestamptz
      union all select funnel_code, 1 from operations
        where is_open and tracking_type = 'SHIPMENT' and created_at >= ${a}::timestamptz and created_at < ${b}::timestamptz
      union all select funnel_code, 1 from operations o
        where not is_open and updated_at >= ${c.horizon}::timestamptz and tracking_type = 'SHIPMENT'
          and created_at >= ${a}::timestamptz and created_at < ${b}::timestamptz
          and not exists (select 1 from insight_hours i where i.hour = ${hourOf(sql.raw('o.updated_at'))})
      union all ${all(c.live)}) f
    group by code`;
}

/** The part of a window the roll-ups answer, [from, to) as ISO strings, and the ranges read live. */
export interface Coverage {
  rolled: Range | null;
  live: Range[];
  /** Every hour from the first whole hour of the window up to this one is rolled. */
  horizon: string;
}

/** Contiguous runs of hour starts (ms) as ranges. */
export function runs(hours: number[]): Range[] {
  const out: Range[] = [];
  for (const h of hours) {
    const last = out.at(-1);
    if (last && Date.parse(last[1]) === h) last[1] = new Date(h + HOUR_MS).toISOString();
    else out.push([new Date(h).toISOString(), new Date(h + HOUR_MS).toISOString()]);
  }
  return out;
}

/** A window answered from operations alone, with no roll-up. */
export function allLive(from: Date, to: Date): Coverage {
  return { rolled: null, live: [[from.toISOString(), to.toISOString()]], horizon: from.toISOString() };
}

/**
 * The start (ms) of the hour from which rows may still be written: that of the oldest transaction still
 * running on this database (other than this one), and at least a minute ago. Every hour before it is closed.
 */
export async function rollHorizon(db: Db): Promise<number> {
  const oldest = await sql<{ at: Date }>`
    select least(now() - interval '1 minute',
      (select min(xact_start) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid())) as at`.execute(db);
  return Math.floor(new Date(oldest.rows[0].at).getTime() / HOUR_MS) * HOUR_MS;
}

/**
 * Rolls up the closed hours of [from, to) not rolled yet (under an advisory lock, so two instances never
 * count an hour twice) and says which part of the window the roll-ups now answer.
 */
export async function ensureRolled(db: Db, from: Date, to: Date): Promise<Coverage> {
  const first = Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS;
  const safe = await rollHorizon(db);
  const end = Math.min(Math.floor(to.getTime() / HOUR_MS) * HOUR_MS, safe);
  const horizon = new Date(safe).toISOString();
  if (end <= first) return { rolled: null, live: [[from.toISOString(), to.toISOString()]], horizon };
  const rolled: Range = [new Date(first).toISOString(), new Date(end).toISOString()];
  // Rolled up to the horizon, not the window's end: the funnel needs every hour its shipments may have
  // finished in, from the first whole hour on.
  const toRoll: Range = [rolled[0], horizon];
  const missing = async (q: Db) => {
    const r = await sql<{ h: Date }>`
      select h from generate_series(${toRoll[0]}::timestamptz, ${toRoll[1]}::timestamptz - interval '1 hour', interval '1 hour') h
      where not exists (select 1 from insight_hours i where i.hour = h) order by h`.execute(q);
    return r.rows.map((x) => new Date(x.h).getTime());
  };
  if ((await missing(db)).length > 0) {
    const roll = async (tx: Db) => {
      await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(tx);
      const todo = runs(await missing(tx));
      if (todo.length === 0) return;
      await sql`insert into insight_opened (hour, tracking_type, site, n) ${openedRows(todo)}`.execute(tx);
      await sql`insert into insight_finished (hour, tracking_type, status, error_code, site, n) ${finishedRows(todo)}`.execute(tx);
      await sql`insert into insight_durations (hour, kind, dimension, key, bucket, n) ${durationRows(todo)}`.execute(tx);
      await sql`insert into insight_funnel (created_hour, code, n) ${closedShipmentRows(todo)}
        on conflict (created_hour, code) do update set n = insight_funnel.n + excluded.n`.execute(tx);
      await sql`insert into insight_hours (hour) select h from unnest(${todo.flatMap(([a, b]) => hoursIn(a, b))}::timestamptz[]) h`.execute(tx);
      // Days whose 24 hours are now all rolled get their durations summed once.
      await sql`
        with full_days as (
          insert into insight_days (day)
          select day from (select date_trunc('day', hour at time zone 'UTC') at time zone 'UTC' as day from insight_hours) h
          group by day having count(*) = 24 and not exists (select 1 from insight_days d where d.day = h.day)
          returning day)
        insert into insight_durations_daily (day, kind, dimension, key, bucket, n)
        select f.day, kind, dimension, key, bucket, sum(n) from insight_durations i
        join full_days f on i.hour >= f.day and i.hour < f.day + interval '1 day'
        group by f.day, kind, dimension, key, bucket`.execute(tx);
    };
    // Inside a console read (src/http/console-reads.ts) the roll-up joins its transaction, under a longer
    // statement timeout than the read's own: rolled once and kept, it must not be cut off on every read.
    if (db.isTransaction) await withLongerTimeout(db, ROLLUP_STATEMENT_TIMEOUT_MS, () => roll(db));
    else await db.transaction().execute(roll);
  }
  const live: Range[] = [];
  if (from.getTime() < first) live.push([from.toISOString(), rolled[0]]);
  if (end < to.getTime()) live.push([rolled[1], to.toISOString()]);
  return { rolled, live, horizon };
}

function hoursIn(a: string, b: string): string[] {
  const out: string[] = [];
  for (let h = Date.parse(a); h < Date.parse(b); h += HOUR_MS) out.push(new Date(h).toISOString());
  return out;
}

export interface BucketCount {
  bucket: number;
  n: number;
}

/**
 * A percentile as percentile_cont computes it (linear between the two order statistics around p·(n−1)),
 * each order statistic read as its bucket's geometric midpoint: within PERCENTILE_ERROR of the exact value.
 */
export function bucketPercentile(buckets: BucketCount[], p: number): number | null {
  const sorted = [...buckets].sort((a, b) => a.bucket - b.bucket);
  const total = sorted.reduce((s, b) => s + b.n, 0);
  if (total === 0) return null;
  const rank = p * (total - 1);
  const at = (k: number) => {
    let seen = 0;
    for (const b of sorted) {
      seen += b.n;
      if (k < seen) return 2 ** ((b.bucket + 0.5) / BUCKETS_PER_DOUBLING);
    }
    return 2 ** (((sorted.at(-1)?.bucket ?? 0) + 0.5) / BUCKETS_PER_DOUBLING);
  };
  const k = Math.floor(rank);
  const low = at(k);
  return rank === k ? low : low + (rank - k) * (at(k + 1) - low);
}
