-- The poller's claim (src/store/operations.ts, claimDueOperations) moved each claimed operation's wake time
-- a lease ahead with an UPDATE of operations: for every claimed row a new version of a wide row (the state),
-- an entry in each of its 15 indexes and its 3 generated columns (migration 0016) computed again. 200 rows
-- took 22 ms p50 at only 10,000 open trackings, 63 ms in EXPLAIN ANALYZE (bench/due.ts). The claim now
-- reads and writes a narrow table of its own with two indexes: 200 small rows (2.8 ms in the same test).
--
-- operations.wake_at stays what the writers set (the planned wake-up: a poll, a deadline; null once
-- closed), so no writer changes: triggers copy it here. operation_wakeups.wake_at is that time, or the
-- lease a claim put over it. A writer setting wake_at (saveDecision, even to the same time) replaces the
-- lease, as the claim's own update of operations did. operations.wake_at loses its index: nothing reads
-- it by time any more, and every write of operations maintains one index less.
-- Writes to operations wait until this migration commits (reads go on): an operation inserted or saved
-- between the copy below and the triggers' creation would otherwise have no wake-up, and never be woken.
-- About a minute per 10 million open operations.
lock table operations in share mode;
create table operation_wakeups (
  operation_id text primary key,
  wake_at timestamptz not null
);
insert into operation_wakeups (operation_id, wake_at) select operation_id, wake_at from operations where wake_at is not null;
create index operation_wakeups_due on operation_wakeups (wake_at);
drop index operations_due;

-- New operations: one statement per insert, whatever the batch (a row trigger would cost the track
-- hot path a function call per operation).
create function operation_wakeups_inserted() returns trigger language plpgsql as $$
begin
  insert into operation_wakeups (operation_id, wake_at) select operation_id, wake_at from inserted where wake_at is not null;
  return null;
end $$;
create trigger operations_wakeups_inserted after insert on operations
  referencing new table as inserted for each statement execute function operation_wakeups_inserted();

-- An update naming wake_at (a decision saved): the wake-up is replaced, or removed when there is none.
create function operation_wakeup_set() returns trigger language plpgsql as $$
begin
  if new.wake_at is null then
    delete from operation_wakeups where operation_id = new.operation_id;
  else
    insert into operation_wakeups (operation_id, wake_at) values (new.operation_id, new.wake_at)
      on conflict (operation_id) do update set wake_at = excluded.wake_at;
  end if;
  return null;
end $$;
create trigger operations_wakeup_set after update of wake_at on operations
  for each row execute function operation_wakeup_set();

-- Operations deleted (retention, the demo's clean-up) take their wake-up along: a statement, not a foreign
-- key, whose check would cost every insert above a lookup per row.
create function operation_wakeups_deleted() returns trigger language plpgsql as $$
begin
  delete from operation_wakeups w using deleted d where w.operation_id = d.operation_id;
  return null;
end $$;
create trigger operations_wakeups_deleted after delete on operations
  referencing old table as deleted for each statement execute function operation_wakeups_deleted();
