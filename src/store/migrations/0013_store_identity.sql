-- Which PostgreSQL cluster this store lives in (pg_control_system().system_identifier). The catch-up feed
-- orders and cuts notifications by the transaction ids of the cluster that wrote them (migration 0012),
-- and those restart in another cluster (a dump and restore, logical replication; a physical replica
-- keeps them). When the hub finds itself in another cluster (src/store/store-identity.ts), it resets the
-- positions of the rows it brings along and its feed cursors change, so no old cursor can acknowledge or
-- hide a notification.
create table store_identity (
  only_row boolean primary key default true check (only_row),
  system_identifier text not null,
  recorded_at timestamptz not null default now()
);
