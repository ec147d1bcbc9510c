-- Notification delivery (issue 3).

-- Batching: a notification carrying several operations is the outbox row of its first operation (the
-- "head", whose id is the webhook-id); the other rows point at it with batch_id and wait in state
-- 'batched'. The grouping is stored at first claim, so every retry sends the same operations under the
-- same webhook-id.
alter table outbox add column batch_id text;
create index outbox_batch on outbox (batch_id) where batch_id is not null;
-- A replay restarts the retry schedule without renumbering the attempt log: the schedule counts attempts
-- made after this many.
alter table outbox add column schedule_offset integer not null default 0;
-- Fair claim: each issuer's due rows in order, whatever the other issuers hold.
create index outbox_due_by_issuer on outbox (issuer_id, next_attempt_at) where state = 'pending';
create index outbox_listing on outbox (state, id);

-- An endpoint that answered 410 Gone is disabled until the issuer is PUT again; its notifications wait.
alter table issuers add column endpoint_disabled_at timestamptz;
alter table issuers add column endpoint_disabled_reason text;
-- Client certificate for mTLS towards the issuer: { certificatePem, privateKeyPem, caPem? }.
alter table issuers add column notification_tls jsonb;

-- Attempt log reads are per notification; the prune reads by time.
create index delivery_attempts_time on delivery_attempts (attempted_at);

-- Claims now go issuer by issuer (outbox_due_by_issuer); the global due index only slowed every write.
drop index if exists outbox_due;
