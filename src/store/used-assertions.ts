import { sql } from 'kysely';
import type { Db } from './db.ts';

/** The jti of every JWT-bearer assertion an issuer used, kept until it expires (src/auth/tokens.ts). */

/**
 * Records a use of the issuer's assertion `jti`; false when it was used before. The primary key refuses
 * a second use of the same jti while the row lives (until `expiresAt`).
 */
export async function recordAssertionUse(db: Db, issuerId: string, jti: string, expiresAt: Date): Promise<boolean> {
  const inserted = await db
    .insertInto('used_assertions')
    .values({ issuer_id: issuerId, jti, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['issuer_id', 'jti']).doNothing())
    .returning('jti')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Forgets expired ids; a replay of an expired assertion fails on exp anyway. */
export async function forgetExpiredAssertions(db: Db): Promise<void> {
  await sql`delete from used_assertions where expires_at < now()`.execute(db);
}
