-- Insights and stuck lists at a million operations (issue 12; why: docs/design.md "Insights at scale").
--
-- 1. What the console asks of a shipment's state, as columns the database computes on every write
--    (generated columns: no writer changes, and no query detoasts the state to read them). Adding them
--    rewrites the table once, holding writes for the time it takes (about 30 s per million operations).

-- The funnel stage a shipment reached (its current status or any checkpoint's): 4 DELIVERED,
-- 3 out for delivery (or available for pickup, failed attempt), 2 in transit (or returning, returned),
-- 1 INFO_RECEIVED, 0 none; plus 8 when it reached EXCEPTION and 16 when the operation FAILED.
create function insights_funnel_code(state jsonb, status text) returns smallint
language sql immutable parallel safe as $$
  select (case
      when bool_or(s = 'DELIVERED') then 4
      when bool_or(s in ('OUT_FOR_DELIVERY', 'AVAILABLE_FOR_PICKUP', 'FAILED_ATTEMPT')) then 3
      when bool_or(s in ('IN_TRANSIT', 'RETURNING_TO_SENDER', 'RETURNED_TO_SENDER')) then 2
      when bool_or(s = 'INFO_RECEIVED') then 1
      else 0 end
    + case when bool_or(s = 'EXCEPTION') then 8 else 0 end
    + case when status = 'FAILED' then 16 else 0 end)::smallint
  from (select state #>> '{shipment,status}' as s
        union all
        select c ->> 'status' from jsonb_array_elements(coalesce(state #> '{shipment,checkpoints}', '[]'::jsonb)) c) x
$$;

-- A stored instant (ISO 8601 with its offset, as the carrier adapters write it) as a timestamptz. The
-- text cast depends on the session's TimeZone and DateStyle only for text without an offset; pinning both
-- makes the result depend on the text alone, which a generated column requires.
create function insights_instant(t text) returns timestamptz
language sql immutable strict parallel safe
set "TimeZone" to 'UTC' set "DateStyle" to 'ISO, YMD'
as $$ select t::timestamptz $$;

alter table operations
  add column shipment_status text generated always as (
    case when tracking_type = 'SHIPMENT' then coalesce(state #>> '{shipment,status}', 'PENDING') end) stored,
  add column last_scan_at timestamptz generated always as (
    case when tracking_type = 'SHIPMENT' then insights_instant(state #>> '{shipment,lastUpdatedAt}') end) stored,
  add column funnel_code smallint generated always as (
    case when tracking_type = 'SHIPMENT' then insights_funnel_code(state, status) end) stored;

-- The funnel of shipments opened in a window: closed ones come from insight_funnel, open ones are counted
-- from this index alone.
create index operations_open_shipment_funnel on operations (created_at, funnel_code) where is_open and tracking_type = 'SHIPMENT';
-- Stuck parcels, oldest carrier word first, read from the index alone. Replaces operations_open_shipments.
create index operations_open_shipments_by_scan on operations ((coalesce(last_scan_at, created_at)), operation_id)
  include (last_scan_at, created_at, shipment_status) where is_open and tracking_type = 'SHIPMENT';
drop index operations_open_shipments;
-- Open shipments the carrier has not picked up yet, by card: the site-shipped-unscanned list joins these to
-- the sites' CARD_SHIPPED reports.
create index operations_open_pre_pickup on operations (issuer_id, card_id)
  include (operation_id, carrier, tracking_number, shipment_status) where is_open and tracking_type = 'SHIPMENT' and shipment_status in ('PENDING', 'INFO_RECEIVED');

-- 2. Hourly roll-ups of closed hours (src/store/insight-rollup.ts). An hour is rolled once no transaction
--    that began before its end can still write a row into it; a closed operation is never written again,
--    so the rows of a rolled hour never change. A row of insight_hours marks the hour rolled.
create table insight_hours (
  hour timestamptz primary key,
  rolled_at timestamptz not null default now()
);
-- Operations opened in the hour; site: the production site a PRODUCTION request named (fixed at creation).
create table insight_opened (
  hour timestamptz not null,
  tracking_type text not null,
  site text,
  n integer not null
);
create index insight_opened_hour on insight_opened (hour);
-- Operations finished in the hour; site: a PRODUCTION operation's site (final once it closed).
create table insight_finished (
  hour timestamptz not null,
  tracking_type text not null,
  status text not null,
  error_code text,
  site text,
  n integer not null
);
create index insight_finished_hour on insight_finished (hour);
-- Durations of operations finished in the hour, on a log scale (insight-rollup.ts: BUCKETS_PER_DOUBLING):
-- kind 'delivery' (delivered shipments) and 'production' (request to CARD_SHIPPED), counted once by carrier
-- and once by site (dimension; key null: none known).
create table insight_durations (
  hour timestamptz not null,
  kind text not null,
  dimension text not null,
  key text,
  bucket smallint not null,
  n integer not null
);
create index insight_durations_hour on insight_durations (kind, hour);
-- The same summed per UTC day once its 24 hours are rolled: a month's percentiles read ~30 days of these
-- rather than ~744 hours (an hour's durations hardly share buckets, so hourly rows barely compress).
create table insight_days (
  day timestamptz primary key
);
create table insight_durations_daily (
  day timestamptz not null,
  kind text not null,
  dimension text not null,
  key text,
  bucket smallint not null,
  n integer not null
);
-- Closed shipments per hour they were opened in and funnel_code, added to as the hours they finished in
-- are rolled (a shipment's final state is known only when it closes, days after the hour it opened in).
create table insight_funnel (
  created_hour timestamptz not null,
  code smallint not null,
  n integer not null,
  primary key (created_hour, code)
);
create index insight_durations_daily_day on insight_durations_daily (kind, day);
-- PRODUCTION requests that named no site: their site is known only once a site's report completed them,
-- possibly after their hour was rolled, so the sites view counts them live from here.
create index operations_production_unnamed on operations (created_at)
  where tracking_type = 'PRODUCTION' and (state -> 'request' ->> 'productionSite') is null;
