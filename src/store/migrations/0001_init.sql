-- Issuers (banks) that call the Issuer API and receive notifications.
create table issuers (
  issuer_id text primary key,
  name text not null,
  notification_base_url text not null,
  jwks jsonb not null,
  -- whsec_ secrets, newest first; more than one while a secret is being rotated
  webhook_secrets jsonb not null default '[]',
  notification_auth jsonb,
  max_operations_per_notification integer not null default 1,
  auto_track_shipment boolean not null default false,
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table production_sites (
  site_id text primary key,
  name text not null,
  api_key_hash text,
  carriers jsonb not null default '[]',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Secrets the hub itself needs on every instance (the access-token signing key).
create table hub_secrets (
  name text primary key,
  value text not null,
  created_at timestamptz not null default now()
);

-- JWT-bearer assertion ids already used, kept until the assertion expires.
create table used_assertions (
  issuer_id text not null,
  jti text not null,
  expires_at timestamptz not null,
  primary key (issuer_id, jti)
);
create index used_assertions_expiry on used_assertions (expires_at);

-- One row per accepted track request. `state` is the domain state machine's state; the columns beside
-- it are what queries need.
create table operations (
  operation_id text primary key,
  issuer_id text not null,
  card_id text not null,
  tracking_type text not null,
  request_hash text not null,
  status text not null,
  is_open boolean not null,
  state jsonb not null,
  carrier text,
  tracking_number text,
  -- when a worker should next look at this operation (carrier poll or timeout); null once closed
  wake_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- At most one open operation per card and tracking type: the idempotency and SUPERSEDED rule.
create unique index operations_one_open on operations (issuer_id, card_id, tracking_type) where is_open;
create index operations_by_card on operations (issuer_id, card_id, created_at desc);
create index operations_due on operations (wake_at) where wake_at is not null;

-- Transactional outbox: written in the same transaction as the operation state.
create table outbox (
  id text primary key,
  issuer_id text not null,
  operation_id text not null,
  sequence_number integer not null,
  correlation_id text not null,
  -- the operation object as sent (text keeps its key order; jsonb would not)
  payload text not null,
  state text not null default 'pending',
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz
);
create index outbox_due on outbox (next_attempt_at) where state = 'pending';
create index outbox_by_issuer on outbox (issuer_id, state, created_at);

create table delivery_attempts (
  notification_id text not null,
  attempt integer not null,
  attempted_at timestamptz not null default now(),
  http_status integer,
  error text,
  latency_ms integer not null,
  response_body text,
  primary key (notification_id, attempt)
);
