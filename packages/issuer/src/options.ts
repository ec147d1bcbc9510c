/**
 * Checks of the numeric options every class takes. A value that is not a finite number (NaN from
 * `Number(process.env.X)` of an unset variable, a string from a config file) must not slip through:
 * compared with `<` or `>` it is false both ways, so a limit or a replay window would silently vanish.
 */
export function checkNumber(value: unknown, name: string, rule: { min: number; max?: number; integer?: boolean }): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= rule.min && (rule.max === undefined || value <= rule.max) && (!rule.integer || Number.isInteger(value));
  if (!ok) {
    const kind = rule.integer ? 'an integer' : 'a finite number';
    const range = rule.max === undefined ? `${rule.min} or more` : `from ${rule.min} to ${rule.max}`;
    throw new TypeError(`${name} must be ${kind}, ${range} (got ${describe(value)})`);
  }
  return value;
}

/** An optional numeric option: its default when undefined, otherwise checked as above. */
export function optionalNumber(value: unknown, fallback: number, name: string, rule: { min: number; max?: number; integer?: boolean }): number {
  return value === undefined ? fallback : checkNumber(value, name, rule);
}

/** What was given, for a message: its type and, for a number, its value; never the text of a string (it may be a secret). */
export function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
