import { type RawBuilder, sql } from 'kysely';
import type { Db } from './db.ts';
import { BUCKETS_PER_DOUBLING, inRanges, type Range, ROLLUP_STATEMENT_TIMEOUT_MS, rollHorizon, runs } from './insight-rollup.ts';
import { withLongerTimeout } from './read-timeout.ts';

/**
 * Hourly roll-ups of notifications by the hour they were created in (migration 0019, docs/design.md
 * "Notification insights at scale"). Unlike a closed operation, a notification's state is never final for
 * good: a pending one is delivered, retried or dies; a delivered or dead one is replayed (back to pending,
 * then delivered again with a new delivered_at) at any age; a worker whose lease ran out may still record a
 * delivery over a death. So a rolled hour holds three parts:
 *
 * - counted (notification_rollup): rows delivered or dead when rolled whose last claim's lease
 *   (next_attempt_at) ended over FINAL_AFTER before; only a replay changes those;
 * - open (notification_rollup_open): every other row of the hour by id, read from outbox as it is now;
 * - dirty (notification_rollup_dirty): an issuer hour a replay took rows of, written in the replay's own
 *   statement (markReplayed); read wholly live until rolled again.
 *
 * A roll first deletes the dirty marks it will redo, then reads outbox in one later statement, so a replay
 * committed after that delete is either seen by it or leaves its mark: an answer is always exact.
 */

const HOUR_MS = 3_600_000;
const LOCK_KEY = sql`hashtext('trackhub.notification_rollup')`;
/** A delivered or dead row is counted once its last lease ended this long before the roll (leases are minutes). */
const FINAL_AFTER = sql`interval '1 hour'`;
const hourOf = (column: string) => sql`(date_trunc('hour', ${sql.raw(column)} at time zone 'UTC') at time zone 'UTC')`;
/** Commit to delivery in seconds, in log-scale buckets (insight-rollup.ts: BUCKETS_PER_DOUBLING). */
const BUCKET = sql`case when o.state = 'delivered' then floor(${BUCKETS_PER_DOUBLING} * ln(greatest(extract(epoch from o.delivered_at - o.created_at)::float8, 0.001)) / ln(2))::smallint end`;

/** Where a window's figures come from: hours [rolled[0], rolled[1]) from the roll-ups (dirty ones excepted), the rest live. */
export interface NotificationCoverage {
  rolled: Range | null;
  live: Range[];
}

/** Per issuer, state and bucket: how many notifications (pending, delivered, dead) the window holds. */
export interface NotificationCount {
  issuer_id: string;
  state: 'pending' | 'delivered' | 'dead';
  bucket: number | null;
  n: number;
}

export function allLiveNotifications(from: Date, to: Date): NotificationCoverage {
  return { rolled: null, live: [[from.toISOString(), to.toISOString()]] };
}

/**
 * Notifications (not batched members) as `o`, of the issuer `issuer` names, matching `where`: a range of
 * outbox_by_issuer (issuer_id, state, created_at), never the whole outbox. Every outbox row's issuer is
 * registered, and issuers are never deleted, so going issuer by issuer misses no row.
 */
function outboxOf(issuer: string, from: RawBuilder<unknown>, to: RawBuilder<unknown>): RawBuilder<unknown> {
  // offset 0 keeps the subquery a lateral index probe per issuer: pulled up, the planner would scan outbox.
  return sql`cross join lateral (select o.id, o.issuer_id, o.state, o.created_at, o.delivered_at, o.next_attempt_at from outbox o
    where o.issuer_id = ${sql.raw(issuer)} and o.state in ('pending', 'delivered', 'dead') and o.created_at >= ${from} and o.created_at < ${to} offset 0) o`;
}

/** Notifications of every issuer created in the ranges, as `o` (a union of one index range per issuer and range). */
function outboxIn(ranges: Range[]): RawBuilder<unknown> {
  const parts = ranges.map(([a, b]) => sql`select o.* from issuers i ${outboxOf('i.issuer_id', sql`${a}::timestamptz`, sql`${b}::timestamptz`)}`);
  return sql`(${parts.length === 0 ? sql`select null::text as id, null::text as issuer_id, null::text as state, null::timestamptz as created_at, null::timestamptz as delivered_at, null::timestamptz as next_attempt_at where false` : sql.join(parts, sql` union all `)}) o`;
}

/** Counted per issuer, state and bucket, from `from` (a source bringing `o` in). */
function counted(from: RawBuilder<unknown>, where: RawBuilder<unknown> = sql`true`): RawBuilder<unknown> {
  return sql`select o.issuer_id, o.state, ${BUCKET} as bucket, count(*)::int as n from ${from} where ${where} group by 1, 2, 3`;
}

/** Issuer hours (issuer_id, hour) a replay marked in [a, b). */
const dirtyIn = (a: string, b: string) =>
  sql`(select distinct issuer_id, hour from notification_rollup_dirty where hour >= ${a}::timestamptz and hour < ${b}::timestamptz)`;
const hourEnd = (hour: string) => sql`${sql.raw(hour)} + interval '1 hour'`;

/** The window's counts in one statement (one snapshot): rolled hours' counted and open rows, dirty hours and the rest live. */
export async function notificationCounts(db: Db, c: NotificationCoverage): Promise<NotificationCount[]> {
  return (await countsQuery(c).execute(db)).rows;
}

