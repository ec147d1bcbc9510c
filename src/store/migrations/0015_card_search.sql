-- Admin search and stuck lists (issue 12): every lookup they make is an index range scan, even with
-- millions of operations in the store.

-- Card id prefix search: LIKE 'prefix%' can use a btree only with the C collation's order.
create index operations_card_prefix on operations (card_id text_pattern_ops);
-- Tracking number, exact, closed operations included (operations_open_by_tracking_number holds open ones only).
create index operations_by_tracking_number on operations (tracking_number) where tracking_number is not null;
-- The correlation id of the track request lives only in the state.
create index operations_by_correlation_id on operations ((state ->> 'correlationId'));
-- Stuck parcels: the open shipments, oldest first.
create index operations_open_shipments on operations (created_at) where is_open and tracking_type = 'SHIPMENT';
-- Notifications pending for long: the oldest pending first, across issuers.
create index outbox_pending_since on outbox (created_at) where state = 'pending';
