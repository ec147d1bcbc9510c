/**
 * bench/import.ts's open operations: the track requests site events are to meet, and the check after a
 * run that the events met them. One PRODUCTION request is made through the hub's own accept code; the
 * others are copies of its row (a new operation id, card and correlation id each), written in one
 * statement: 100,000 requests through the Issuer API would take longer than the run they are seeded for.
 */
import { sql } from 'kysely';
import pino from 'pino';
import { loadConfig, policyOf } from '../../src/config.ts';
import { acceptInTransaction } from '../../src/operations/accept.ts';
import { buildContext } from '../../src/operations/context.ts';
import type { Db } from '../../src/store/db.ts';

export const ISSUER = 'BENCHBANK1';

/** The card of the k-th event of a run: events with an even k meet a waiting PRODUCTION request. */
export const benchCard = (run: string, k: number) => `card-${run}-${k}`;

/** Seeds a waiting PRODUCTION request (for `siteId`) for every even k below `events`; returns how many. */
export async function seedOpenProduction(db: Db, run: string, events: number, siteId: string): Promise<number> {
  const ctx = buildContext({ db, log: pino({ level: 'silent' }), policy: policyOf(loadConfig({})) });
  const templateCard = `card-${run}-template`;
  const body = { trackingType: 'PRODUCTION' as const, productionSite: siteId };
  const [made] = await db.transaction().execute((tx) =>
    acceptInTransaction(ctx, tx as Db, [{ issuerId: ISSUER, cardId: templateCard, correlationId: `corr-${run}-template`, body, hash: 'bench', parcel: undefined, key: `${ISSUER}|${templateCard}|PRODUCTION` }]),
  );
  // Every column is copied as the template has it, but for the ones that name the operation and its card.
  const columns = await sql<{ column_name: string }>`
    select column_name from information_schema.columns
    where table_schema = current_schema() and table_name = 'operations' and is_generated = 'NEVER'
    order by ordinal_position`.execute(db);
  const replaced: Record<string, string> = {
    operation_id: `'op_seed_${run}_' || g`,
    card_id: `'card-${run}-' || g`,
    state: `t.state || jsonb_build_object('operationId', 'op_seed_${run}_' || g, 'cardId', 'card-${run}-' || g, 'correlationId', 'corr-seed-${run}-' || g)`,
  };
  const names = columns.rows.map((c) => c.column_name);
  const values = names.map((n) => replaced[n] ?? `t.${n}`);
  const res = await sql`
    insert into operations (${sql.raw(names.join(', '))})
    select ${sql.raw(values.join(', '))}
    from operations t, generate_series(0, ${events - 1}, 2) g
    where t.operation_id = ${made.operationId}`.execute(db);
  // The template closes as the seeded ones will, so it never counts among what waits.
  await sql`update operations set is_open = false, status = 'SUCCESSFUL', wake_at = null where operation_id = ${made.operationId}`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

/**
 * After a run: how many of its events completed an operation, and how many seeded operations are now
 * SUCCESSFUL, closed, with no wake-up left and the completing event's operation id on the event.
 */
export async function checkMatched(db: Db, run: string): Promise<{ matchedEvents: number; completed: number; stillOpen: number }> {
  const row = await sql<{ matched: string; completed: string; open: string }>`
    select
      (select count(*) from site_events e join operations o on o.operation_id = e.matched_operation_id
        where e.card_id like ${`card-${run}-%`} and o.card_id = e.card_id) as matched,
      (select count(*) from operations where operation_id like ${`op\\_seed\\_${run}\\_%`}
        and not is_open and status = 'SUCCESSFUL' and wake_at is null and state ->> 'status' = 'SUCCESSFUL') as completed,
      (select count(*) from operations where operation_id like ${`op\\_seed\\_${run}\\_%`} and is_open) as open`.execute(db);
  const r = row.rows[0];
  return { matchedEvents: Number(r.matched), completed: Number(r.completed), stillOpen: Number(r.open) };
}
