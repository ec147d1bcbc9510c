-- Insights (GET /admin/v1/insights/summary and /sites, src/store/insights.ts) count operations finished in
-- a time window: a closed operation is written no more, so its updated_at is when it finished. Without this
-- index each such count read every operation in the table; with it, only the window's. (Opened-in-window
-- counts use operations_newest, on created_at.) Built inside the migration's transaction, not
-- concurrently: on a large store it holds writes to operations for the time the build takes.
create index operations_finished on operations (updated_at) where not is_open;
