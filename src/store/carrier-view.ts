import { sql } from 'kysely';
import type { BudgetBuckets } from '../domain/call-budget.ts';
import type { Db } from './db.ts';
import { isoUtc } from './sql-time.ts';

/**
 * What operators see of each carrier provider (GET /admin/v1/carriers): the figures of carrier_rate_limits
 * (the poller writes the budget, demand, breaker and totals; the hub adds the pushes here) and the carrier
 * status codes no status table maps (carrier_unknown_codes), flushed by every process every few seconds.
 */

/** Rows carrier_unknown_codes may hold in all, `other` rows included: codes come from carriers' answers. */
export const MAX_UNKNOWN_CODE_ROWS = 500;
/** Rows kept free for the `other` row of each provider (six today) once the named codes fill the table. */
const OTHER_ROWS_RESERVED = 10;
/** The bucket of codes that came after the table was full. */
export const OTHER_CODE = 'other';
/** Flushers of every process take turns on this advisory lock, so the row count they judge the cap by holds. */
const UNKNOWN_CODES_LOCK = 7314011;

/** What one process saw of one code since its last flush. */
export interface UnknownCodeDelta {
  provider: string;
  code: string;
  count: number;
  firstSeenAt: Date;
  firstExample: string | null;
  lastSeenAt: Date;
  lastExample: string | null;
}

/**
 * Adds the deltas to carrier_unknown_codes: `seen` summed, the first example kept, the last one replaced
 * when newer. A code with no row yet gets one while the table has room; past that its count goes to its
 * provider's `other` row, its example prefixed with the code. Returns the count that found no room at all
 * (more than OTHER_ROWS_RESERVED providers overflowing), which the caller logs: the table stays bounded.
 */
