-- A site's inbox files newest first, a page at a time (GET /admin/v1/production-sites/:siteId/inbox-files,
-- src/store/inbox-file-reports.ts): each page is one index range, however many files the site has sent.
-- Ties on the receipt time are broken by md5(file_key): a file key holds the file's name (up to 255 bytes),
-- too long for a cursor; its digest is short and as stable.
create index inbox_files_newest on inbox_files (site_id, created_at, md5(file_key));
