import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { register } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
// yaml (a devDependency) reads the alert rules as Prometheus does.
import { parse } from 'yaml';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS, type StoreKind } from './helpers/stores.ts';

/**
 * deploy/prometheus/alerts.yml and deploy/grafana/trackhub.json name metrics by hand: these tests hold
 * every name (and every label an expr groups or matches by) to what a real hub's /metrics exports, and
 * the store-read gauges the alerts use to the states they describe.
 */

const root = join(import.meta.dirname, '..');
const rules = (parse(readFileSync(join(root, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/trackhub.json'), 'utf8')) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

const HISTOGRAM_SUFFIX = /_(bucket|count|sum)$/;
/** Label names an expr groups by or matches on (`by (a, b)`, `{a="x"}`); `le` is the histograms'. */
function labelsOf(expr: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(/\bby \(([^)]*)\)/g)) out.push(...m[1].split(',').map((s) => s.trim()));
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
    // legend templates ({{ $labels.x }}) are not matchers
    if (m[1].startsWith('{') || m[1].includes('$')) continue;
    out.push(...m[1].split(',').map((s) => s.split(/[=!~]/)[0].trim()));
  }
  return out.filter((l) => l && l !== 'le');
}

let exported: Set<string>;
const scraped = new Map<StoreKind, string>();
beforeAll(async () => {
  for (const kind of STORE_KINDS) {
    const t = await testApp(kind);
    try {
      await seed(t);
      // One scrape: the stuck-parcel and site figures are kept 5 minutes per store handle.
      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.statusCode).toBe(200);
      scraped.set(kind, res.body);
    } finally {
      await t.close();
    }
  }
  exported = new Set([...(scraped.get('postgres') ?? '').matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
});

/** One state of each kind the alerts watch, and its near misses. */
async function seed(t: TestApp) {
  const db = t.store.db;
  const day = 86_400_000;
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
  for (const [id, disabled] of [
    ['ISSUER_AL1', true],
    ['ISSUER_AL2', false],
  ] as const) {
    await sql`insert into issuers (issuer_id, name, notification_base_url, jwks, endpoint_disabled_at)
      values (${id}, 'Bank', 'https://bank.example', '{"keys":[]}', ${disabled ? new Date().toISOString() : null})`.execute(db);
  }
  await sql`insert into carrier_rate_limits (provider, window_start, breaker_state, queued_until)
    values ('fedex', now(), 'open', now() + interval '1 hour'), ('ups', now(), 'closed', now() - interval '60 seconds')`.execute(db);
  const op = async (id: string, type: string, open: boolean, state: Record<string, unknown>, createdAgo = 0) =>
    sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, tracking_number, created_at)
      values (${id}, 'ISSUER_AL1', ${id}, ${type}, 'h', 'PENDING', ${open}, ${JSON.stringify(state)}, ${type === 'SHIPMENT' ? `TN${id}` : null}, ${ago(createdAgo)})`.execute(db);
  await op('op_quiet4', 'SHIPMENT', true, { shipment: { status: 'IN_TRANSIT', lastUpdatedAt: ago(4 * day) } }, 5 * day);
  await op('op_quiet8', 'SHIPMENT', true, {}, 8 * day); // never answered: quiet since the request
  await op('op_fresh', 'SHIPMENT', true, { shipment: { status: 'IN_TRANSIT', lastUpdatedAt: ago(3_600_000) } }, 5 * day);
  await op('op_closed', 'SHIPMENT', false, { shipment: { status: 'DELIVERED', lastUpdatedAt: ago(9 * day) } }, 9 * day);
  await op('op_wait_a', 'PRODUCTION', true, { request: { trackingType: 'PRODUCTION', productionSite: 'SITE-A' } });
  await op('op_wait_any', 'PRODUCTION', true, { request: { trackingType: 'PRODUCTION' } });
  await op('op_done_b', 'PRODUCTION', false, { request: { trackingType: 'PRODUCTION', productionSite: 'SITE-B' } });
  await sql`insert into production_sites (site_id, name, created_at) values ('SITE-A', 'A', ${ago(3 * day)}), ('SITE-B', 'B', ${ago(3 * day)}), ('SITE-C', 'C', ${ago(3_600_000)})`.execute(db);
  await sql`insert into site_events (site_id, event_id, issuer_id, card_id, type, occurred_at, received_at)
    values ('SITE-B', 'e1', 'ISSUER_AL1', 'c1', 'CARD_SHIPPED', now(), ${ago(7_200_000)}), ('SITE-A', 'e0', 'ISSUER_AL1', 'c0', 'CARD_SHIPPED', now(), ${ago(10 * day)})`.execute(db);
}

/** Fails naming the expr when it names a metric /metrics does not export, or a label that metric lacks. */
function expectExported(where: string, expr: string) {
  const names = [...new Set(expr.match(/\btrackhub_[a-z_]+/g) ?? [])];
  expect(names.length, `${where}: names no trackhub metric`).toBeGreaterThan(0);
  const labels = new Set<string>();
  for (const name of names) {
    const base = exported.has(name) ? name : name.replace(HISTOGRAM_SUFFIX, '');
    expect(exported.has(base), `${where}: ${name} is not exported by /metrics`).toBe(true);
    for (const l of (register.getSingleMetric(base) as unknown as { labelNames: string[] }).labelNames) labels.add(l);
  }
  for (const l of labelsOf(expr)) expect(labels.has(l), `${where}: label ${l} is not one of ${names.join(', ')}'s`).toBe(true);
}

describe('deploy/prometheus/alerts.yml', () => {
  it('has a rule for every alertable state the operator issue lists, each with a severity, summary and description', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'TrackhubCarrierBreakerOpen',
      'TrackhubCarrierBudgetExhausted',
      'TrackhubDeadLettersRising',
      'TrackhubIssuerEndpointDisabled',
      'TrackhubNotificationPendingOverAnHour',
      'TrackhubSiteSilentWhileRequestsWait',
      'TrackhubStuckParcels',
    ]);
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary.length, r.alert).toBeGreaterThan(10);
      expect(r.annotations.description.length, r.alert).toBeGreaterThan(10);
    }
    const byName = new Map(rules.map((r) => [r.alert, r]));
    expect(byName.get('TrackhubNotificationPendingOverAnHour')?.expr).toContain('> 3600');
    expect(byName.get('TrackhubCarrierBudgetExhausted')?.for).toBe('15m');
    expect(byName.get('TrackhubSiteSilentWhileRequestsWait')?.expr).toContain('> 86400');
  });

  it('has a promtool unit test (deploy/prometheus/alerts.test.yml) in which each rule fires', () => {
    // test/alerts.promtool.test.ts runs them with promtool; this keeps every rule named by them.
    const unit = parse(readFileSync(join(root, 'deploy/prometheus/alerts.test.yml'), 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts?: unknown[] }[] }[] };
    const firing = new Set(unit.tests.flatMap((x) => x.alert_rule_test.filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname)));
    expect([...firing].sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  it('names only metrics and labels the hub exports', () => {
    for (const r of rules) expectExported(r.alert, r.expr);
  });
});

