-- What operators see of each carrier provider (GET /admin/v1/carriers), shared by every worker and instance.
-- The poller writes the budget, demand, breaker and totals in the statements it already runs per round; the
-- carrier webhook route writes the push figures; the hub flushes unknown status codes every few seconds.
alter table carrier_rate_limits
  -- grants are computed from the buckets under the row lock now: nothing reads a grant back
  drop column granted,
  -- the sliding window's buckets of calls and wanted numbers (src/domain/call-budget.ts); window_start and
  -- used then describe the sliding window that ends at the newest take
  add column buckets jsonb,
  -- where the queue of put-off polls ends: every worker books its places after it, so two never book the same
  add column queued_until timestamptz,
  -- tracking numbers that fell due for a poll in the current window (demand), each counted once
  add column wanted integer not null default 0,
  -- the previous complete window, a steady reading of use and demand (null until one window has ended)
  add column last_window_start timestamptz,
  add column last_window_end timestamptz,
  add column last_used integer,
  add column last_wanted integer,
  -- parcels whose poll waited longer than their poll interval, as the newest round of any worker saw them
  add column overdue integer not null default 0,
  add column overdue_at timestamptz,
  -- the newest breaker change any worker made: closed, open or half-open, and when an open one lets a probe out
  add column breaker_state text not null default 'closed',
  add column breaker_until timestamptz,
  add column breaker_changed_at timestamptz,
  -- running totals since the store was created
  add column calls_total bigint not null default 0,
  add column fallbacks_total bigint not null default 0,
  add column deadline_waits_total bigint not null default 0,
  add column pushes_total bigint not null default 0,
  add column last_push_at timestamptz;

-- Carrier status codes with no row in a status table: at most a few hundred rows (the writer caps them).
create table carrier_unknown_codes (
  provider text not null,
  code text not null,
  seen bigint not null,
  first_seen_at timestamptz not null,
  first_example text,
  last_seen_at timestamptz not null,
  last_example text,
  primary key (provider, code)
);
