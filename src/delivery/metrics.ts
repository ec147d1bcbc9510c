import { Counter, Histogram } from 'prom-client';

export const deliveryMetrics = {
  outcomes: new Counter({
    name: 'trackhub_notification_attempts_total',
    help: 'Notification delivery attempts by outcome (delivered, retry, dead)',
    labelNames: ['outcome'],
  }),
  latency: new Histogram({
    name: 'trackhub_notification_attempt_seconds',
    help: 'Latency of notification delivery attempts',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
  }),
};
