-- Insights and stuck lists at a million operations (issue 12; why: docs/design.md "Insights at scale").
--
-- 1. What the console asks of a shipment's state, as columns the database computes on every write
--    (generated columns: no writer changes, and no query detoasts the state to read them). Adding them
--    rewrites the table once, holding writes for the time it takes (about 30 s per million operations).

-- The funnel stage a shipment reached (its current status or any checkpoint's): 4 DELIVERED,
-- 3 out for delivery (or available for pickup, failed attempt), 2 in transit (or returning, returned),
-- 1 INFO_RECEIVED, 0 none; plus 8 when it reached EXCEPTION and 16 when the operation FAILED. One
-- expression of constant containment tests (no subquery), so PostgreSQL inlines it into every write
-- rather than running a function per row.
create function insights_funnel_code(state jsonb, status text) returns smallint
language sql immutable parallel safe as $$
  select (case
      when (state #>> '{shipment,status}' in ('DELIVERED')
        or state @> '{"shipment": {"checkpoints": [{"status": "DELIVERED"}]}}') then 4
      when (state #>> '{shipment,status}' in ('OUT_FOR_DELIVERY', 'AVAILABLE_FOR_PICKUP', 'FAILED_ATTEMPT')
        or state @> '{"shipment": {"checkpoints": [{"status": "OUT_FOR_DELIVERY"}]}}'
        or state @> '{"shipment": {"checkpoints": [{"status": "AVAILABLE_FOR_PICKUP"}]}}'
        or state @> '{"shipment": {"checkpoints": [{"status": "FAILED_ATTEMPT"}]}}') then 3
      when (state #>> '{shipment,status}' in ('IN_TRANSIT', 'RETURNING_TO_SENDER', 'RETURNED_TO_SENDER')
        or state @> '{"shipment": {"checkpoints": [{"status": "IN_TRANSIT"}]}}'
        or state @> '{"shipment": {"checkpoints": [{"status": "RETURNING_TO_SENDER"}]}}'
        or state @> '{"shipment": {"checkpoints": [{"status": "RETURNED_TO_SENDER"}]}}') then 2
      when (state #>> '{shipment,status}' in ('INFO_RECEIVED')
        or state @> '{"shipment": {"checkpoints": [{"status": "INFO_RECEIVED"}]}}') then 1
      else 0 end
    + case when (state #>> '{shipment,status}' in ('EXCEPTION')
        or state @> '{"shipment": {"checkpoints": [{"status": "EXCEPTION"}]}}') then 8 else 0 end
    + case when status = 'FAILED' then 16 else 0 end)::smallint
$$;

-- A stored instant as the carrier adapters write it (toISOString: 2026-01-01T10:00:00.000Z; an offset
-- such as +02:00 is read too) as a timestamptz, from its parts: a text cast would depend on the session's
-- TimeZone and DateStyle, which a generated column may not, and pinning them with SET makes every write
-- call a function (measured: about ×3 the cost of a polling update). Any other form gives null (the stuck
-- list then goes by the request time).
create function insights_instant(t text) returns timestamptz
language sql immutable parallel safe as $$
  select case when t ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$' then
    to_timestamp(extract(epoch from make_timestamp(substr(t, 1, 4)::int, substr(t, 6, 2)::int, substr(t, 9, 2)::int,
      substr(t, 12, 2)::int, substr(t, 15, 2)::int,
      substr(t, 18, length(t) - case when right(t, 1) = 'Z' then 18 else 23 end)::float8))::float8
      - case when right(t, 1) = 'Z' then 0
        else (case when substr(t, length(t) - 5, 1) = '-' then -1 else 1 end)
          * (substr(t, length(t) - 4, 2)::int * 3600 + right(t, 2)::int * 60) end) end
$$;

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
