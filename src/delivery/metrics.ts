import { Counter, Gauge, Histogram } from 'prom-client';
import type { Db } from '../store/db.ts';
import { type OutboxBacklogRow, outboxBacklog } from '../store/outbox.ts';

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

let outboxDb: Db | undefined;

/**
 * Outbox depth and age per issuer, read from the store when /metrics is scraped (one grouped query on
 * the pending index), so every instance reports the shared outbox, not only what it sent itself.
 */
export function watchOutbox(db: Db): void {
  outboxDb = db;
}

async function outboxFigures(): Promise<OutboxBacklogRow[]> {
  if (!outboxDb) return [];
  try {
    return await outboxBacklog(outboxDb);
  } catch {
    return []; // store away: report nothing rather than fail the scrape
  }
}

let scrape: Promise<Awaited<ReturnType<typeof outboxFigures>>> | undefined;
/** Both gauges are filled from one query per scrape. */
function figures() {
  scrape ??= outboxFigures().finally(() => setTimeout(() => { scrape = undefined; }, 0));
  return scrape;
}

new Gauge({
  name: 'trackhub_outbox_notifications',
  help: 'Notifications in the outbox not yet delivered, by issuer and state (pending, dead)',
  labelNames: ['issuer', 'state'],
  async collect() {
    this.reset();
    for (const r of await figures()) this.set({ issuer: r.issuer_id, state: r.state }, Number(r.n));
  },
});

new Gauge({
  name: 'trackhub_outbox_oldest_pending_seconds',
  help: 'Age of the oldest pending notification, by issuer',
  labelNames: ['issuer'],
  async collect() {
    this.reset();
    for (const r of await figures()) if (r.state === 'pending') this.set({ issuer: r.issuer_id }, Number(r.oldest_s));
  },
});
