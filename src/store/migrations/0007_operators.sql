-- Named operator tokens for the Admin API, console and /metrics. Only the SHA-256 of a token is kept: the
-- token itself is shown once, when it is created. A revoked token keeps its row (its name stays in the
-- audit log's history and cannot be taken again by a new token).
create table admin_tokens (
  name text primary key,
  token_hash text not null,
  scope text not null check (scope in ('read', 'operate', 'admin')),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create unique index admin_tokens_hash on admin_tokens (token_hash);

-- Every write through the Admin API: who (the token's name), what (method, route pattern, target id),
-- when, the answer's status, and the target before and after with its secrets masked.
create table admin_audit (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  token_name text not null,
  method text not null,
  route text not null,
  target_id text,
  status integer not null,
  before jsonb,
  after jsonb,
  correlation_id text not null
);
create index admin_audit_by_token on admin_audit (token_name, id desc);
create index admin_audit_by_target on admin_audit (target_id, id desc);
