import { sql } from 'kysely';
import type { ProviderName } from '../carriers/provider.ts';
import type { Db } from '../store/db.ts';

/** At most `count` calls per `perMs`, shared by every worker on the store. */
export interface RateLimit {
  count: number;
  perMs: number;
}

/**
 * Defaults per provider (from the carriers' published API limits): FedEx 1,400 per 10 s per project; USPS v3 apps start at
 * 60 per hour; DHL Unified's default key is reported at one call per 5 s; UPS and La Poste publish no
 * figure and AfterShip allows 10 per second, so those get 10 per second.
 */
export const DEFAULT_RATE_LIMITS: Record<ProviderName, RateLimit> = {
  fedex: { count: 1400, perMs: 10_000 },
  usps: { count: 60, perMs: 3_600_000 },
  dhl: { count: 1, perMs: 5_000 },
  ups: { count: 10, perMs: 1_000 },
  laposte: { count: 10, perMs: 1_000 },
  aftership: { count: 10, perMs: 1_000 },
};

/** The built-in sandbox is not the real API: it gets a generous budget unless one is configured. */
export const SANDBOX_RATE_LIMIT: RateLimit = { count: 1000, perMs: 1_000 };

/** Parses `1400/10s`, `60/1h`, `10/s` (a count, a slash, a duration). */
export function parseRateLimit(value: string, parseDuration: (s: string) => number | undefined): RateLimit | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d*(?:\.\d+)?)(ms|s|m|h|d)\s*$/.exec(value);
  if (!m) return undefined;
  const perMs = parseDuration(`${m[2] || '1'}${m[3]}`);
  const count = Number(m[1]);
  return perMs && count > 0 ? { count, perMs } : undefined;
}

/**
 * Takes up to `want` calls from the provider's budget, atomically for every worker: one row per provider,
 * one UPDATE … RETURNING (the row lock serialises concurrent takers). Returns how many were granted and
 * when more will be available.
 */
export async function takeBudget(db: Db, provider: ProviderName, want: number, limit: RateLimit, now: Date): Promise<{ granted: number; retryAt: Date }> {
  const at = now.toISOString();
  const window = `${limit.perMs} milliseconds`;
  await sql`insert into carrier_rate_limits (provider, window_start, used) values (${provider}, ${at}::timestamptz, 0)
    on conflict (provider) do nothing`.execute(db);
  const { rows } = await sql<{ granted: number; window_ends: Date | string; paused_until: Date | string | null }>`
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
  const row = rows[0];
  const windowEnds = new Date(row.window_ends);
  const paused = row.paused_until ? new Date(row.paused_until) : undefined;
  const retryAt = paused && paused > now ? paused : windowEnds;
  return { granted: Number(row.granted), retryAt };
}

/** A carrier said "not before" (Retry-After): every worker holds off the provider until then. */
export async function pauseProvider(db: Db, provider: ProviderName, until: Date, now: Date): Promise<void> {
  await sql`insert into carrier_rate_limits (provider, window_start, used, paused_until)
    values (${provider}, ${now.toISOString()}::timestamptz, 0, ${until.toISOString()}::timestamptz)
    on conflict (provider) do update set paused_until = greatest(coalesce(carrier_rate_limits.paused_until, excluded.paused_until), excluded.paused_until)`.execute(db);
}