export function countsQuery(c: NotificationCoverage): RawBuilder<NotificationCount> {
  const live = counted(outboxIn(c.live));
  if (!c.rolled) return sql<NotificationCount>`${live}`;
  const [a, b] = c.rolled;
  const inRolled = (t: string) => sql`${sql.raw(t)}.hour >= ${a}::timestamptz and ${sql.raw(t)}.hour < ${b}::timestamptz`;
  const notDirty = (t: string) =>
    sql`not exists (select 1 from notification_rollup_dirty d where d.hour = ${sql.raw(t)}.hour and d.issuer_id = ${sql.raw(t)}.issuer_id)`;
  return sql<NotificationCount>`
    select issuer_id, state, bucket, sum(n)::int as n from (
      select r.issuer_id, r.state, r.bucket, r.n from notification_rollup r where ${inRolled('r')} and ${notDirty('r')}
      union all ${counted(sql`notification_rollup_open p join outbox o on o.id = p.id`, sql`o.state in ('pending', 'delivered', 'dead') and ${inRolled('p')} and ${notDirty('p')}`)}
      union all ${counted(sql`${dirtyIn(a, b)} d ${outboxOf('d.issuer_id', sql.raw('d.hour'), hourEnd('d.hour'))}`)}
      union all ${live}) x
    group by 1, 2, 3`;
}

/**
 * Rolls the closed hours of [from, to) not rolled yet, and again the dirty ones, under an advisory lock
 * (two instances never count an hour twice); says which part of the window the roll-ups now answer.
 */
export async function ensureNotificationsRolled(db: Db, from: Date, to: Date): Promise<NotificationCoverage> {
  const first = Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS;
  const end = Math.min(Math.floor(to.getTime() / HOUR_MS) * HOUR_MS, await rollHorizon(db));
  if (end <= first) return allLiveNotifications(from, to);
  const rolled: Range = [new Date(first).toISOString(), new Date(end).toISOString()];
  const todo = async (q: Db) => {
    const r = await sql<{ h: Date; dirty: boolean }>`
      select h, exists (select 1 from notification_rollup_hours i where i.hour = h) as dirty
      from generate_series(${rolled[0]}::timestamptz, ${rolled[1]}::timestamptz - interval '1 hour', interval '1 hour') h
      where not exists (select 1 from notification_rollup_hours i where i.hour = h)
        or exists (select 1 from notification_rollup_dirty d where d.hour = h) order by h`.execute(q);
    return r.rows.map((x) => ({ h: new Date(x.h).getTime(), dirty: x.dirty }));
  };
  if ((await todo(db)).length > 0) {
    const roll = async (tx: Db) => {
      await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(tx);
      const hours = await todo(tx);
      if (hours.length === 0) return;
      const fresh = runs(hours.filter((x) => !x.dirty).map((x) => x.h));
      // The marks this roll redoes, deleted before outbox is read (see the module's comment).
      const redo = await sql<{ issuer_id: string; hour: Date }>`
        delete from notification_rollup_dirty where ${inRanges(sql.raw('hour'), [rolled])} returning issuer_id, hour`.execute(tx);
      const pairs = JSON.stringify([...new Set(redo.rows.map((r) => JSON.stringify([r.issuer_id, new Date(r.hour).toISOString()])))].map((p) => JSON.parse(p)));
      const redone = sql`(select x->>0 as issuer_id, (x->>1)::timestamptz as hour from jsonb_array_elements(${pairs}::jsonb) x)`;
      await sql`delete from notification_rollup r using ${redone} p where r.issuer_id = p.issuer_id and r.hour = p.hour`.execute(tx);
      await sql`delete from notification_rollup_open r using ${redone} p where r.issuer_id = p.issuer_id and r.hour = p.hour`.execute(tx);
      await sql`
        with src as materialized (
          select o.id, o.issuer_id, ${hourOf('o.created_at')} as hour, o.state, ${BUCKET} as bucket,
            (o.state = 'pending' or o.next_attempt_at > now() - ${FINAL_AFTER}) as open
          from (select o.* from ${outboxIn(fresh)}
            union all
            select o.* from ${redone} r ${outboxOf('r.issuer_id', sql.raw('r.hour'), hourEnd('r.hour'))}
            where not ${inRanges(sql.raw('r.hour'), fresh)}) o
        ), opened as (
          insert into notification_rollup_open (id, issuer_id, hour) select id, issuer_id, hour from src where open
        )
        insert into notification_rollup (issuer_id, hour, state, bucket, n)
        select issuer_id, hour, state, bucket, count(*) from src where not open group by 1, 2, 3, 4`.execute(tx);
      const added = hours.filter((x) => !x.dirty).map((x) => new Date(x.h).toISOString());
      await sql`insert into notification_rollup_hours (hour) select h from unnest(${added}::timestamptz[]) h`.execute(tx);
    };
    // Inside a console read the roll joins its transaction, under a longer statement timeout (insight-rollup.ts).
    if (db.isTransaction) await withLongerTimeout(db, ROLLUP_STATEMENT_TIMEOUT_MS, () => roll(db));
    else await db.transaction().execute(roll);
  }
  const live: Range[] = [];
  if (from.getTime() < first) live.push([from.toISOString(), rolled[0]]);
  if (end < to.getTime()) live.push([rolled[1], to.toISOString()]);
  return { rolled, live };
}

/**
 * A statement's CTE part for a replay: marks the issuer hours of the rows it took (`returning issuer_id,
 * created_at` of `cte`) dirty, in the replay's own statement, so no roll can miss it (see the module's comment).
 */
export function markReplayed(cte: string): RawBuilder<unknown> {
  return sql`insert into notification_rollup_dirty (issuer_id, hour) select distinct issuer_id, ${hourOf('created_at')} from ${sql.table(cte)}`;
}
