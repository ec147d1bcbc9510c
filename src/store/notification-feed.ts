import { sql } from 'kysely';
import type { Db } from './db.ts';
import { batchedPayloads, notifyOutboxCommitted, sendUnderWay } from './outbox.ts';

/**
 * The catch-up feed: an issuer's notifications in the order of the transactions that wrote them, with
 * the webhook-id and the body of their push, whatever their delivery state (pending, delivered, dead),
 * for as long as the outbox holds them.
 *
 * Order. Every outbox row records its writer's transaction id (`commit_xid`, migration 0012). Rows are
 * read in (commit_xid, id) order, and only below the cut-off (FEED_CUTOFF): the oldest transaction still
 * running that may belong to this database. Every transaction below it has ended, so no row can ever
 * appear below it later. A cursor handed out is the position of the last row served; a row committed
 * afterwards always sorts above it. The price: a long-running transaction of this database holds the
 * feed back (never loses a row).
 *
 * Same body as the push. A notification is the row of its head (its id is the webhook-id) and, for an
 * issuer batching several operations per notification, the rows grouped beside it in state 'batched'.
 * The dispatcher fixes a grouping once, at a row's first claim, before sending it (src/delivery/batching.ts).
 * The feed serves only rows whose grouping is fixed:
 * - a pending row without a batch whose send is not under way (never claimed, or its lease over) is pinned
 *   first as a notification of its own (`batch_id = id`), so the dispatcher later sends it alone, under the
 *   same webhook-id, with the same body, and no grouping can take it any more;
 * - a row without a batch whose send is under way (sendUnderWay: claimed, lease running, that attempt not
 *   recorded) ends the page there: it is served by a later call, once its attempt is recorded or its lease
 *   is over. The dispatcher writes a grouping between a row's first claim and its send (claim, then
 *   formNotifications, then the attempt), all within the lease; a claim after the lease ran out counts a
 *   second attempt, and a row claimed again is never grouped, so it goes out alone, as the feed served it.
 *   A worker that stalled past its lease groups nothing (groupIntoBatches checks the claim is still its own).
 *   A pending row the pin skipped (held by a claim or a grouping at that moment) ends the page too.
 *   A delivered or dead row without a batch is a notification of its own for good, and is served.
 * A page therefore never skips a row it cannot serve yet, and never stops for good at one.
 */

/**
 * The feed's cut-off, as one scalar subquery (evaluated once per statement). The statement's snapshot lists
 * the transactions running anywhere on the server (pg_snapshot_xip); pg_snapshot_xmin would be the oldest
 * of them, so an idle-in-transaction session in ANOTHER database would stall every issuer's feed. A
 * transaction is passed over only on proof that it belongs to another database: the backend holding its
 * transaction id (granted ExclusiveLock on it in pg_locks) also holds a lock on a relation of another
 * database. A session is bound to one database for its life, so such a transaction can never write this
 * outbox. pg_locks shows every session's locks to every role (pg_stat_activity hides other roles'
 * backend_xid without pg_read_all_stats, so it is not used). Without that proof (a prepared transaction,
 * which has no pid; a transaction holding no relation lock), it is kept: the cut-off may then stay back,
 * never run ahead. Locks in pg_locks may end after the snapshot; that only keeps a transaction that could
 * have been passed over.
 */
const FEED_CUTOFF = sql`(
  select coalesce(min(r.x), pg_snapshot_xmax(pg_current_snapshot()))
  from pg_snapshot_xip(pg_current_snapshot()) as r(x)
  where not exists (
    select 1 from pg_locks t join pg_locks l on l.pid = t.pid and l.virtualtransaction = t.virtualtransaction
    where t.locktype = 'transactionid' and t.mode = 'ExclusiveLock' and t.granted and t.transactionid = r.x::xid
      and l.locktype = 'relation' and l.database <> 0
      and l.database <> (select d.oid from pg_database d where d.datname = current_database())))`;

/** The last_error a notification acknowledged through the feed shows (Admin API, console, CLI). */
export const FEED_ACK_NOTE = 'acknowledged through the catch-up feed (the issuer read past it)';

/** A position in the feed: the writer's transaction id (xid8, as decimal text) and the row's id. */
export interface FeedPosition {
  xid: string;
  id: string;
}

/** Before every row. */
export const FEED_START: FeedPosition = { xid: '0', id: '' };

export interface FeedItem {
  webhookId: string;
  createdAt: string;
  /** The notification's body as pushed (notificationBody). */
  body: string;
  position: FeedPosition;
}