export async function flushUnknownCodes(db: Db, deltas: UnknownCodeDelta[], maxRows = MAX_UNKNOWN_CODE_ROWS): Promise<{ dropped: number }> {
  if (deltas.length === 0) return { dropped: 0 };
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${UNKNOWN_CODES_LOCK})`.execute(tx);
    const { rows: existing } = await sql<{ provider: string; code: string }>`
      select provider, code from carrier_unknown_codes
      where (provider, code) in (select * from unnest(${deltas.map((d) => d.provider)}::text[], ${deltas.map((d) => d.code)}::text[]))`.execute(tx);
    const { rows: counted } = await sql<{ n: number }>`select count(*)::int as n from carrier_unknown_codes`.execute(tx);
    const has = new Set(existing.map((r) => `${r.provider}\u0000${r.code}`));
    let rows = counted[0].n;
    const write: UnknownCodeDelta[] = [];
    const others = new Map<string, UnknownCodeDelta>();
    const toOther = (d: UnknownCodeDelta) => {
      const label = (example: string | null) => (d.code === OTHER_CODE ? example : `${d.code}: ${example ?? ''}`.slice(0, 300));
      const o = others.get(d.provider);
      if (!o) {
        others.set(d.provider, { ...d, code: OTHER_CODE, firstExample: label(d.firstExample), lastExample: label(d.lastExample) });
        return;
      }
      o.count += d.count;
      if (d.firstSeenAt < o.firstSeenAt) [o.firstSeenAt, o.firstExample] = [d.firstSeenAt, label(d.firstExample)];
      if (d.lastSeenAt >= o.lastSeenAt) [o.lastSeenAt, o.lastExample] = [d.lastSeenAt, label(d.lastExample)];
    };
    // Oldest first: when room runs out, the codes seen first keep their own rows.
    for (const d of [...deltas].sort((a, b) => a.firstSeenAt.getTime() - b.firstSeenAt.getTime())) {
      if (d.code === OTHER_CODE) toOther(d);
      else if (has.has(`${d.provider}\u0000${d.code}`)) write.push(d);
      else if (rows < maxRows - OTHER_ROWS_RESERVED) {
        write.push(d);
        rows++;
      } else toOther(d);
    }
    let dropped = 0;
    for (const o of others.values()) {
      if (has.has(`${o.provider}\u0000${OTHER_CODE}`)) write.push(o);
      else if (rows < maxRows) {
        write.push(o);
        rows++;
      } else dropped += o.count;
    }
    if (write.length > 0) {
      const col = <T>(f: (d: UnknownCodeDelta) => T) => write.map(f);
      await sql`
        insert into carrier_unknown_codes (provider, code, seen, first_seen_at, first_example, last_seen_at, last_example)
        select * from unnest(
          ${col((d) => d.provider)}::text[], ${col((d) => d.code)}::text[], ${col((d) => d.count)}::bigint[],
          ${col((d) => d.firstSeenAt.toISOString())}::timestamptz[], ${col((d) => d.firstExample)}::text[],
          ${col((d) => d.lastSeenAt.toISOString())}::timestamptz[], ${col((d) => d.lastExample)}::text[])
        on conflict (provider, code) do update set
          seen = carrier_unknown_codes.seen + excluded.seen,
          first_seen_at = least(carrier_unknown_codes.first_seen_at, excluded.first_seen_at),
          first_example = case when excluded.first_seen_at < carrier_unknown_codes.first_seen_at then excluded.first_example else carrier_unknown_codes.first_example end,
          last_seen_at = greatest(carrier_unknown_codes.last_seen_at, excluded.last_seen_at),
          last_example = case when excluded.last_seen_at >= carrier_unknown_codes.last_seen_at then excluded.last_example else carrier_unknown_codes.last_example end`.execute(tx);
    }
    return { dropped };
  });
}

/** What one process received of one provider's pushes since its last flush. */
export interface PushDelta {
  provider: string;
  count: number;
  lastAt: Date;
}

/**
 * Adds accepted pushes to carrier_rate_limits (pushes_total, last_push_at). A provider that was never
 * polled has no row yet: one is created as the budget taker creates it (an empty window from now).
 */
export async function flushPushes(db: Db, deltas: PushDelta[], now: Date): Promise<void> {
  if (deltas.length === 0) return;
  const providers = deltas.map((d) => d.provider);
  await sql`insert into carrier_rate_limits (provider, window_start, used)
    select p, ${now.toISOString()}::timestamptz, 0 from unnest(${providers}::text[]) as p
    on conflict (provider) do nothing`.execute(db);
  await sql`update carrier_rate_limits c set
      pushes_total = c.pushes_total + d.n,
      last_push_at = greatest(c.last_push_at, d.at)
    from unnest(${providers}::text[], ${deltas.map((d) => d.count)}::bigint[], ${deltas.map((d) => d.lastAt.toISOString())}::timestamptz[]) as d(provider, n, at)
    where c.provider = d.provider`.execute(db);
}

/** One provider's row of carrier_rate_limits as the view reads it (times as ISO 8601 text). */
export interface CarrierFigures {
  provider: string;
  /** The sliding window's buckets (src/domain/call-budget.ts); null in a row no budget take has written. */
  buckets: BudgetBuckets | null;
  windowStart: string;
  used: number;
  wanted: number;
  pausedUntil: string | null;
  lastWindowStart: string | null;
  lastWindowEnd: string | null;
  lastUsed: number | null;
  lastWanted: number | null;
  overdue: number;
  overdueAt: string | null;
  breakerState: string;
  breakerUntil: string | null;
  breakerChangedAt: string | null;
  callsTotal: number;
  fallbacksTotal: number;
  deadlineWaitsTotal: number;
  pushesTotal: number;
  lastPushAt: string | null;
}

export interface UnknownCodeRow {
  code: string;
  seen: number;
  firstSeenAt: string;
  firstExample: string | null;
  lastSeenAt: string;
  lastExample: string | null;
}

export interface CarrierViewRows {
  figures: Map<string, CarrierFigures>;
  /** Per provider: its newest codes (at most `codesPerProvider`) and how many it has in all. */
  unknownCodes: Map<string, { total: number; codes: UnknownCodeRow[] }>;
  /** UPS Track Alert subscriptions younger than `subscriptionsSince`. */
  upsSubscriptions: number;
}


/** Everything GET /admin/v1/carriers shows from the store, in three statements. */
export async function readCarrierView(db: Db, opts: { codesPerProvider: number; subscriptionsSince: Date }): Promise<CarrierViewRows> {
  const { rows: figures } = await sql<CarrierFigures>`
    select provider, buckets, ${isoUtc('window_start')} as "windowStart", used, wanted, ${isoUtc('paused_until')} as "pausedUntil",
      ${isoUtc('last_window_start')} as "lastWindowStart", ${isoUtc('last_window_end')} as "lastWindowEnd", last_used as "lastUsed", last_wanted as "lastWanted",
      overdue, ${isoUtc('overdue_at')} as "overdueAt", breaker_state as "breakerState", ${isoUtc('breaker_until')} as "breakerUntil",
      ${isoUtc('breaker_changed_at')} as "breakerChangedAt", calls_total as "callsTotal", fallbacks_total as "fallbacksTotal",
      deadline_waits_total as "deadlineWaitsTotal", pushes_total as "pushesTotal", ${isoUtc('last_push_at')} as "lastPushAt"
    from carrier_rate_limits`.execute(db);
  const { rows: codes } = await sql<UnknownCodeRow & { provider: string; total: number }>`
    select provider, code, seen, ${isoUtc('first_seen_at')} as "firstSeenAt", first_example as "firstExample",
      ${isoUtc('last_seen_at')} as "lastSeenAt", last_example as "lastExample", total
    from (select *, count(*) over (partition by provider)::int as total,
            row_number() over (partition by provider order by last_seen_at desc, code) as rank
          from carrier_unknown_codes) ranked
    where rank <= ${opts.codesPerProvider}
    order by provider, last_seen_at desc, code`.execute(db);
  const { rows: subscribed } = await sql<{ n: number }>`
    select count(*)::int as n from ups_track_alert_subscriptions where subscribed_at > ${opts.subscriptionsSince.toISOString()}::timestamptz`.execute(db);
  const unknownCodes = new Map<string, { total: number; codes: UnknownCodeRow[] }>();
  for (const { provider, total, ...row } of codes) {
    const entry = unknownCodes.get(provider) ?? { total, codes: [] };
    entry.codes.push(row);
    unknownCodes.set(provider, entry);
  }
  return { figures: new Map(figures.map((f) => [f.provider, f])), unknownCodes, upsSubscriptions: subscribed[0].n };
}
