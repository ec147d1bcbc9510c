import type { Db } from './db.ts';
import { hashApiKey, siteIdByKeyHash } from './production-sites.ts';

/** A key lookup is remembered this long: rotations made on another instance apply within it. */
const KEY_CACHE_MS = 10_000;

/**
 * API key hash → site, briefly cached: every batch would otherwise cost a store round trip first. One per
 * app (built by buildApp, shared by the Site API and the Admin API that forgets it).
 */
export class SiteKeys {
  private readonly cache = new Map<string, { siteId: string | null; until: number }>();
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async siteOf(apiKey: string): Promise<string | null> {
    const hash = hashApiKey(apiKey);
    const hit = this.cache.get(hash);
    if (hit && hit.until > this.now()) return hit.siteId;
    const siteId = (await siteIdByKeyHash(this.db, hash)) ?? null;
    if (this.cache.size > 10_000) this.cache.clear(); // unknown keys must not grow it without bound
    this.cache.set(hash, { siteId, until: this.now() + KEY_CACHE_MS });
    return siteId;
  }

  /** Called when an admin changes a site through this app: its cached keys go at once. */
  forget(): void {
    this.cache.clear();
  }
}
