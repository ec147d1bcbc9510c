import { sql } from 'kysely';
import type { Db } from './db.ts';

/**
 * Retention (TRACKHUB_RETENTION, docs/design.md "Retention"): finished operations whose finish is older
 * than the cutoff go, with their notifications (outbox rows), those notifications' attempt logs and their
 * ids kept for the notification roll-ups (notification_rollup_open); their wake-ups go by migration 0020's
 * trigger (a finished operation has none). Roll-up rows (insight_*, notification_rollup) are aggregates
 * and stay. Site events keep their own 180 days (docs/contract.md §4, src/sites/ingest.ts).
 *
 * Removed in small batches, each its own short transaction, so no lock is held long and the hot path's
 * writes never queue behind a purge. Open operations are never picked; nor is a finished operation with a
 * notification not delivered (pending, dead, or batched under a head not delivered): it stays until
 * delivered or replayed and delivered. Operations a batch ties together stay together while one of them
 * is within retention (docs/design.md "Retention").
 */

/** Transaction-scoped advisory lock a batch takes: one instance purges at a time (the others' try fails). */
const PURGE_LOCK = 7314020;

export interface PurgedBatch {
  operations: number;
  notifications: number;
  attempts: number;
  /** Operations looked at (purged or kept); fewer than the limit: nothing more is due. */
  examined: number;
  /** The last operation looked at: the next batch starts after it (keyset, so kept rows are not read again). */
  reached: Cursor | null;
}

/**
 * Where a batch stopped: a time as the store prints it (microseconds kept) and the id that orders rows of
 * the same time. The id matters: one transaction closes many operations at one `now()`, and a cursor on
 * the time alone would skip the rest of a time a batch ended in the middle of.
 */
export interface Cursor {
  at: string;
  id: string;
}

/**
 * Deletes up to `limit` finished operations finished before `cutoff` (and after `after`), oldest first,
 * with their children, in one transaction. Undefined when another instance holds the purge lock.
 */
