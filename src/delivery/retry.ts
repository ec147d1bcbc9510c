/**
 * Delay before the next attempt after `attempts` failed ones, or undefined when the schedule is spent
 * (the notification is then dead). ±20 % jitter spreads retries of many notifications apart;
 * `Retry-After` is honoured up to twice the scheduled delay.
 */
export function nextRetryDelayMs(
  schedule: number[],
  attempts: number,
  opts: { retryAfterMs?: number; random?: () => number } = {},
): number | undefined {
  const base = schedule[attempts - 1];
  if (base === undefined) return undefined;
  const random = opts.random ?? Math.random;
  let delay = base * (0.8 + 0.4 * random());
  if (opts.retryAfterMs !== undefined) delay = Math.min(Math.max(delay, opts.retryAfterMs), base * 2);
  return Math.round(delay);
}
