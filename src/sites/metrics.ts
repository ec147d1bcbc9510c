import { Gauge } from 'prom-client';
import { type SiteAlertRow, siteAlertFigures } from '../store/alert-figures.ts';
import type { Db } from '../store/db.ts';

/** The production sites' figures for alerts, read from the store when /metrics is scraped. */

const silent = new Gauge({
  name: 'trackhub_site_silent_seconds',
  help: 'Seconds since the production site\'s newest report (or since it was registered), capped at 2 days, per registered site; read from the store at most every 5 minutes',
  labelNames: ['site'],
});
const waiting = new Gauge({
  name: 'trackhub_site_requests_waiting',
  help: 'Open PRODUCTION requests the site may answer (naming it, or naming no site), per registered site; read from the store at most every 5 minutes',
  labelNames: ['site'],
});

/** Enough to alert on a day of silence; looking further back would cost a longer range of reports. */
const LOOKBACK_DAYS = 2;
/**
 * Silence is judged in hours, and the waiting count reads every open PRODUCTION request's state (170 ms for
 * 17,000 among 1,000,000 operations): once every 5 minutes per store is plenty.
 */
const TTL_MS = 300_000;
const cache = new WeakMap<Db, { at: number; rows: SiteAlertRow[] }>();

export async function readSiteGauges(db: Db): Promise<void> {
  let cached = cache.get(db);
  if (!cached || performance.now() - cached.at > TTL_MS) {
    try {
      cached = { at: performance.now(), rows: await siteAlertFigures(db, LOOKBACK_DAYS) };
      cache.set(db, cached);
    } catch {
      cached = undefined; // store away: report nothing rather than fail the scrape
    }
  }
  silent.reset();
  waiting.reset();
  for (const r of cached?.rows ?? []) {
    silent.set({ site: r.site_id }, Number(r.silent_s));
    waiting.set({ site: r.site_id }, r.waiting);
  }
}
