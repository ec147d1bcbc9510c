-- Events reported by production sites (docs/contract.md §4). An eventId is unique per site: a resend is a no-op.
-- An event waits here (unmatched) until a track request of its card comes, for up to 180 days.
create table site_events (
  site_id text not null,
  event_id text not null,
  issuer_id text not null,
  card_id text not null,
  type text not null,
  occurred_at timestamptz not null,
  carrier text,
  tracking_number text,
  reason text,
  received_at timestamptz not null default now(),
  -- the operation this event completed; null while it waits for a track request
  matched_operation_id text,
  primary key (site_id, event_id)
);
create index site_events_by_card on site_events (issuer_id, card_id);
create index site_events_received on site_events (received_at);

-- Progress of each inbox file, so a file resumed after a crash reports exact counts and one worker owns it.
create table inbox_files (
  site_id text not null,
  -- name, size and modification time: the same name dropped again later is a new file
  file_key text not null,
  name text not null,
  state text not null default 'processing',
  lines_done integer not null default 0,
  accepted integer not null default 0,
  duplicates integer not null default 0,
  rejected_count integer not null default 0,
  -- the first rejected lines with their reasons (capped; rejected_count is exact)
  rejected jsonb not null default '[]',
  lease_until timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (site_id, file_key)
);
