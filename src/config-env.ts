import { escapeUnprintable } from './domain/text.ts';

/**
 * Reading the environment, one variable at a time: the typed readers every setting of config.ts uses
 * (each bad value reported with its variable's name), and the TRACKHUB_ variables nothing read.
 */

/** Thrown for a bad environment value; the CLI prints the message as one line and exits. */
export class ConfigError extends Error {}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string): number | undefined {
  const m = DURATION.exec(value.trim());
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2]]) : undefined;
}

export type Env = Record<string, string | undefined>;

export function fail(name: string, why: string): never {
  // Messages quote the value given: a control character in it must not reach the terminal as such.
  throw new ConfigError(`${name}: ${escapeUnprintable(why)}`);
}

export function str(env: Env, name: string, fallback?: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

/** The longest any duration setting may be: past it, `now + value` is no longer a date (a huge value made Invalid Date). */
export const MAX_DURATION_MS = 36_500 * 86_400_000;
/** The longest a duration used as a timer may be: Node's timers fire at once (after 1 ms) past 2^31 - 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

export function duration(env: Env, name: string, fallback: string, maxMs = MAX_DURATION_MS, examples = '500ms, 15s, 15m, 12h, 7d'): number {
  const raw = str(env, name, fallback) as string;
  const ms = parseDuration(raw);
  if (ms === undefined) fail(name, `"${raw}" is not a duration (use e.g. ${examples})`);
  if (ms <= 0) fail(name, `"${raw}" must be longer than zero (e.g. ${examples})`);
  if (ms > maxMs) fail(name, `"${raw}" is longer than ${maxMs === MAX_DURATION_MS ? '36500d (100 years)' : '24d (the longest timer)'}`);
  return ms;
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  fail(name, `"${raw}" is not a boolean (use true or false)`);
}

export function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || n < min || n > max) fail(name, `"${raw}" is not a whole number from ${min} to ${max}`);
  return n;
}

export function positiveNumber(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) fail(name, `"${raw}" is not a positive number`);
  return n;
}

/** Read by the `trackhub` commands and the test tools, not by the hub: not a typo. */
const READ_ELSEWHERE = /^TRACKHUB_(SITE_API_KEY|URL|CHROMIUM|PROMTOOL|CHILD_NODE_ARGS|MUTATION_RUN|MUTATION_TESTS|TEST_[A-Z_]*)$/;

/**
 * TRACKHUB_ variables set but read by nothing, each with the nearest name the hub reads when one is close
 * (`TRACKHUB_CARRIER_FEDX_RATE_LIMIT` → `TRACKHUB_CARRIER_FEDEX_RATE_LIMIT`): a misspelt setting would
 * otherwise be ignored without a word.
 */
export function unknownVariables(env: Env, read: Set<string>): { name: string; nearest?: string }[] {
  const known = [...read].filter((n) => n.startsWith('TRACKHUB_'));
  return Object.keys(env)
    .filter((name) => name.startsWith('TRACKHUB_') && !read.has(name) && !READ_ELSEWHERE.test(name))
    .map((name) => {
      const upper = name.toUpperCase();
      const scored = known.map((k) => ({ k, d: editDistance(upper, k) })).sort((a, b) => a.d - b.d)[0];
      return scored && scored.d <= Math.max(2, Math.floor(name.length / 8)) ? { name, nearest: scored.k } : { name };
    });
}

/** Levenshtein distance, for the suggestions above (names are short: a row at a time is enough). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}
