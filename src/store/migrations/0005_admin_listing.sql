-- Admin listings page newest first with a keyset cursor; these keep each page an index range scan.
create index operations_newest on operations (created_at desc, operation_id desc);
create index operations_by_issuer_newest on operations (issuer_id, created_at desc, operation_id desc);
