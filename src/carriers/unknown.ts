import { Counter } from 'prom-client';

/**
 * Carrier status codes we have no row for. The parser maps them to the nearest safe status; here they
 * are counted (metric) and logged once per code, so an operator learns a table needs a new row.
 */
export const unknownCarrierCodes = new Counter({
  name: 'trackhub_carrier_unknown_status_codes_total',
  help: 'Carrier status codes seen that have no mapping in the status table',
  labelNames: ['provider', 'code'],
});

const seen = new Set<string>();
let warn: (msg: string, fields: Record<string, unknown>) => void = () => {};

export function setUnknownCodeLogger(fn: typeof warn): void {
  warn = fn;
}

export function reportUnknownCode(provider: string, code: string, description?: string): void {
  unknownCarrierCodes.inc({ provider, code });
  const key = `${provider}:${code}`;
  if (seen.has(key)) return;
  seen.add(key);
  warn('unknown carrier status code', { provider, code, description });
}
