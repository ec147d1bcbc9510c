-- Access tokens are bound to the issuer's key set and to this counter (src/auth/tokens.ts, tokenBinding):
-- a write that disables the issuer or changes its keys moves it on, so re-enabling the issuer or putting
-- back an earlier key set does not revive tokens granted before.
alter table issuers add column token_epoch integer not null default 0;
