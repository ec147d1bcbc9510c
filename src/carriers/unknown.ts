import { Counter } from 'prom-client';

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
    return;
  }
  if (seen.size >= MAX_CODES) {
    unknownCarrierCodes.inc({ provider, code: 'other' });
    return;
  }
  seen.add(key);
  unknownCarrierCodes.inc({ provider, code });
  warn('unknown carrier status code', { provider, code, description: description?.slice(0, 200) });
}
