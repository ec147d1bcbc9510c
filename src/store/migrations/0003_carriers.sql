-- Carrier request budgets shared by every worker: one fixed window per provider, counted in one row
-- that a single UPDATE … RETURNING takes from (src/polling/rate-limit.ts).
create table carrier_rate_limits (
  provider text primary key,
  window_start timestamptz not null,
  used integer not null default 0,
  -- what the last UPDATE granted; read back with RETURNING
  granted integer not null default 0,
  -- set from a carrier's Retry-After (429/503): no worker calls the provider before this time
  paused_until timestamptz
);

-- Carrier pushes (webhooks) find the open operations of a tracking number here.
create index operations_open_by_tracking_number on operations (tracking_number) where is_open and tracking_number is not null;

-- UPS Track Alert subscriptions last 14 days; the subscriber renews those of parcels still open.
create table ups_track_alert_subscriptions (
  tracking_number text primary key,
  subscribed_at timestamptz not null
);
