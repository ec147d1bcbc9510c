import { sql } from 'kysely';
import type { Db } from './db.ts';
import { LAST_SCAN, STATUS } from './stuck.ts';

/**
 * What /metrics reads from the store at each scrape for the alert rules (deploy/prometheus/alerts.yml),
 * so every instance reports the shared state, not only what its own workers saw. Each statement's rows
 * are bounded by something registered (issuers, production sites, carrier providers) or by a fixed set
 * (quiet-days thresholds × shipment statuses), never by traffic.
 */

export interface EndpointStateRow {
  issuer_id: string;
  disabled: boolean;
}

/** Each registered issuer and whether its endpoint is disabled (a 410 Gone, until the issuer is PUT again). */
export async function endpointStates(db: Db): Promise<EndpointStateRow[]> {
  const res = await sql<EndpointStateRow>`select issuer_id, endpoint_disabled_at is not null as disabled from issuers`.execute(db);
  return res.rows;
}

export interface CarrierAlertRow {
  provider: string;
  breaker_open: boolean;
  /** How far ahead the shared queue of put-off polls is booked, in seconds (0 when nothing waits). */
  queued_s: number;
}

/** Per provider row: the newest breaker state any worker wrote, and how far ahead put-off polls are booked. */
export async function carrierAlertFigures(db: Db): Promise<CarrierAlertRow[]> {
  const res = await sql<CarrierAlertRow>`
    select provider, breaker_state = 'open' as breaker_open,
      coalesce(greatest(extract(epoch from queued_until - now()), 0), 0)::float8 as queued_s
    from carrier_rate_limits`.execute(db);
  return res.rows;
}

export interface QuietShipmentRow {
  /** The shipment's status (PENDING before the carrier said anything). */
  stage: string;
  days: number;
  n: number;
}

/**
 * Open SHIPMENT operations with no carrier scan for at least each of `days`, per status: the same rule as
 * the console's stuck list (src/store/stuck.ts): the carrier's newest update (`shipment.lastUpdatedAt`),
 * else the request time when the carrier never said anything. Open operations with a tracking number have
 * their own partial index (operations_open_by_tracking_number), so this reads open parcels only, never history.
 */
export async function quietShipments(db: Db, days: readonly number[]): Promise<QuietShipmentRow[]> {
  const res = await sql<QuietShipmentRow>`
    with open as (
      select ${STATUS} as stage, now() - coalesce(${LAST_SCAN}, o.created_at) as quiet
      from operations o
      where is_open and tracking_number is not null and tracking_type = 'SHIPMENT')
    select stage, d.days, count(*)::int as n
    from open join unnest(${[...days]}::int[]) as d(days) on open.quiet >= make_interval(days => d.days)
    group by stage, d.days`.execute(db);
  return res.rows;
}

export interface SiteAlertRow {
  site_id: string;
  /** Seconds since the site's newest report (or since it was registered), at most `lookbackDays`. */
  silent_s: number;
  /** Open PRODUCTION requests this site may answer: those naming it and those naming no site. */
  waiting: number;
}

/**
 * Per registered production site: how long it has been silent and how many requests wait for a report it
 * could send. The newest report is looked for within `lookbackDays` only (site_events_received), so a
 * silent site costs a bounded range scan rather than its 180 days of history; beyond that it reads as
 * silent for the whole look-back.
 */
export async function siteAlertFigures(db: Db, lookbackDays: number): Promise<SiteAlertRow[]> {
  const res = await sql<SiteAlertRow>`
    with waiting as (
      select state->'request'->>'productionSite' as site_id, count(*)::int as n
      from operations where is_open and tracking_type = 'PRODUCTION'
      group by 1),
    newest as (
      select site_id, max(received_at) as at from site_events
      where received_at > now() - make_interval(days => ${lookbackDays}::int)
      group by site_id)
    select p.site_id,
      least(extract(epoch from now() - greatest(p.created_at, newest.at)), ${lookbackDays}::int * 86400)::float8 as silent_s,
      (coalesce((select n from waiting w where w.site_id = p.site_id), 0) + coalesce((select n from waiting w where w.site_id is null), 0))::int as waiting
    from production_sites p left join newest on newest.site_id = p.site_id`.execute(db);
  return res.rows;
}
