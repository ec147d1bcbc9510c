-- One API key belongs to one production site: the Site API finds the site by the key's hash, so a key
-- shared by two sites let one report as the other. Where sites already share a key, the oldest keeps it
-- and the others lose theirs (`trackhub sites list` shows no-key; give each a new one with
-- `trackhub sites add ID --name NAME --rotate-key`).
update production_sites p set api_key_hash = null
where p.api_key_hash is not null and exists (
  select 1 from production_sites o
  where o.api_key_hash = p.api_key_hash and (o.created_at, o.site_id) < (p.created_at, p.site_id));
create unique index production_sites_api_key on production_sites (api_key_hash);
