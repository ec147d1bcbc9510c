import { sql } from 'kysely';
import type { Db } from './db.ts';
import type { RejectedLine } from './inbox-files.ts';
import { isoUtc } from './sql-time.ts';

/**
 * A production site's inbox files with what the store keeps of their reports (src/sites/inbox.ts writes
 * them): counts, and the first rejected lines with their reasons (inbox_files.rejected, capped when
 * written; rejected_count is exact). The reason a whole file was rejected (unreadable, no usable event)
 * is in the report file written beside it in the site's folder, not in the store.
 */

/** At most this many rejected lines per file in a listing: a page of files stays small. */
export const LISTED_REJECTIONS = 20;

export interface InboxFileReport {
  name: string;
  /** processing (being read, or its worker stopped), done, or rejected (nothing usable in it, or unreadable). */
  state: string;
  receivedAt: string;
  /** When it was moved to done/ or rejected/; null while processing. */
  finishedAt: string | null;
  /** Records read: each is accepted, a duplicate or rejected; a CSV's header and blank lines are not records (as `sites import` and the report file count). */
  linesRead: number;
  accepted: number;
  duplicates: number;
  rejectedLines: number;
  /** The first LISTED_REJECTIONS rejected lines as stored: in line order (each chunk appends its own, sorted). */
  rejected: RejectedLine[];
}

/** A page's position: the last file's receipt time (microseconds, as stored) and md5 of its key (the tie-break). */
export interface InboxFileKey {
  receivedAt: string;
  keyDigest: string;
}

const RECEIVED_KEY = `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Newest first; `after` is the position of the previous page's last file. One range of inbox_files_newest. */
export async function listInboxFiles(db: Db, siteId: string, q: { after?: InboxFileKey; limit: number }): Promise<{ files: InboxFileReport[]; last?: InboxFileKey; more: boolean }> {
  const after = q.after ? sql`and (created_at, md5(file_key)) < (${q.after.receivedAt}::timestamptz, ${q.after.keyDigest})` : sql``;
  const res = await sql<{
    key_digest: string;
    received_key: string;
    name: string;
    state: string;
    received_at: string;
    finished_at: string | null;
    lines_done: number;
    accepted: number;
    duplicates: number;
    rejected_count: number;
    rejected: RejectedLine[];
  }>`
    select md5(file_key) as key_digest, ${sql.raw(RECEIVED_KEY)} as received_key, name, state, ${isoUtc('created_at')} as received_at,
      case when state in ('done', 'rejected') then ${isoUtc('updated_at')} end as finished_at,
      lines_done, accepted, duplicates, rejected_count,
      coalesce((select jsonb_agg(r order by n) from jsonb_array_elements(rejected) with ordinality as e(r, n) where n <= ${LISTED_REJECTIONS}), '[]'::jsonb) as rejected
    from inbox_files where site_id = ${siteId} ${after}
    order by created_at desc, md5(file_key) desc
    limit ${q.limit + 1}`.execute(db);
  const page = res.rows.slice(0, q.limit);
  const lastRow = page.at(-1);
  return {
    files: page.map((r) => ({
      name: r.name,
      state: r.state,
      receivedAt: r.received_at,
      finishedAt: r.finished_at,
      // Not lines_done: that is where a resumed read starts, the physical line, header included.
      linesRead: r.accepted + r.duplicates + r.rejected_count,
      accepted: r.accepted,
      duplicates: r.duplicates,
      rejectedLines: r.rejected_count,
      rejected: r.rejected.map((x) => ({ line: x.line, errorCode: x.errorCode, error: x.error })),
    })),
    last: lastRow && { receivedAt: lastRow.received_key, keyDigest: lastRow.key_digest },
    more: res.rows.length > q.limit,
  };
}
