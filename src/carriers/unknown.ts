import { Counter } from 'prom-client';
import { escapeUnprintable } from '../domain/text.ts';
import type { UnknownCodeDelta } from '../store/carrier-view.ts';

/**
 * Carrier status codes we have no row for. The parser maps them to the nearest safe status; here they
 * are counted (metric) and logged once per code, so an operator learns a table needs a new row.
 *
 * Process-wide like every Prometheus metric of the hub (one /metrics per process); the codes come from
 * carriers' answers and pushes, so what is remembered of them is bounded.
 */
export const unknownCarrierCodes = new Counter({
  name: 'trackhub_carrier_unknown_status_codes_total',
  help: 'Carrier status codes seen that have no mapping in the status table (codes past the first 500 counted as "other")',
  labelNames: ['provider', 'code'],
});

/** Distinct codes given a label and a log line of their own; later ones are counted as "other". */
const MAX_CODES = 500;
const seen = new Set<string>();
let warn: (msg: string, fields: Record<string, unknown>) => void = () => {};

/** Where the once-per-code line goes (the hub's logger); nowhere until the hub sets it. */
export function setUnknownCodeLogger(fn: typeof warn): void {
  warn = fn;
}

export function reportUnknownCode(provider: string, given: string, description?: string): void {
  const code = given.slice(0, 100);
  const key = `${provider}:${code}`;
  if (seen.has(key)) {
    unknownCarrierCodes.inc({ provider, code });
    remember(provider, code, description);
    return;
  }
  if (seen.size >= MAX_CODES) {
    unknownCarrierCodes.inc({ provider, code: 'other' });
    remember(provider, 'other', description, code);
    return;
  }
  seen.add(key);
  unknownCarrierCodes.inc({ provider, code });
  remember(provider, code, description);
  warn('unknown carrier status code', { provider, code, description: description?.slice(0, 200) });
}

/**
 * What was seen since the last flush, for carrier_unknown_codes (src/store/carrier-view.ts), which every
 * process adds to so that operators see the codes of every worker and instance in one place. Keyed like
 * the metric's labels (a code past the first 500 is `other`), so it never holds more than 500 codes plus
 * one `other` per provider.
 */
const pending = new Map<string, UnknownCodeDelta>();

/**
 * The description as an operator will read it: at most 200 characters, control and invisible characters
 * shown as \u escapes (a terminal must not act on them; PostgreSQL text cannot hold a NUL). The code of a
 * code counted as `other` leads it, so the bucket still says which codes it holds.
 */
function example(description: string | undefined, overflowCode: string | undefined): string | null {
  if (description === undefined && overflowCode === undefined) return null;
  const text = escapeUnprintable((description ?? '').slice(0, 200));
  return overflowCode === undefined ? text : `${escapeUnprintable(overflowCode)}: ${text}`;
}

function remember(provider: string, code: string, description: string | undefined, overflowCode?: string): void {
  const stored = escapeUnprintable(code);
  const key = `${provider}:${stored}`;
  const at = new Date();
  const text = example(description, overflowCode);
  const entry = pending.get(key);
  if (entry) {
    entry.count++;
    entry.lastSeenAt = at;
    entry.lastExample = text;
    return;
  }
  pending.set(key, { provider, code: stored, count: 1, firstSeenAt: at, firstExample: text, lastSeenAt: at, lastExample: text });
}

/** Hands over what was seen since the last call, and forgets it (see restoreUnknownCodes when the write fails). */
export function takeUnknownCodes(): UnknownCodeDelta[] {
  const out = [...pending.values()];
  pending.clear();
  return out;
}

/** Puts back what a failed flush took, merged with what was seen since: nothing is lost to a store outage. */
export function restoreUnknownCodes(deltas: UnknownCodeDelta[]): void {
  for (const d of deltas) {
    const key = `${d.provider}:${d.code}`;
    const now = pending.get(key);
    if (!now) {
      pending.set(key, { ...d });
      continue;
    }
    // What is pending now was seen after what the flush took.
    now.count += d.count;
    now.firstSeenAt = d.firstSeenAt;
    now.firstExample = d.firstExample;
  }
}
