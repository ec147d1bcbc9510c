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
}

/** Reads every alert's figures and returns the conditions that hold now. */
export async function observeConditions(db: Db, opts: ConditionOptions): Promise<Observation> {
  const out: Observation = { evaluated: [], observed: [], failures: [] };
  const judge = async (defs: AlertDefinition[], read: () => Promise<{ def: AlertDefinition; subject: string; figures: Record<string, unknown> }[]>) => {
    try {
      const hits = await read();
      out.evaluated.push(...defs.map((d) => d.name));
      for (const h of hits) out.observed.push({ alert: h.def.name, subject: h.subject, figures: h.figures, holdMs: h.def.holdMs });
    } catch (error) {
      for (const d of defs) out.failures.push({ alert: d.name, error });
    }
  };
  await judge([ALERTS.endpointDisabled], async () =>
    (await endpointStates(db)).filter((r) => r.disabled).map((r) => ({ def: ALERTS.endpointDisabled, subject: r.issuer_id, figures: { endpointDisabled: true } })),
  );
  await judge([ALERTS.deadLetters], async () =>
    (await deadLettersLastHour(db)).filter((r) => r.n > 0).map((r) => ({ def: ALERTS.deadLetters, subject: r.issuer_id, figures: { deadLastHour: r.n } })),
  );
  await judge([ALERTS.pendingOverAnHour], async () =>
    (await outboxBacklog(db))
      .filter((r) => r.state === 'pending' && Number(r.oldest_s) > HOUR_S)
      .map((r) => ({ def: ALERTS.pendingOverAnHour, subject: r.issuer_id, figures: { oldestPendingSeconds: Math.round(Number(r.oldest_s)), pending: Number(r.n) } })),
  );
  await judge([ALERTS.budgetExhausted, ALERTS.breakerOpen], async () =>
    (await carrierAlertFigures(db)).flatMap((r) => [
      ...(Number(r.queued_s) > 0 ? [{ def: ALERTS.budgetExhausted, subject: r.provider, figures: { queueSeconds: Math.round(Number(r.queued_s)) } }] : []),
      ...(r.breaker_open ? [{ def: ALERTS.breakerOpen, subject: r.provider, figures: { breakerOpen: true } }] : []),
    ]),
  );
  await judge([ALERTS.stuckParcels], async () => {
    const rows = await opts.slowFigures('stuck', () => quietShipments(db, [STUCK_DAYS]));
    const byStage = Object.fromEntries(rows.map((r) => [r.stage, r.n]));
    const stuck = rows.reduce((sum, r) => sum + r.n, 0);
    return stuck > opts.stuckThreshold ? [{ def: ALERTS.stuckParcels, subject: '', figures: { stuck, threshold: opts.stuckThreshold, days: STUCK_DAYS, byStage } }] : [];
  });
  await judge([ALERTS.siteSilent], async () =>
    (await opts.slowFigures('sites', () => siteAlertFigures(db, SITE_LOOKBACK_DAYS)))
      .filter((r) => Number(r.silent_s) > DAY_S && r.waiting > 0)
      .map((r) => ({ def: ALERTS.siteSilent, subject: r.site_id, figures: { silentSeconds: Math.round(Number(r.silent_s)), requestsWaiting: r.waiting } })),
  );
  return out;
}
