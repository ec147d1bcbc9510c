import { sql } from 'kysely';
import type { Db } from './db.ts';

/** UPS Track Alert subscriptions (ups_track_alert_subscriptions): when each number was last subscribed. */

/**
 * Numbers of open UPS parcels (`1Z…`) never subscribed, or last subscribed before `renewBefore`: at
 * most `limit` of them, distinct (several operations may follow one parcel).
 */
export async function upsNumbersToSubscribe(db: Db, renewBefore: Date, limit: number): Promise<string[]> {
  const { rows } = await sql<{ tracking_number: string }>`
      select distinct o.tracking_number from operations o
      left join ups_track_alert_subscriptions s on s.tracking_number = o.tracking_number
      where o.is_open and o.carrier = 'ups' and o.tracking_number like '1Z%'
        and (s.subscribed_at is null or s.subscribed_at < ${renewBefore.toISOString()}::timestamptz)
      limit ${limit}`.execute(db);
  return rows.map((r) => r.tracking_number);
}

/** Records the numbers as subscribed at `at`: the table makes a renewal happen once, whichever worker does it. */
export async function recordUpsSubscriptions(db: Db, numbers: string[], at: Date): Promise<void> {
  await sql`insert into ups_track_alert_subscriptions (tracking_number, subscribed_at)
      select n, ${at.toISOString()}::timestamptz from unnest(${numbers}::text[]) as n
      on conflict (tracking_number) do update set subscribed_at = excluded.subscribed_at`.execute(db);
}
