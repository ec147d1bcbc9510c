-- (There is no 0008: the number was given up while this change was being written. Migrations are applied
-- in order of their number and each is recorded by it, so a gap changes nothing.)
-- Ordered delivery per operation: a notification is claimed only when no earlier update (lower
-- sequence_number) of an operation it carries still waits in another notification. The claim looks
-- those earlier updates up by operation, once per candidate row (src/store/notifications.ts).
create index outbox_by_operation on outbox (operation_id, sequence_number);
