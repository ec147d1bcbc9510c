import { carrierAlertFigures, endpointStates, quietShipments, siteAlertFigures } from '../store/alert-figures.ts';
import type { Db } from '../store/db.ts';
import type { ObservedAlert } from '../store/operator-alerts.ts';
import { deadLettersLastHour } from '../store/operator-alerts.ts';
import { outboxBacklog } from '../store/outbox.ts';

/**
 * The operator webhooks' alerts: the seven of deploy/prometheus/alerts.yml, same names, thresholds and
 * holds (`for:`), judged from the same store figures the /metrics gauges read, so a webhook and a
 * Prometheus alert fire on the same state.
 */

export type SubjectKind = 'issuer' | 'carrier' | 'site' | 'hub';

export interface AlertDefinition {
  name: string;
  subject: SubjectKind;
  holdMs: number;
  summary: string;
}

const MINUTE = 60_000;

export const ALERTS = {
  endpointDisabled: { name: 'TrackhubIssuerEndpointDisabled', subject: 'issuer', holdMs: 5 * MINUTE, summary: 'the issuer\'s notification endpoint is disabled (it answered 410 Gone)' },
  deadLetters: { name: 'TrackhubDeadLettersRising', subject: 'issuer', holdMs: 0, summary: 'notifications to the issuer went dead in the last hour' },
  pendingOverAnHour: { name: 'TrackhubNotificationPendingOverAnHour', subject: 'issuer', holdMs: 5 * MINUTE, summary: 'the issuer\'s oldest pending notification is over an hour old' },
  budgetExhausted: { name: 'TrackhubCarrierBudgetExhausted', subject: 'carrier', holdMs: 15 * MINUTE, summary: 'the carrier has had more polls due than its budget allows for 15 minutes' },
  breakerOpen: { name: 'TrackhubCarrierBreakerOpen', subject: 'carrier', holdMs: 5 * MINUTE, summary: 'the carrier\'s circuit breaker is open' },
  stuckParcels: { name: 'TrackhubStuckParcels', subject: 'hub', holdMs: 60 * MINUTE, summary: 'open shipments with no carrier scan for 3 days are over the threshold' },
  siteSilent: { name: 'TrackhubSiteSilentWhileRequestsWait', subject: 'site', holdMs: 15 * MINUTE, summary: 'the production site has sent no report for a day while requests wait' },
} as const satisfies Record<string, AlertDefinition>;

export const ALERT_BY_NAME: ReadonlyMap<string, AlertDefinition> = new Map(Object.values(ALERTS).map((a) => [a.name, a]));

const HOUR_S = 3600;
const DAY_S = 86_400;
/** The stuck rule counts parcels quiet for this many days (a threshold of trackhub_shipments_stuck). */
const STUCK_DAYS = 3;
/** As the site gauge: enough to see a day of silence. */
const SITE_LOOKBACK_DAYS = 2;

export interface ConditionOptions {
  /** Open shipments quiet for 3 days above this fire TrackhubStuckParcels (alerts.yml uses 50). */
  stuckThreshold: number;
  /** The stuck-parcel and site figures cost a scan of open operations: read through this (cached) reader. */
  slowFigures: <T>(key: string, load: () => Promise<T[]>) => Promise<T[]>;
}

export interface Observation {
  /** The alerts whose figures were read (a failed read leaves its alert out: it neither fires nor resolves). */
  evaluated: string[];
  observed: ObservedAlert[];
  failures: { alert: string; error: unknown }[];
  /**
   * A subject's figures as read this round, for an evaluated alert whether or not it holds: what a
   * resolved event reports (the values at resolution, e.g. `deadLastHour: 0` after a replay).
   */
  figuresNow(alert: string, subject: string): Record<string, unknown>;
}

