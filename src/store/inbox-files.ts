import { sql } from 'kysely';
import type { ErrorCode } from '../domain/errors.ts';
import type { Db } from './db.ts';

/**
 * Progress of each site inbox file (src/sites/inbox.ts), keyed by site and name+size+mtime: one leased
 * row per file, so one worker owns a file and a file resumed after a crash reports exact counts.
 */

/** A line of a batch file refused, with why; the first of them are kept in inbox_files.rejected. */
export interface RejectedLine {
  line: number;
  errorCode: ErrorCode;
  error: string;
}

export interface InboxFileProgress {
  lines_done: number;
  accepted: number;
  duplicates: number;
  rejected_count: number;
  rejected: RejectedLine[];
}

/**
 * Claims the file for `leaseMs`: a new row, or one whose lease ran out (its worker died, or let it go).
 * Returns the progress committed so far, or undefined when another worker holds the file.
 */
export async function claimInboxFile(db: Db, siteId: string, fileKey: string, name: string, leaseMs: number): Promise<InboxFileProgress | undefined> {
  const lease = `${leaseMs} milliseconds`;
  const claimed = await sql<InboxFileProgress>`
      insert into inbox_files (site_id, file_key, name, lease_until) values (${siteId}, ${fileKey}, ${name}, now() + ${lease}::interval)
      on conflict (site_id, file_key) do update set lease_until = now() + ${lease}::interval, updated_at = now()
        where inbox_files.lease_until < now()
      returning lines_done, accepted, duplicates, rejected_count, rejected`.execute(db);
  return claimed.rows[0];
}

/** Ends the lease now, so the next worker (or this one after a restart) resumes at once. */
export async function releaseInboxFile(db: Db, siteId: string, fileKey: string): Promise<void> {
  await sql`update inbox_files set lease_until = now() where site_id = ${siteId} and file_key = ${fileKey}`.execute(db);
}

export async function inboxFileProgress(db: Db, siteId: string, fileKey: string): Promise<InboxFileProgress> {
  const final = await sql<InboxFileProgress>`select lines_done, accepted, duplicates, rejected_count, rejected from inbox_files where site_id = ${siteId} and file_key = ${fileKey}`.execute(db);
  return final.rows[0];
}

export async function finishInboxFile(db: Db, siteId: string, fileKey: string, outcome: 'done' | 'rejected'): Promise<void> {
  await sql`update inbox_files set state = ${outcome}, updated_at = now() where site_id = ${siteId} and file_key = ${fileKey}`.execute(db);
}

/**
 * A chunk's progress, written in the chunk's own transaction (`tx`, beside its events): the line it
 * ended on, the counts added, and its rejected lines appended while the list holds fewer than
 * `maxListed` (rejected_count stays exact). Renews the lease for `leaseMs`.
 */
export async function saveInboxProgress(
  tx: Db,
  p: { siteId: string; fileKey: string; endLine: number; accepted: number; duplicates: number; rejected: RejectedLine[]; maxListed: number; leaseMs: number },
): Promise<void> {
  const { siteId, fileKey, endLine, rejected } = p;
  await sql`
      update inbox_files set
        lines_done = ${endLine},
        accepted = accepted + ${p.accepted},
        duplicates = duplicates + ${p.duplicates},
        rejected_count = rejected_count + ${rejected.length},
        rejected = case when jsonb_array_length(rejected) < ${p.maxListed} then rejected || ${JSON.stringify(rejected, storableText)}::jsonb else rejected end,
        lease_until = now() + ${`${p.leaseMs} milliseconds`}::interval,
        updated_at = now()
      where site_id = ${siteId} and file_key = ${fileKey}`.execute(tx);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what must be replaced
const NOT_STORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function storableText(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? value.replace(NOT_STORABLE, '\uFFFD') : value;
}
