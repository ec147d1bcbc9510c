import { type RawBuilder, sql } from 'kysely';

/**
 * A timestamptz column or expression as the API writes times: ISO 8601 in UTC with milliseconds and `Z`,
 * formatted by PostgreSQL so a read needs no Date round trip per value. `expr` is SQL written by the
 * store (a column name or expression), never outside input.
 */
export function isoUtc(expr: string): RawBuilder<string | null> {
  return sql.raw(`to_char(${expr} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
}
