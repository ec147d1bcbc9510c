-- Ordered delivery per operation: a notification is claimed only when no earlier update (lower
-- sequence_number) of an operation it carries still waits in another notification. The claim looks
-- those earlier updates up by operation, once per candidate row (src/store/notifications.ts).
create index outbox_by_operation on outbox (operation_id, sequence_number);
