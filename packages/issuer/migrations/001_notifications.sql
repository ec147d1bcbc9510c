-- @trackhub/issuer: the PostgresNotificationStore's tables. Applied by store.migrate() in the store's
-- schema (search_path set to it), or by your own migration tool: every statement can run again.

-- One row per notification taken (its webhook-id), for de-duplication; seen_at for pruning.
CREATE TABLE IF NOT EXISTS trackhub_issuer_seen_notifications (
  webhook_id text PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS trackhub_issuer_seen_notifications_seen_at ON trackhub_issuer_seen_notifications (seen_at);

-- The last sequenceNumber applied per operation, for ordering; 0 while none is (sequences start at 1).
CREATE TABLE IF NOT EXISTS trackhub_issuer_operation_sequences (
  operation_id text PRIMARY KEY,
  last_sequence bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS trackhub_issuer_operation_sequences_updated_at ON trackhub_issuer_operation_sequences (updated_at);
