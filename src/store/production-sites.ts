import { createHash, randomBytes } from 'node:crypto';
import { type CarrierCode, isCarrierCode } from '../domain/carriers.ts';
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
  const carriers = c.carriers ?? (existing?.carriers ?? []);
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

/**
 * The site's usual carriers, a hint for detecting the carrier of a number it reports or that a request
 * naming it carries; undefined when there is no such site. Only carrier codes: the Admin API and
 * `trackhub sites add` write nothing else, and a code a later release dropped is no hint.
 */
export async function siteCarriers(db: Db, siteId: string): Promise<CarrierCode[] | undefined> {
  const row = await db.selectFrom('production_sites').select('carriers').where('site_id', '=', siteId).executeTakeFirst();
  return row?.carriers.filter(isCarrierCode);
}

/** The site whose API key has this hash (the unique index on api_key_hash makes it one at most). */
export async function siteIdByKeyHash(db: Db, keyHash: string): Promise<string | undefined> {
  const row = await db.selectFrom('production_sites').select('site_id').where('api_key_hash', '=', keyHash).executeTakeFirst();
  return row?.site_id;
}

export async function siteExists(db: Db, siteId: string): Promise<boolean> {
  const site = await db.selectFrom('production_sites').select('site_id').where('site_id', '=', siteId).executeTakeFirst();
  return site !== undefined;
}

/** Every registered site's id, in order (the inbox watcher looks into each one's folder). */
export async function listSiteIds(db: Db): Promise<string[]> {
  const sites = await db.selectFrom('production_sites').select('site_id').orderBy('site_id').execute();
  return sites.map((s) => s.site_id);
}

/** One site's row as stored, its key hash included (callers show only whether there is one). */
export async function getSiteRow(db: Db, siteId: string) {
  return db.selectFrom('production_sites').selectAll().where('site_id', '=', siteId).executeTakeFirst();
}

/** Every site, in order, with what `trackhub sites list` shows. */
export async function listSiteRows(db: Db) {
  return db.selectFrom('production_sites').select(['site_id', 'name', 'carriers', 'api_key_hash']).orderBy('site_id').execute();
}

/** What the Admin API lists of a site: never its key, only whether it has one. */
export interface SiteSummary {
  siteId: string;
  name: string;
  carriers: string[];
  hasApiKey: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A page of sites in id order, after the site id `after` (a keyset page: sites added meanwhile shift nothing); `more` when another page follows. */
export async function listSitesPage(db: Db, opts: { after?: string; limit: number }): Promise<{ sites: SiteSummary[]; more: boolean }> {
  let q = db.selectFrom('production_sites').select(['site_id', 'name', 'carriers', 'api_key_hash', 'created_at', 'updated_at']).orderBy('site_id').limit(opts.limit + 1);
  if (opts.after !== undefined) q = q.where('site_id', '>', opts.after);
  const rows = await q.execute();
  return {
    sites: rows.slice(0, opts.limit).map((r) => ({
      siteId: r.site_id,
      name: r.name,
      carriers: r.carriers,
      hasApiKey: r.api_key_hash !== null,
      createdAt: new Date(r.created_at).toISOString(),
      updatedAt: new Date(r.updated_at).toISOString(),
    })),
    more: rows.length > opts.limit,
  };
}