describe('deploy/grafana/trackhub.json', () => {
  it('has panels for throughput, delivery latency, carrier calls and every alert metric, each naming exported metrics', () => {
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => ({ title: p.title, expr: x.expr })));
    for (const { title, expr } of exprs) expectExported(title, expr);
    const named = exprs.map((e) => e.expr).join('\n');
    for (const m of ['trackhub_http_requests_total', 'trackhub_notification_attempt_seconds_bucket', 'trackhub_carrier_calls_total']) expect(named).toContain(m);
    for (const r of rules) for (const m of r.expr.match(/\btrackhub_[a-z_]+/g) ?? []) expect(named, `${r.alert}: ${m} has no panel`).toContain(m);
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('the alerts\' gauges on /metrics', () => {
  it.each(STORE_KINDS)('read endpoint, carrier, stuck-parcel and site states from the store on %s', (kind) => {
    const text = scraped.get(kind) ?? '';
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value('trackhub_issuer_endpoint_disabled{issuer="ISSUER_AL1"}')).toBe(1);
    expect(value('trackhub_issuer_endpoint_disabled{issuer="ISSUER_AL2"}')).toBe(0);
    expect(value('trackhub_carrier_breaker_open{provider="fedex"}')).toBe(1);
    expect(value('trackhub_carrier_breaker_open{provider="ups"}')).toBe(0);
    // Booked an hour ahead at the seed: a slow machine (16 s between seed and scrape was seen) keeps it far above 0.
    expect(value('trackhub_carrier_queue_seconds{provider="fedex"}')).toBeGreaterThan(3000);
    expect(value('trackhub_carrier_queue_seconds{provider="ups"}')).toBe(0);
    expect(value('trackhub_shipments_stuck{days="1",stage="IN_TRANSIT"}')).toBe(1);
    expect(value('trackhub_shipments_stuck{days="3",stage="IN_TRANSIT"}')).toBe(1);
    expect(value('trackhub_shipments_stuck{days="7",stage="IN_TRANSIT"}')).toBeUndefined();
    expect(value('trackhub_shipments_stuck{days="7",stage="PENDING"}')).toBe(1);
    // SITE-A: its only report is older than the 2-day look-back, so it reads as silent for all of it.
    expect(value('trackhub_site_silent_seconds{site="SITE-A"}')).toBe(2 * 86_400);
    expect(value('trackhub_site_requests_waiting{site="SITE-A"}')).toBe(2); // its own request and the one naming no site
    expect(value('trackhub_site_silent_seconds{site="SITE-B"}')).toBeCloseTo(7_200, -2);
    expect(value('trackhub_site_requests_waiting{site="SITE-B"}')).toBe(1);
    // registered an hour ago, never reported: silent since it was registered
    expect(value('trackhub_site_silent_seconds{site="SITE-C"}')).toBeCloseTo(3_600, -2);
  });
});