export async function purgeFinishedBatch(db: Db, cutoff: Date, limit: number, after: Cursor | null): Promise<PurgedBatch | undefined> {
  return db.transaction().execute(async (tx) => {
    const got = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${PURGE_LOCK}) as ok`.execute(tx);
    if (!got.rows[0]?.ok) return undefined;
    // operations.updated_at is the finish time of a closed operation (nothing writes it after), read
    // through operations_finished (migration 0014). A notification is delivered when its row is, or, batched
    // into another's (batch_id), when that head is delivered or already gone (heads are purged delivered).
    const res = await sql<{ operations: number; notifications: number; attempts: number; examined: number; reached_at: string | null; reached_id: string | null }>`
      with candidates as (
        select operation_id, updated_at from operations
        where not is_open and updated_at < ${cutoff.toISOString()}::timestamptz
          and updated_at >= coalesce(${after?.at ?? null}::timestamptz, '-infinity')
          and (updated_at, operation_id) > (coalesce(${after?.at ?? null}::timestamptz, '-infinity'), coalesce(${after?.id ?? null}::text, ''))
        order by updated_at, operation_id
        limit ${limit}
      ),
      picked as (
        select o.operation_id from operations o join candidates c on c.operation_id = o.operation_id
        where not o.is_open
          and not exists (
            select 1 from outbox n where n.operation_id = o.operation_id
              and (
                not (n.state = 'delivered' or (n.state = 'batched' and not exists (
                  select 1 from outbox h where h.id = n.batch_id and h.state <> 'delivered')))
                -- The head of a batch that carried another operation's notifications: kept while that
                -- operation stays (open, within retention, or with a notification not delivered), or their
                -- delivery would read as never made. Once both are past retention they go in either order:
                -- two operations whose batches carry each other's updates would otherwise never go.
                or exists (
                  select 1 from outbox m join operations q on q.operation_id = m.operation_id
                  where m.batch_id = n.id and m.operation_id <> o.operation_id
                    and (q.is_open or q.updated_at >= ${cutoff.toISOString()}::timestamptz
                      or exists (select 1 from outbox x where x.operation_id = q.operation_id and x.state in ('pending', 'dead'))))
                -- A notification carried under another operation's head: kept while that operation is within
                -- retention, or a replay of the head would resend its webhook-id without this update.
                or (n.state = 'batched' and exists (
                  select 1 from outbox h join operations q on q.operation_id = h.operation_id
                  where h.id = n.batch_id and h.operation_id <> o.operation_id
                    and (q.is_open or q.updated_at >= ${cutoff.toISOString()}::timestamptz)))))
        for update of o skip locked
      ),
      held as (
        -- Their notifications, locked, as they are now (a locking read returns a row's newest version: a
        -- replay committed since this statement began shows). A row another transaction holds (a replay
        -- under way) is skipped, not waited for: waiting on a replay that waits on this batch's rows was a
        -- deadlock (attack run).
        select n.operation_id, n.state from outbox n join picked p on p.operation_id = n.operation_id
        for update of n skip locked
      ),
      settled as (
        -- Every notification held and none made pending again; otherwise the whole operation stays for a
        -- later run.
        select p.operation_id from picked p
        where not exists (select 1 from held h where h.operation_id = p.operation_id and h.state not in ('delivered', 'batched'))
          and (select count(*) from held h where h.operation_id = p.operation_id)
            = (select count(*) from outbox n where n.operation_id = p.operation_id)
      ),
      notes as (
        delete from outbox n using settled p where n.operation_id = p.operation_id
        returning n.id
      ),
      attempts as (delete from delivery_attempts a using notes where a.notification_id = notes.id returning 1),
      rollup_ids as (delete from notification_rollup_open r using notes where r.id = notes.id returning 1),
      ops as (
        -- Only an operation all of whose notifications went: one kept by a replay racing this batch keeps its
        -- operation, so a later run finds and removes both once it is delivered.
        delete from operations o using settled p where o.operation_id = p.operation_id
          and not exists (select 1 from outbox n where n.operation_id = p.operation_id and n.id not in (select id from notes))
        returning 1
      ),
      last as (select updated_at::text as at, operation_id as id from candidates order by updated_at desc, operation_id desc limit 1)
      select (select count(*) from ops)::int as operations, (select count(*) from notes)::int as notifications,
        (select count(*) from attempts)::int as attempts, (select count(*) from candidates)::int as examined,
        (select at from last) as reached_at, (select id from last) as reached_id,
        (select count(*) from rollup_ids)::int as rollup_ids`.execute(tx);
    const r = res.rows[0];
    const reached = r.reached_at !== null && r.reached_id !== null ? { at: r.reached_at, id: r.reached_id } : null;
    return { operations: r.operations, notifications: r.notifications, attempts: r.attempts, examined: r.examined, reached };
  });
}

export interface PrunedAttempts {
  attempts: number;
  examined: number;
  /** The last attempt looked at: its time, and its notification id and attempt number as `id` (`notification_id/attempt`). */
  reached: Cursor | null;
}

/**
 * The attempt log of delivered notifications, kept 30 days (the issuer has the notification; the log is
 * for troubleshooting): up to `limit` attempts made before `cutoff` (and after `after`), oldest first, in
 * one transaction. Attempts of notifications not delivered are kept whatever their age. Undefined when
 * another instance holds the purge lock.
 */
export async function pruneDeliveredAttemptsBatch(db: Db, cutoff: Date, limit: number, after: Cursor | null): Promise<PrunedAttempts | undefined> {
  return db.transaction().execute(async (tx) => {
    const got = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${PURGE_LOCK}) as ok`.execute(tx);
    if (!got.rows[0]?.ok) return undefined;
    // The keyset's tie-breaker is (notification_id, attempt), carried in the cursor's id as `notification_id/attempt`.
    const [afterNote, afterAttempt] = after ? [after.id.slice(0, after.id.lastIndexOf('/')), Number(after.id.slice(after.id.lastIndexOf('/') + 1))] : [null, null];
    const res = await sql<{ attempts: number; examined: number; reached_at: string | null; reached_id: string | null }>`
      with candidates as (
        select notification_id, attempt, attempted_at from delivery_attempts
        where attempted_at < ${cutoff.toISOString()}::timestamptz
          and attempted_at >= coalesce(${after?.at ?? null}::timestamptz, '-infinity')
          and (attempted_at, notification_id, attempt) > (coalesce(${after?.at ?? null}::timestamptz, '-infinity'), coalesce(${afterNote}::text, ''), coalesce(${afterAttempt}::int, -1))
        order by attempted_at, notification_id, attempt
        limit ${limit}
      ),
      gone as (
        delete from delivery_attempts a using candidates c, outbox o
        where a.notification_id = c.notification_id and a.attempt = c.attempt and o.id = a.notification_id and o.state = 'delivered'
        returning 1
      ),
      last as (select attempted_at::text as at, notification_id || '/' || attempt as id from candidates order by attempted_at desc, notification_id desc, attempt desc limit 1)
      select (select count(*) from gone)::int as attempts, (select count(*) from candidates)::int as examined,
        (select at from last) as reached_at, (select id from last) as reached_id`.execute(tx);
    const r = res.rows[0];
    const reached = r.reached_at !== null && r.reached_id !== null ? { at: r.reached_at, id: r.reached_id } : null;
    return { attempts: r.attempts, examined: r.examined, reached };
  });
}
