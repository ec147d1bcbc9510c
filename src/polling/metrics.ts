import { Counter, Gauge } from 'prom-client';
import { carrierAlertFigures, quietShipments } from '../store/alert-figures.ts';
import type { Db } from '../store/db.ts';
import { cachedRows, rowsOrNone } from '../store/scrape.ts';

/** The poller's metrics: one place, so a reader sees every figure the poller reports. */

export const polls = new Counter({
  name: 'trackhub_carrier_polls_total',
  help: 'Tracking numbers asked of a carrier provider, by result',
  labelNames: ['provider', 'result'],
});
export const deferred = new Counter({
  name: 'trackhub_carrier_polls_deferred_total',
  help: 'Tracking numbers not asked this round and re-scheduled, by reason (rate_limit, breaker_open)',
  labelNames: ['provider', 'reason'],
});
export const handedOn = new Counter({
  name: 'trackhub_carrier_fallbacks_total',
  help: 'Tracking numbers handed on to the next provider of their route, by reason (not_found, error, breaker_open)',
  labelNames: ['from', 'to', 'reason'],
});
export const calls = new Counter({
  name: 'trackhub_carrier_calls_total',
  help: 'API calls made to a carrier provider (a call may carry several numbers)',
  labelNames: ['provider'],
});
export const demandGauge = new Gauge({
  name: 'trackhub_carrier_demand_numbers_per_second',
  help: 'Tracking numbers falling due for a poll per second, over the provider budget window, every worker counted',
  labelNames: ['provider'],
});
export const budgetGauge = new Gauge({
  name: 'trackhub_carrier_budget_numbers_per_second',
  help: 'Tracking numbers the provider budget allows per second: calls per window over its seconds, times numbers per call (98 % of it is usable at a steady pace)',
  labelNames: ['provider'],
});
export const overdueGauge = new Gauge({
  name: 'trackhub_carrier_parcels_overdue',
  help: 'Parcels of the newest polling round whose poll waited longer than their poll interval, per provider',
  labelNames: ['provider'],
});
export const deadlineWaits = new Counter({
  name: 'trackhub_carrier_deadline_waits_total',
  help: 'Parcels past their deadline that could not be asked this round (no outcome by clock alone), by reason (rate_limit, breaker_open, error, no_provider)',
  labelNames: ['provider', 'reason'],
});
export const breakerGauge = new Gauge({
  name: 'trackhub_carrier_breaker_state',
  help: 'Circuit breaker per provider in this worker: 0 closed, 1 half-open, 2 open',
  labelNames: ['provider'],
});
export const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

// Read from the store at each scrape (readCarrierAlertGauges), so any instance, API-only ones included,
// reports what every worker wrote; the per-worker gauges above stay as they were.
const breakerOpen = new Gauge({
  name: 'trackhub_carrier_breaker_open',
  help: 'Whether the newest breaker change any worker stored for the provider left it open (1) or not (0)',
  labelNames: ['provider'],
});
const queueSeconds = new Gauge({
  name: 'trackhub_carrier_queue_seconds',
  help: 'How far ahead the provider\'s shared queue of put-off polls is booked, in seconds: above 0 while demand exceeds what the budget supplies',
  labelNames: ['provider'],
});
const quietShipmentsGauge = new Gauge({
  name: 'trackhub_shipments_stuck',
  help: 'Open SHIPMENT operations with no carrier scan for at least `days` days (1, 3, 7; the request time counts when the carrier never answered), by shipment status (stage); read from the store at most every 5 minutes',
  labelNames: ['days', 'stage'],
});

/** The thresholds the stuck-parcel gauge is counted at: a fixed set, so its labels stay bounded. */
const QUIET_DAYS = [1, 3, 7] as const;
/**
 * Stuck parcels are counted in days, and the count reads every open parcel's state (280 ms for 33,000 open
 * shipments among 1,000,000 operations): once every 5 minutes per store is plenty.
 */
const QUIET_TTL_MS = 300_000;
const readQuietShipments = cachedRows(QUIET_TTL_MS, (db: Db) => quietShipments(db, QUIET_DAYS));

export async function readCarrierAlertGauges(db: Db): Promise<void> {
  const carriers = await rowsOrNone(() => carrierAlertFigures(db));
  breakerOpen.reset();
  queueSeconds.reset();
  for (const r of carriers) {
    breakerOpen.set({ provider: r.provider }, r.breaker_open ? 1 : 0);
    queueSeconds.set({ provider: r.provider }, Number(r.queued_s));
  }
  const quiet = await readQuietShipments(db);
  quietShipmentsGauge.reset();
  for (const r of quiet) quietShipmentsGauge.set({ days: String(r.days), stage: r.stage }, r.n);
}
