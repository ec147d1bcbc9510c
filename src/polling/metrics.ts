import { Counter, Gauge } from 'prom-client';

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
