import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { type BudgetTake, type CallLimit, settleCalls, takeCalls } from '../domain/call-budget.ts';
import type { Db } from './db.ts';

/**
 * Carrier request budgets shared by every worker (carrier_rate_limits): one row per provider holding its
 * sliding window (src/domain/call-budget.ts), the figures operators see (GET /admin/v1/carriers) and its
 * pause. What a grant means for polling is src/polling/rate-limit.ts.
 */

/** A row for the provider, so that takers have one to lock. */
async function ensureRow(db: Db, provider: string, at: string): Promise<void> {
  await sql`insert into carrier_rate_limits (provider, window_start, used) values (${provider}, ${at}::timestamptz, 0)
    on conflict (provider) do nothing`.execute(db);
}

/**
 * Providers whose row this process has seen, per store: the poller takes and records several times a
 * second, and rows are never deleted, so the insert is made once per provider rather than before each
 * statement. A row gone all the same (removed by hand) is made again where it is found missing.
 */
const rowsSeen = new WeakMap<Db, Set<string>>();

async function ensureRowOnce(db: Db, provider: string, at: string): Promise<void> {
  const seen = rowsSeen.get(db) ?? new Set<string>();
  rowsSeen.set(db, seen);
  if (seen.has(provider)) return;
  await ensureRow(db, provider, at);
  seen.add(provider);
}

function forgetRow(db: Db, provider: string): void {
  rowsSeen.get(db)?.delete(provider);
}

/**
 * Takes up to `want` calls from the provider's budget and records `arrivals` numbers that fell due, for
 * every worker at once: the row is locked, the window moved on and written back in one transaction. The
 * previous complete window's figures are kept for a steady reading of use and demand.
 */
/**
 * Places booked in the queue of put-off polls: `places(granted)` is how many calls' worth of polls the
 * taker must put off, `placeMs` the time between two places. The queue is shared: places are booked after
 * the end every worker left, so two workers never book the same place.
 */
export interface QueueBooking {
  places: (granted: number) => number;
  placeMs: number;
}

export async function takeCarrierBudget(
  db: Db,
  provider: string,
  want: number,
  arrivals: number,
  limit: CallLimit,
  now: Date,
  booking?: QueueBooking,
): Promise<BudgetTake & { queueStart: number }> {
  const at = now.toISOString();
  await ensureRowOnce(db, provider, at);
  return db.transaction().execute(async (tx) => {
    const lock = () =>
      tx.selectFrom('carrier_rate_limits').select(['buckets', 'paused_until', 'last_window_end', 'queued_until']).where('provider', '=', provider).forUpdate().executeTakeFirst();
    let row = await lock();
    if (!row) {
      forgetRow(db, provider);
      await ensureRow(tx, provider, at);
      row = await lock();
    }
    if (!row) throw new Error(`carrier_rate_limits: no row for ${provider}`);
    const paused = row.paused_until ? new Date(row.paused_until as unknown as string).getTime() : undefined;
    const take = takeCalls(row.buckets, want, arrivals, limit, now.getTime(), paused, randomUUID());
    const windowStart = new Date(now.getTime() - limit.perMs).toISOString();
    const lastEnd = row.last_window_end ? new Date(row.last_window_end as unknown as string).getTime() : undefined;
    const windowEnded = lastEnd === undefined || now.getTime() >= lastEnd + limit.perMs;
    // The queue's end is never before the next call the budget allows. A taker granted all it asked with
    // calls to spare shows the budget going unused: the places still booked ahead are empty (their polls
    // were answered early, closed, or moved), so the queue starts again from the next call. Polls still
    // waiting keep their places and, if refused there, the queue's front.
    const spare = take.granted === want && take.used < limit.count;
    const queuedUntil = row.queued_until && !spare ? new Date(row.queued_until as unknown as string).getTime() : 0;
    const queueStart = Math.max(take.nextCallAt, Number.isFinite(queuedUntil) ? queuedUntil : 0);
    const places = booking ? Math.max(0, booking.places(take.granted)) : 0;
    await tx
      .updateTable('carrier_rate_limits')
      .set({
        buckets: JSON.stringify(take.buckets),
        window_start: windowStart,
        used: take.used,
        wanted: take.wanted,
        calls_total: sql`calls_total + ${take.granted}::int`,
        ...(places > 0 ? { queued_until: new Date(queueStart + places * (booking?.placeMs ?? 0)).toISOString() } : spare ? { queued_until: null } : {}),
        ...(windowEnded ? { last_window_start: windowStart, last_window_end: at, last_used: take.used, last_wanted: take.wanted } : {}),
      })
      .where('provider', '=', provider)
      .execute();
    return { ...take, queueStart };
  });
}

/** Counts the calls of grant `grantId` as made at their answers (src/domain/call-budget.ts, settleCalls). */
export async function settleCarrierCalls(db: Db, provider: string, grantId: string, answeredAt: Date[], limit: CallLimit, now: Date): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('carrier_rate_limits').select('buckets').where('provider', '=', provider).forUpdate().executeTakeFirst();
    if (!row) return;
    const buckets = settleCalls(row.buckets, grantId, answeredAt.map((d) => d.getTime()), limit, now.getTime());
    await tx.updateTable('carrier_rate_limits').set({ buckets: JSON.stringify(buckets) }).where('provider', '=', provider).execute();
  });
}

/** Holds off the provider until `until` for every worker; a pause already longer is kept. */
export async function pauseCarrier(db: Db, provider: string, until: Date, now: Date): Promise<void> {
  await sql`insert into carrier_rate_limits (provider, window_start, used, paused_until)
    values (${provider}, ${now.toISOString()}::timestamptz, 0, ${until.toISOString()}::timestamptz)
    on conflict (provider) do update set paused_until = greatest(coalesce(carrier_rate_limits.paused_until, excluded.paused_until), excluded.paused_until)`.execute(db);
}

/** What one polling round saw of a provider, added to its row for the operators' view. */
export interface CarrierRound {
  fallbacks: number;
  deadlineWaits: number;
  /** Parcels of the round whose poll had waited longer than their poll interval. */
  overdue: number;
  /** The breaker, when this round changed it. */
  breaker?: { state: string; until: Date | null };
}

export async function recordCarrierRound(db: Db, provider: string, round: CarrierRound, now: Date, retried = false): Promise<void> {
  const at = now.toISOString();
  await ensureRowOnce(db, provider, at);
  const updated = await db
    .updateTable('carrier_rate_limits')
    .set({
      fallbacks_total: sql`fallbacks_total + ${round.fallbacks}::int`,
      deadline_waits_total: sql`deadline_waits_total + ${round.deadlineWaits}::int`,
      overdue: round.overdue,
      overdue_at: at,
      ...(round.breaker ? { breaker_state: round.breaker.state, breaker_until: round.breaker.until?.toISOString() ?? null, breaker_changed_at: at } : {}),
    })
    .where('provider', '=', provider)
    .executeTakeFirst();
  if (updated.numUpdatedRows === 0n && !retried) {
    forgetRow(db, provider);
    await recordCarrierRound(db, provider, round, now, true);
  }
}