/** A notification's body: the operations it carries, in the order the dispatcher sends them. */
export function notificationBody(payloads: string[]): string {
  return `{"operations":[${payloads.join(',')}]}`;
}

/**
 * The issuer read the feed with `after`: it holds every notification at or before that position (a client
 * advances its cursor only once it applied a page). Those still pending are recorded delivered, so the
 * later updates of their operations, held back behind them (claimDueNotifications), flow at once rather
 * than after their next retry, hours away after a long outage. Batched rows follow their head, as when
 * a push is recorded. A notification whose send is under way is left to its attempt (sendUnderWay), and
 * rows a claim holds right now are skipped, not waited for: both are recorded by their attempt. Only rows
 * below the cut-off are taken, so a cursor made up to run ahead acknowledges nothing the feed could not
 * have served. Returns how many were acknowledged.
 */
export async function acknowledgeThrough(db: Db, issuerId: string, after: FeedPosition): Promise<number> {
  const res = await sql`
    update outbox p set state = 'delivered', delivered_at = now(), last_error = ${FEED_ACK_NOTE}
    where p.state = 'pending' and p.id in (
      select x.id from outbox x
      where x.issuer_id = ${issuerId} and x.state = 'pending'
        and x.commit_xid < ${FEED_CUTOFF}
        and (x.commit_xid, x.id) <= (${after.xid}::xid8, ${after.id})
        and not ${sendUnderWay('x')}
      for update skip locked)`.execute(db);
  const n = Number(res.numAffectedRows ?? 0);
  // Wakes the workers of every process: the updates these held back are due now.
  if (n > 0) await notifyOutboxCommitted(db);
  return n;
}

interface FeedRow {
  id: string;
  xid: string;
  created_at: Date;
  payload: string;
  batch_id: string | null;
  unfixed: boolean;
}

/** At most `limit` notifications of `issuerId` after `after`; `hasMore` when more can be read right away. */
export async function readFeed(db: Db, issuerId: string, after: FeedPosition, limit: number): Promise<{ items: FeedItem[]; hasMore: boolean }> {
  const window = sql`
    o.issuer_id = ${issuerId} and o.state <> 'batched'
    and o.commit_xid < ${FEED_CUTOFF}
    and (o.commit_xid, o.id) > (${after.xid}::xid8, ${after.id})`;
  // Pin the page's pending rows without a batch whose send is not under way (never claimed, or their
  // lease over) as notifications of their own. Rows a claim, a grouping or another feed call holds are
  // skipped, not waited for: they read as not fixed below, and end the page. Pinned, a row can no longer
  // be grouped (groupIntoBatches takes only rows without a batch, locking them first); served only once
  // pinned, a row is never served in a snapshot taken before a grouping that then commits.
  await sql`
    update outbox p set batch_id = p.id
    where p.id in (
      select x.id from outbox x
      where x.id in (select o.id from outbox o where ${window} order by o.commit_xid, o.id limit ${limit + 1})
        and x.state = 'pending' and x.batch_id is null and not ${sendUnderWay('x')}
      for update skip locked)
      and p.state = 'pending' and p.batch_id is null`.execute(db);
  const rows = (
    await sql<FeedRow>`
    select o.id, o.commit_xid::text as xid, o.created_at, o.payload, o.batch_id,
      (o.state = 'pending' and o.batch_id is null) as unfixed
    from outbox o where ${window}
    order by o.commit_xid, o.id
    limit ${limit + 1}`.execute(db)
  ).rows;
  const served: FeedRow[] = [];
  let hasMore = false;
  for (const r of rows) {
    // A row not fixed yet ends the page as "caught up for now" (hasMore false): it is fixed within one
    // attempt's timeout, and a client told to read on at once would only spin until then.
    if (r.unfixed) break;
    if (served.length === limit) {
      hasMore = true;
      break;
    }
    served.push(r);
  }
  const heads = served.filter((r) => r.batch_id !== null).map((r) => r.id);
  // The other operations of each batch, in the order the dispatcher sends them (batchedPayloads).
  const members = new Map<string, string[]>();
  for (const m of heads.length > 0 ? await batchedPayloads(db, heads) : []) {
    const list = members.get(m.batch_id as string);
    if (list) list.push(m.payload);
    else members.set(m.batch_id as string, [m.payload]);
  }
  return {
    items: served.map((r) => ({
      webhookId: r.id,
      createdAt: new Date(r.created_at).toISOString(),
      body: notificationBody([r.payload, ...(members.get(r.id) ?? [])]),
      position: { xid: r.xid, id: r.id },
    })),
    hasMore,
  };
}
