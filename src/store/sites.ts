import { createHash, randomBytes } from 'node:crypto';
import { type Db, isUniqueViolation } from './db.ts';

/** Production sites (docs/contract.md §4): the one write path of the Admin API's PUT and `trackhub sites add`. */

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The API key given is already another site's (the unique index on api_key_hash said so). */
export class SiteKeyTaken extends Error {
  constructor() {
    super('apiKey: is already the key of another production site');
  }
}

export interface SiteChange {
  siteId: string;
  name: string;
  /** Use this key; absent keeps the stored one (a new site gets a generated one). */
  apiKey?: string;
  /** Replace the stored key with a generated one (rotation). */
  generateApiKey?: boolean;
  /** Absent keeps the stored carriers, as an absent key keeps the key; `[]` clears them. */
  carriers?: string[];
}

export interface SavedSite {
  siteId: string;
  name: string;
  carriers: string[];
  created: boolean;
  /** The generated key, to show once; the store keeps only its hash. */
  apiKey?: string;
}

export async function upsertSite(db: Db, c: SiteChange): Promise<SavedSite> {
  const existing = await db.selectFrom('production_sites').select(['api_key_hash', 'carriers']).where('site_id', '=', c.siteId).executeTakeFirst();
  let generated: string | undefined;
  let keyHash = existing?.api_key_hash ?? null;
  if (c.apiKey) keyHash = hashApiKey(c.apiKey);
  else if (c.generateApiKey || !keyHash) {
    generated = `sk_${randomBytes(24).toString('base64url')}`;
    keyHash = hashApiKey(generated);
  }
  const carriers = c.carriers ?? ((existing?.carriers as unknown as string[] | undefined) ?? []);
  const values = { name: c.name, api_key_hash: keyHash, carriers: JSON.stringify(carriers) };
  try {
    await db
      .insertInto('production_sites')
      .values({ site_id: c.siteId, ...values })
      .onConflict((oc) => oc.column('site_id').doUpdateSet({ ...values, updated_at: new Date() }))
      .execute();
  } catch (err) {
    if (isUniqueViolation(err, 'production_sites_api_key')) throw new SiteKeyTaken();
    throw err;
  }
  return { siteId: c.siteId, name: c.name, carriers, created: !existing, ...(generated ? { apiKey: generated } : {}) };
}
