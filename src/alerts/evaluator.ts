import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { type AlertTransition, claimResolved, observeAndClaimFiring } from '../store/operator-alerts.ts';
import { WorkLoop } from '../work-loop.ts';
import { ALERT_BY_NAME, observeConditions } from './conditions.ts';
import type { OperatorEvent, OperatorWebhookSender } from './sender.ts';

/**
 * The operator webhooks' evaluator, run by every worker: each round reads the alert figures from the
 * store, records what holds in operator_alerts, and hands the transitions it alone claimed (firing,
 * resolved) to the sender. The round never waits for a send: a slow or failing receiver holds only its
 * own queue, never the evaluator nor the other workers.
 */

export interface EvaluatorOptions {
  db: Db;
  log: Logger;
  sender: OperatorWebhookSender;
  intervalMs: number;
  stuckThreshold: number;
  /** How long the stuck-parcel and site figures are kept (they scan open operations): 5 minutes, as /metrics. */
  slowFiguresTtlMs?: number;
  now?: () => number;
}

export class OperatorAlertEvaluator {
  private readonly loop: WorkLoop;
  private readonly slow = new Map<string, { at: number; rows: unknown[] }>();

  constructor(private readonly o: EvaluatorOptions) {
    // A round is never "full": the loop always waits the interval before the next.
    this.loop = new WorkLoop(() => this.evaluate().then(() => 0), 1, o.intervalMs, (err) => o.log.error({ err }, 'operator alert round failed'));
  }

  start(): void {
    this.o.sender.start();
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.o.sender.stop();
  }

  /** One round; returns the transitions this evaluator claimed (and queued). */
  async evaluate(): Promise<OperatorEvent[]> {
    const now = new Date(this.now());
    const seen = await observeConditions(this.o.db, { stuckThreshold: this.o.stuckThreshold, slowFigures: (key, load) => this.slowFigures(key, load) });
    for (const f of seen.failures) this.o.log.warn({ alert: f.alert, err: f.error }, 'operator alert figures not read this round');
    const firing = await observeAndClaimFiring(this.o.db, seen.observed, now);
    const resolved = await claimResolved(this.o.db, seen.evaluated, seen.observed);
    // A resolved event reports the figures read now (deadLastHour 0 after a replay), not those it fired with.
    const events = [
      ...firing.map((t) => eventOf(t, 'firing', now)),
      ...resolved.map((t) => eventOf({ ...t, figures: seen.figuresNow(t.alert, t.subject) }, 'resolved', now)),
    ];
    for (const e of events) {
      this.o.log.info({ alert: e.alert, state: e.state, subject: e.subject }, `operator alert ${e.state}`);
      this.o.sender.enqueue(e);
    }
    return events;
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  private async slowFigures<T>(key: string, load: () => Promise<T[]>): Promise<T[]> {
    const ttl = this.o.slowFiguresTtlMs ?? 300_000;
    const kept = this.slow.get(key);
    if (kept && performance.now() - kept.at < ttl) return kept.rows as T[];
    const rows = await load();
    this.slow.set(key, { at: performance.now(), rows });
    return rows;
  }
}

function eventOf(t: AlertTransition, state: OperatorEvent['state'], now: Date): OperatorEvent {
  const def = ALERT_BY_NAME.get(t.alert);
  return {
    type: 'trackhub.operator_alert',
    alert: t.alert,
    state,
    since: t.observed_since,
    at: now.toISOString(),
    subject: { kind: def?.subject ?? 'hub', id: t.subject === '' ? null : t.subject },
    summary: def?.summary ?? t.alert,
    figures: t.figures,
  };
}
