-- Hourly roll-ups behind GET /admin/v1/insights/notifications (src/store/notification-rollup.ts; why:
-- docs/design.md "Notification insights at scale"). A notification's figures are those of the hour it was
-- created in, by its state now, and that state changes after the hour: a retry, a delivery, a death, a
-- feed acknowledgement, a replay. So a roll-up of an hour counts only the rows whose state is final, and
-- keeps the others' ids to be read live.

-- A row per UTC hour rolled (for every issuer at once).
create table notification_rollup_hours (
  hour timestamptz primary key,
  rolled_at timestamptz not null default now()
);
-- Delivered and dead notifications created in the hour, whose last claim's lease ended long before the
-- roll: per issuer and state, delivered ones per latency bucket (log scale, as insight_durations; null for dead).
create table notification_rollup (
  issuer_id text not null,
  hour timestamptz not null,
  state text not null,
  bucket smallint,
  n integer not null
);
create index notification_rollup_by_issuer on notification_rollup (issuer_id, hour);
-- Notifications of a rolled hour not final when it was rolled (pending, or a lease possibly still running):
-- every read counts them from outbox by id, as they are now.
create table notification_rollup_open (
  id text primary key,
  issuer_id text not null,
  hour timestamptz not null
);
create index notification_rollup_open_by_issuer on notification_rollup_open (issuer_id, hour);
-- Issuer hours a replay took rows of (written in the replay's own statement): read live until rolled again.
create table notification_rollup_dirty (
  issuer_id text not null,
  hour timestamptz not null
);
create index notification_rollup_dirty_by_hour on notification_rollup_dirty (hour, issuer_id);
