import { sql } from 'kysely';
import type { Db } from './db.ts';

/**
 * Carrier request budgets shared by every worker (carrier_rate_limits): one fixed window per provider,
 * counted in one row. The budgets themselves and what a grant means are src/polling/rate-limit.ts.
 */

export interface BudgetGrant {
  granted: number;
  window_ends: Date | string;
  paused_until: Date | string | null;
}

/**
 * Takes up to `want` calls from the provider's window of `count` calls per `perMs`, atomically for every
 * worker: one row per provider, one UPDATE … RETURNING (the row lock serialises concurrent takers). A
 * window that ended at `now` starts again from `now`; while the provider is paused nothing is granted.
 */
export async function takeCarrierBudget(db: Db, provider: string, want: number, limit: { count: number; perMs: number }, now: Date): Promise<BudgetGrant> {
  const at = now.toISOString();
  const window = `${limit.perMs} milliseconds`;
  await sql`insert into carrier_rate_limits (provider, window_start, used) values (${provider}, ${at}::timestamptz, 0)
    on conflict (provider) do nothing`.execute(db);
  const { rows } = await sql<BudgetGrant>`
    update carrier_rate_limits set
      window_start = case when ${at}::timestamptz >= window_start + ${window}::interval then ${at}::timestamptz else window_start end,
      used = case
        when paused_until > ${at}::timestamptz then used
        when ${at}::timestamptz >= window_start + ${window}::interval then least(${want}::int, ${limit.count}::int)
        else least(used + ${want}::int, ${limit.count}::int) end,
      granted = case
        when paused_until > ${at}::timestamptz then 0
        when ${at}::timestamptz >= window_start + ${window}::interval then least(${want}::int, ${limit.count}::int)
        else greatest(0, least(used + ${want}::int, ${limit.count}::int) - used) end
    where provider = ${provider}
    returning granted,
      (case when ${at}::timestamptz >= window_start + ${window}::interval then ${at}::timestamptz else window_start end) + ${window}::interval as window_ends,
      paused_until`.execute(db);
  return rows[0];
}

/** Holds off the provider until `until` for every worker; a pause already longer is kept. */
export async function pauseCarrier(db: Db, provider: string, until: Date, now: Date): Promise<void> {
  await sql`insert into carrier_rate_limits (provider, window_start, used, paused_until)
    values (${provider}, ${now.toISOString()}::timestamptz, 0, ${until.toISOString()}::timestamptz)
    on conflict (provider) do update set paused_until = greatest(coalesce(carrier_rate_limits.paused_until, excluded.paused_until), excluded.paused_until)`.execute(db);
}