/** One alert judged from rows: which subject a row is about, whether the condition holds, its figures. */
interface Rule<R> {
  def: AlertDefinition;
  subject: (row: R) => string;
  holds: (row: R) => boolean;
  figures: (row: R | undefined) => Record<string, unknown>;
}

/** Reads every alert's figures and returns the conditions that hold now. */
export async function observeConditions(db: Db, opts: ConditionOptions): Promise<Observation> {
  const now = new Map<string, (subject: string) => Record<string, unknown>>();
  const out: Observation = {
    evaluated: [],
    observed: [],
    failures: [],
    figuresNow: (alert, subject) => now.get(alert)?.(subject) ?? {},
  };
  const judge = async <R>(read: () => Promise<R[]>, rules: Rule<R>[]) => {
    try {
      const rows = await read();
      for (const rule of rules) {
        out.evaluated.push(rule.def.name);
        now.set(rule.def.name, (subject) => rule.figures(rows.find((r) => rule.subject(r) === subject)));
        for (const r of rows.filter(rule.holds)) out.observed.push({ alert: rule.def.name, subject: rule.subject(r), figures: rule.figures(r), holdMs: rule.def.holdMs });
      }
    } catch (error) {
      for (const rule of rules) out.failures.push({ alert: rule.def.name, error });
    }
  };
  await judge(() => endpointStates(db), [
    { def: ALERTS.endpointDisabled, subject: (r) => r.issuer_id, holds: (r) => r.disabled, figures: (r) => ({ endpointDisabled: r?.disabled ?? false }) },
  ]);
  await judge(() => deadLettersLastHour(db), [
    { def: ALERTS.deadLetters, subject: (r) => r.issuer_id, holds: (r) => r.n > 0, figures: (r) => ({ deadLastHour: r?.n ?? 0 }) },
  ]);
  await judge(async () => (await outboxBacklog(db)).filter((r) => r.state === 'pending'), [
    {
      def: ALERTS.pendingOverAnHour,
      subject: (r) => r.issuer_id,
      holds: (r) => Number(r.oldest_s) > HOUR_S,
      figures: (r) => ({ oldestPendingSeconds: r ? Math.round(Number(r.oldest_s)) : 0, pending: r ? Number(r.n) : 0 }),
    },
  ]);
  await judge(() => carrierAlertFigures(db), [
    { def: ALERTS.budgetExhausted, subject: (r) => r.provider, holds: (r) => Number(r.queued_s) > 0, figures: (r) => ({ queueSeconds: r ? Math.round(Number(r.queued_s)) : 0 }) },
    { def: ALERTS.breakerOpen, subject: (r) => r.provider, holds: (r) => r.breaker_open, figures: (r) => ({ breakerOpen: r?.breaker_open ?? false }) },
  ]);
  // One row for the whole hub: the stuck count is judged against the threshold as a total.
  await judge(async () => [await opts.slowFigures('stuck', () => quietShipments(db, [STUCK_DAYS]))], [
    {
      def: ALERTS.stuckParcels,
      subject: () => '',
      holds: (rows) => stuckOf(rows) > opts.stuckThreshold,
      figures: (rows) => ({ stuck: stuckOf(rows ?? []), threshold: opts.stuckThreshold, days: STUCK_DAYS, byStage: Object.fromEntries((rows ?? []).map((r) => [r.stage, r.n])) }),
    },
  ]);
  await judge(() => opts.slowFigures('sites', () => siteAlertFigures(db, SITE_LOOKBACK_DAYS)), [
    {
      def: ALERTS.siteSilent,
      subject: (r) => r.site_id,
      holds: (r) => Number(r.silent_s) > DAY_S && r.waiting > 0,
      figures: (r) => ({ silentSeconds: r ? Math.round(Number(r.silent_s)) : 0, requestsWaiting: r?.waiting ?? 0 }),
    },
  ]);
  return out;
}

function stuckOf(rows: { n: number }[]): number {
  return rows.reduce((sum, r) => sum + r.n, 0);
}
