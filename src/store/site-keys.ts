import type { Db } from './db.ts';
import { hashApiKey, siteIdByKeyHash } from './production-sites.ts';

/** A key lookup is remembered this long: rotations made on another instance apply within it. */
const KEY_CACHE_MS = 10_000;

/** API key hash → site, briefly cached: every batch would otherwise cost a store round trip first. */
export class SiteKeys {
  private readonly cache = new Map<string, { siteId: string | null; until: number }>();
  constructor(private readonly db: Db) {}

  async siteOf(apiKey: string): Promise<string | null> {
    const hash = hashApiKey(apiKey);
    const hit = this.cache.get(hash);
    if (hit && hit.until > Date.now()) return hit.siteId;
    const siteId = (await siteIdByKeyHash(this.db, hash)) ?? null;
    if (this.cache.size > 10_000) this.cache.clear(); // unknown keys must not grow it without bound
    this.cache.set(hash, { siteId, until: Date.now() + KEY_CACHE_MS });
    return siteId;
  }

  forget(): void {
    this.cache.clear();
  }

  /** This cache is done (its app closed): forgetSiteKeys() no longer reaches it. */
  close(): void {
    liveKeyCaches.delete(this);
  }
}

const liveKeyCaches = new Set<SiteKeys>();

/** A key cache (the Site API's) that forgetSiteKeys() clears; close() it when its app closes. */
export function openSiteKeys(db: Db): SiteKeys {
  const keys = new SiteKeys(db);
  liveKeyCaches.add(keys);
  return keys;
}

/** Called when an admin changes a site: this instance forgets cached keys at once. */
export function forgetSiteKeys(): void {
  for (const c of liveKeyCaches) c.forget();
}
