-- Operator webhooks (issue 12): one row per alert condition currently observed (alert name, and the issuer,
-- provider or site it is about; '' for a hub-wide one), shared by every worker on the store. Each
-- transition is claimed by one statement that only one instance can win: firing sets fired_at where it is
-- still null, resolved deletes the row; the winner sends the event, so several instances send it once.
create table operator_alerts (
  alert text not null,
  subject text not null,
  observed_since timestamptz not null,
  fired_at timestamptz,
  figures jsonb not null default '{}',
  primary key (alert, subject)
);
