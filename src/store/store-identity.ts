import { sql } from 'kysely';
import type { Db } from './db.ts';

/**
 * The PostgreSQL cluster the store lives in: `pg_control_system().system_identifier`, readable by any role,
 * the same on a physical replica (which keeps transaction ids too) and new after a dump and restore into
 * another cluster or a pg_upgrade.
 */
export async function clusterIdentity(db: Db): Promise<string> {
  const { rows } = await sql<{ id: string }>`select system_identifier::text as id from pg_control_system()`.execute(db);
  return rows[0].id;
}

/**
 * Records the cluster on first start; in another cluster than the one recorded, sets every outbox row's
 * feed position to the start (commit_xid 0, ordered by id among them, ids being time-ordered) and records
 * the new one. Without it, the rows brought along keep the old cluster's transaction ids: ids above the new
 * cluster's would stay hidden from the feed, and new rows would sort behind old cursors, which would then
 * acknowledge them unsent. Runs inside the migration's transaction (under its lock), so one instance does it.
 * Returns whether positions were reset.
 */
export async function checkClusterIdentity(tx: Db): Promise<boolean> {
  const current = await clusterIdentity(tx);
  const { rows } = await sql<{ id: string }>`select system_identifier as id from store_identity`.execute(tx);
  if (rows.length === 0) {
    await sql`insert into store_identity (system_identifier) values (${current})`.execute(tx);
    return false;
  }
  if (rows[0].id === current) return false;
  await sql`update outbox set commit_xid = '0'::xid8 where commit_xid <> '0'::xid8`.execute(tx);
  await sql`update store_identity set system_identifier = ${current}, recorded_at = now()`.execute(tx);
  return true;
}
