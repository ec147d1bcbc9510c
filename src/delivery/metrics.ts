import { Counter, Gauge, Histogram } from 'prom-client';
import { endpointStates } from '../store/alert-figures.ts';
import type { Db } from '../store/db.ts';
import { outboxBacklog } from '../store/outbox.ts';
import { rowsOrNone } from '../store/scrape.ts';

export const deliveryMetrics = {
  outcomes: new Counter({
    name: 'trackhub_notification_attempts_total',
    help: 'Notification delivery attempts by issuer and outcome (delivered, retry, dead, endpoint_disabled)',
    labelNames: ['issuer', 'outcome'],
  }),
  latency: new Histogram({
    name: 'trackhub_notification_attempt_seconds',
    help: 'Latency of notification delivery attempts, by issuer',
    labelNames: ['issuer'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
  }),
};

const outboxDepth = new Gauge({
  name: 'trackhub_outbox_notifications',
  help: 'Notifications in the outbox not yet delivered, by issuer and state (pending, dead)',
  labelNames: ['issuer', 'state'],
});

const outboxOldest = new Gauge({
  name: 'trackhub_outbox_oldest_pending_seconds',
  help: 'Age of the oldest pending notification, by issuer',
  labelNames: ['issuer'],
});

/**
 * Outbox depth and age per issuer, read from the given store when /metrics is scraped (one grouped query on
 * the pending index), so every instance reports the shared outbox, not only what it sent itself. The
 * scrape passes its store: no handle is kept here.
 */
export async function readOutboxGauges(db: Db): Promise<void> {
  const rows = await rowsOrNone(() => outboxBacklog(db));
  outboxDepth.reset();
  outboxOldest.reset();
  for (const r of rows) {
    outboxDepth.set({ issuer: r.issuer_id, state: r.state }, Number(r.n));
    if (r.state === 'pending') outboxOldest.set({ issuer: r.issuer_id }, Number(r.oldest_s));
  }
}

const endpointDisabled = new Gauge({
  name: 'trackhub_issuer_endpoint_disabled',
  help: 'Whether the issuer\'s notification endpoint is disabled (1: it answered 410 Gone; its notifications wait until the issuer is PUT again), per registered issuer',
  labelNames: ['issuer'],
});

/**
 * Each registered issuer's endpoint state, read from the store when /metrics is scraped (one row per
 * issuer): the 410 is stored, so every instance reports it, not only the worker that got it.
 */
export async function readEndpointGauges(db: Db): Promise<void> {
  const rows = await rowsOrNone(() => endpointStates(db));
  endpointDisabled.reset();
  for (const r of rows) endpointDisabled.set({ issuer: r.issuer_id }, r.disabled ? 1 : 0);
}
