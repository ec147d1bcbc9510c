import type { ProviderName, RateLimit } from '../carriers/provider.ts';
import { pauseCarrier, type QueueBooking, settleCarrierCalls, takeCarrierBudget } from '../store/carrier-budgets.ts';
import type { Db } from '../store/db.ts';

export type { RateLimit };

/** The built-in sandbox is not the real API: it gets a generous budget unless one is configured. */
export const SANDBOX_RATE_LIMIT: RateLimit = { count: 1000, perMs: 1_000 };

/** Parses `1400/10s`, `60/1h`, `10/s` (a count up to a billion, a slash, a duration up to a year). */
export function parseRateLimit(value: string, parseDuration: (s: string) => number | undefined): RateLimit | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d*(?:\.\d+)?)(ms|s|m|h|d)\s*$/.exec(value);
  if (!m) return undefined;
  const perMs = parseDuration(`${m[2] || '1'}${m[3]}`);
  const count = Number(m[1]);
  // A year and a billion calls bound what any carrier publishes; beyond them dates and sums break.
  return perMs && perMs <= 366 * 86_400_000 && count > 0 && count <= 1e9 ? { count, perMs } : undefined;
}

export interface Grant {
  granted: number;
  /** Names the grant when its calls are settled (settleBudget). */
  grantId: string;
  /** When the next call will be allowed (the budget frees up, or a carrier's pause ends). */
  retryAt: Date;
  /** Numbers wanted in the window that ends now, every worker's (the demand). */
  wanted: number;
  /** Where this taker's places in the shared queue of put-off polls begin. */
  queueStart: Date;
}

/**
 * Takes up to `want` calls from the provider's budget, for every worker at once (src/store/carrier-budgets.ts),
 * and records `arrivals`, the numbers that fell due this round: the demand operators see.
 */
export async function takeBudget(db: Db, provider: ProviderName, want: number, arrivals: number, limit: RateLimit, now: Date, booking?: QueueBooking): Promise<Grant> {
  const take = await takeCarrierBudget(db, provider, want, arrivals, limit, now, booking);
  return { granted: take.granted, grantId: take.grantId, retryAt: new Date(take.nextCallAt), wanted: take.wanted, queueStart: new Date(take.queueStart) };
}

/**
 * The calls of a grant were answered at `answeredAt` (one time per call, none when none left): they count
 * from their answers on (a carrier counts them on arrival), and the grant no longer counts in full.
 */
export async function settleBudget(db: Db, provider: ProviderName, grantId: string, answeredAt: Date[], limit: RateLimit, now: Date): Promise<void> {
  await settleCarrierCalls(db, provider, grantId, answeredAt, limit, now);
}

/** A carrier said "not before" (Retry-After): every worker holds off the provider until then. */
export async function pauseProvider(db: Db, provider: ProviderName, until: Date, now: Date): Promise<void> {
  await pauseCarrier(db, provider, until, now);
}
