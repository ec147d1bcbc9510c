import { sql } from 'kysely';
import type { Db } from './db.ts';

/**
 * The dispatcher's writes to the outbox and its attempt log (src/delivery/dispatcher.ts): grouping claimed
 * rows into notifications, recording attempts, pruning the log. The claim itself, and notifications as the
 * Admin API sees them, are src/store/notifications.ts.
 */

/**
 * Writes the grouping down before anything is sent: each row `id` joins the notification whose head is
 * `head` (the head stays pending, the others wait beside it in state 'batched'), so every retry carries
 * the same operations under the same webhook-id.
 */
export async function groupIntoBatches(db: Db, assign: { id: string; head: string }[]): Promise<void> {
  await sql`
        update outbox o set batch_id = a.head, state = case when o.id = a.head then 'pending' else 'batched' end
        from json_to_recordset(${JSON.stringify(assign)}::json) as a(id text, head text)
        where o.id = a.id`.execute(db);
}

/** The payloads of a batch formed earlier: its other operations wait in state 'batched' beside the head, in the order they were written. */
export async function batchedPayloads(db: Db, headIds: string[]): Promise<{ batch_id: string | null; payload: string }[]> {
  return db
    .selectFrom('outbox')
    .select(['batch_id', 'payload'])
    .where('batch_id', 'in', headIds)
    .where('state', '=', 'batched')
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** One attempt as decided by the dispatcher: the attempt log row, and what becomes of its notification. */
export interface AttemptRecord {
  id: string;
  attempt: number;
  attempted_at: string;
  http_status: number | null;
  error: string | null;
  latency_ms: number;
  response_body: string | null;
  outcome: 'delivered' | 'retry' | 'dead';
  reason: string | null;
  next_at: string | null;
  new_offset: number | null;
}

/**
 * Records a batch of attempts in ONE statement (one round trip, one commit): the attempt log rows and
 * each notification's outcome. A failure never overwrites a delivery another worker recorded meanwhile
 * (`o.state = 'pending'`), nor the lease of a newer claim of the same row (`o.attempts = res.attempt`).
 * A lost record only means a repeat under the same webhook-id, so callers may pass connections whose
 * commit does not wait for the disk (see OpenedStore.relaxed).
 */
export async function recordAttempts(db: Db, rows: AttemptRecord[]): Promise<void> {
  await sql`
      with res as (
        select * from json_to_recordset(${JSON.stringify(rows)}::json) as r(
          id text, attempt int, attempted_at timestamptz, http_status int, error text, latency_ms int, response_body text,
          outcome text, reason text, next_at timestamptz, new_offset int)
      ), logged as (
        insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, error, latency_ms, response_body)
        select id, attempt, attempted_at, http_status, error, latency_ms, response_body from res
        on conflict do nothing
      )
      update outbox o set
        state = case res.outcome when 'delivered' then 'delivered' when 'dead' then 'dead' else o.state end,
        delivered_at = case when res.outcome = 'delivered' then now() else o.delivered_at end,
        last_error = res.reason,
        next_attempt_at = coalesce(res.next_at, o.next_attempt_at),
        schedule_offset = coalesce(res.new_offset, o.schedule_offset)
      from res
      where o.id = res.id and (res.outcome = 'delivered' or (o.state = 'pending' and o.attempts = res.attempt))`.execute(db);
}

/** Deletes attempts made before `cutoff` of notifications already delivered; undelivered ones keep all. Returns how many. */
export async function pruneDeliveredAttempts(db: Db, cutoff: Date): Promise<number> {
  const res = await sql`
      delete from delivery_attempts a using outbox o
      where a.notification_id = o.id and o.state = 'delivered' and a.attempted_at < ${cutoff.toISOString()}::timestamptz`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}
