import { sql } from 'kysely';
import type { Db } from './db.ts';
import { isoUtc } from './sql-time.ts';

/**
 * The shared state of the operator webhooks' alerts (migration 0017): every worker evaluates the same
 * conditions, and each transition is claimed by a conditional statement only one of them wins.
 */

export interface ObservedAlert {
  alert: string;
  /** The issuer, provider or site the alert is about; '' for a hub-wide one. */
  subject: string;
  figures: Record<string, unknown>;
  /** How long the condition must hold before it fires (the Prometheus rule's `for:`). */
  holdMs: number;
}

export interface AlertTransition {
  alert: string;
  subject: string;
  observed_since: string;
  figures: Record<string, unknown>;
}

/**
 * Records the conditions observed now (a new one starts its hold at `now`; a known one keeps its start and
 * takes the newest figures), then claims those whose hold has run and that have not fired yet: the rows
 * returned are this caller's to send, and no other caller gets them.
 */
export async function observeAndClaimFiring(db: Db, observed: ObservedAlert[], now: Date): Promise<AlertTransition[]> {
  if (observed.length === 0) return [];
  const rows = JSON.stringify(observed.map((o) => ({ alert: o.alert, subject: o.subject, figures: o.figures, hold_ms: o.holdMs })));
  const at = now.toISOString();
  await sql`
    insert into operator_alerts (alert, subject, observed_since, figures)
    select alert, subject, ${at}::timestamptz, figures from json_to_recordset(${rows}::json) as r(alert text, subject text, figures jsonb, hold_ms bigint)
    on conflict (alert, subject) do update set figures = excluded.figures`.execute(db);
  const res = await sql<AlertTransition>`
    update operator_alerts a set fired_at = ${at}::timestamptz
    from json_to_recordset(${rows}::json) as r(alert text, subject text, figures jsonb, hold_ms bigint)
    where a.alert = r.alert and a.subject = r.subject and a.fired_at is null
      and a.observed_since <= ${at}::timestamptz - r.hold_ms * interval '1 millisecond'
    returning a.alert, a.subject, ${isoUtc('a.observed_since')} as observed_since, a.figures`.execute(db);
  return res.rows;
}

/**
 * Ends every condition of `alerts` (those whose figures were read this round) not in `observed`: the rows
 * are deleted, and those that had fired are returned, this caller's alone to send as resolved. An alert
 * whose figures could not be read is not named, so a store error never resolves it.
 */
export async function claimResolved(db: Db, alerts: string[], observed: ObservedAlert[]): Promise<AlertTransition[]> {
  if (alerts.length === 0) return [];
  const keys = JSON.stringify(observed.map((o) => ({ alert: o.alert, subject: o.subject })));
  const res = await sql<AlertTransition & { fired: boolean }>`
    delete from operator_alerts
    where alert = any(${alerts}::text[]) and not exists (
      select 1 from json_to_recordset(${keys}::json) as k(alert text, subject text)
      where k.alert = operator_alerts.alert and k.subject = operator_alerts.subject)
    returning alert, subject, ${isoUtc('observed_since')} as observed_since, figures, fired_at is not null as fired`.execute(db);
  return res.rows.filter((r) => r.fired).map(({ fired: _fired, ...r }) => r);
}

export interface DeadLettersRow {
  issuer_id: string;
  n: number;
}

/** Per issuer, notifications that went dead in the last hour: dead, with an attempt (so their last) within it. */
export async function deadLettersLastHour(db: Db): Promise<DeadLettersRow[]> {
  const res = await sql<DeadLettersRow>`
    select o.issuer_id, count(*)::int as n from outbox o
    where o.state = 'dead' and exists (
      select 1 from delivery_attempts a where a.notification_id = o.id and a.attempted_at > now() - interval '1 hour')
    group by o.issuer_id`.execute(db);
  return res.rows;
}
