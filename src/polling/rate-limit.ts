import type { ProviderName, RateLimit } from '../carriers/provider.ts';
import { pauseCarrier, takeCarrierBudget } from '../store/carrier-budgets.ts';
import type { Db } from '../store/db.ts';

export type { RateLimit };

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
  const row = await takeCarrierBudget(db, provider, want, limit, now);
  const windowEnds = new Date(row.window_ends);
  const paused = row.paused_until ? new Date(row.paused_until) : undefined;
  const retryAt = paused && paused > now ? paused : windowEnds;
  return { granted: Number(row.granted), retryAt };
}

/** A carrier said "not before" (Retry-After): every worker holds off the provider until then. */
export async function pauseProvider(db: Db, provider: ProviderName, until: Date, now: Date): Promise<void> {
  await pauseCarrier(db, provider, until, now);
}
