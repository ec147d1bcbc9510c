-- Per issuer, how notifications are signed: 'hmac' (Standard Webhooks v1, with the webhook secrets) or
-- 'ed25519' (v1a, asymmetric: the issuer verifies with the public key and holds no shared secret).
alter table issuers add column notification_signing text not null default 'hmac';
-- The ed25519 private key (whsk_…), sealed like the other secrets (src/store/secret-box.ts); null when
-- the issuer has none. It keeps signing beside the webhook secrets while a switch overlaps.
alter table issuers add column notification_signing_key text;

-- The catch-up feed (src/store/notification-feed.ts) serves an issuer's notifications in the order of
-- the transactions that wrote them: each row records its writer's transaction id, and a page only reads
-- rows below the oldest transaction still running, so no row can later appear behind a cursor already
-- handed out. Rows written before this migration all get this migration's id (ordered by id among them).
alter table outbox add column commit_xid xid8 not null default pg_current_xact_id();
create index outbox_feed on outbox (issuer_id, commit_xid, id);
