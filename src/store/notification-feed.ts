import { sql } from 'kysely';
import type { Db } from './db.ts';
import { batchedPayloads } from './outbox.ts';

/**
 * The catch-up feed: an issuer's notifications in the order of the transactions that wrote them, with
 * the webhook-id and the body of their push, whatever their delivery state (pending, delivered, dead),
 * for as long as the outbox holds them.
 *
 * Order. Every outbox row records its writer's transaction id (`commit_xid`, migration 0012). Rows are
 * read in (commit_xid, id) order, and only below the oldest transaction still running anywhere in the
 * cluster (`pg_snapshot_xmin(pg_current_snapshot())`): every transaction below it has ended, so no row
 * can ever appear below it later. A cursor handed out is the position of the last row served; a row
 * committed afterwards always sorts above it. The price: a long-running transaction holds the feed back
 * (never loses a row).
 *
 * Same body as the push. A notification is the row of its head (its id is the webhook-id) and, for an
 * issuer batching several operations per notification, the rows grouped beside it in state 'batched'.
 * The dispatcher fixes a grouping once, at a row's first claim, before sending it (src/delivery/batching.ts).
 * The feed serves only rows whose grouping is fixed:
 * - a row never claimed is pinned first as a notification of its own (`batch_id = id`), so the dispatcher
 *   later sends it alone, under the same webhook-id, with the same body;
 * - a row claimed once whose grouping may not be written yet (pending, no batch, one attempt, none logged)
 *   ends the page there: it is served by a later call, once its first attempt is recorded.
 * A page therefore never skips a row it cannot serve yet.
 */

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
    and o.commit_xid < pg_snapshot_xmin(pg_current_snapshot())
    and (o.commit_xid, o.id) > (${after.xid}::xid8, ${after.id})`;
  // Pin the page's never-claimed rows as notifications of their own. Rows a claim (or another feed call)
  // holds are skipped, not waited for: they read as not fixed below, and end the page.
  await sql`
    update outbox p set batch_id = p.id
    where p.id in (
      select x.id from outbox x
      where x.id in (select o.id from outbox o where ${window} order by o.commit_xid, o.id limit ${limit + 1})
        and x.state = 'pending' and x.batch_id is null and x.attempts = 0
      for update skip locked)`.execute(db);
  const rows = (
    await sql<FeedRow>`
    select o.id, o.commit_xid::text as xid, o.created_at, o.payload, o.batch_id,
      (o.state = 'pending' and o.batch_id is null and (o.attempts = 0
        or (o.attempts = 1 and not exists (select 1 from delivery_attempts a where a.notification_id = o.id)))) as unfixed
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
