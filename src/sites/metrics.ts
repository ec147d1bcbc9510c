import { Gauge } from 'prom-client';
import { siteAlertFigures } from '../store/alert-figures.ts';
import type { Db } from '../store/db.ts';
import { cachedRows } from '../store/scrape.ts';

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
const readFigures = cachedRows(TTL_MS, (db: Db) => siteAlertFigures(db, LOOKBACK_DAYS));

export async function readSiteGauges(db: Db): Promise<void> {
  const rows = await readFigures(db);
  silent.reset();
  waiting.reset();
  for (const r of rows) {
    silent.set({ site: r.site_id }, Number(r.silent_s));
    waiting.set({ site: r.site_id }, r.waiting);
  }
}
