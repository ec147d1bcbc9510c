import type { Db } from './db.ts';

/**
 * Hub-wide secrets (hub_secrets: one row per name), stored sealed by the caller (src/store/secret-box.ts).
 * The master-key check row and key rotation are src/store/secrets.ts.
 */

/**
 * Stores the value under `name` unless the name is taken: the first instance to boot creates the
 * secret, the others keep the winner's.
 */
export async function createHubSecretOnce(db: Db, name: string, value: string): Promise<void> {
  await db
    .insertInto('hub_secrets')
    .values({ name, value })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

/** The stored (sealed) value of `name`; throws when there is none. */
export async function hubSecret(db: Db, name: string): Promise<string> {
  const row = await db.selectFrom('hub_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}
