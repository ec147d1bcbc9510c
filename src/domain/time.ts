/** An ISO 8601 date-time (or date); anything else is refused rather than guessed. */
export function parseTime(raw: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(raw);
  if (!m) return undefined;
  // Date.parse rolls 2024-02-30 over into March; a day the month does not have is refused.
  if (Number(m[3]) > new Date(Date.UTC(Number(m[1]), Number(m[2]), 0)).getUTCDate()) return undefined;
  const t = Date.parse(raw);
  return Number.isNaN(t) ? undefined : new Date(t);
}
