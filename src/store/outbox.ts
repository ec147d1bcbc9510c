import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from './db.ts';

/**
 * The outbox as the dispatcher (src/delivery/) works it: the channel that says rows were committed, the
 * claim, grouping claimed rows into notifications, recording attempts, pruning the attempt log.
 * Notifications as the Admin API sees them are src/store/notifications.ts.
 */

/** The PostgreSQL NOTIFY channel a commit of outbox rows signals on (insertOutbox), and workers LISTEN to. */
export const OUTBOX_CHANNEL = 'trackhub_outbox';

/** Wakes workers in other processes when the caller's transaction commits (PostgreSQL LISTEN/NOTIFY). */
export async function notifyOutboxCommitted(db: Db): Promise<void> {
  await sql`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute(db);
}

/**
 * PostgreSQL only: calls `onCommit` for every commit of outbox rows made by any process, until
 * `running()` turns false. A lost connection is opened again after a second (polling still finds the
 * work meanwhile). Resolves once stopped; `current()` gives the live client, to end it when stopping.
 */
export function listenForOutbox(url: string, onCommit: () => void, running: () => boolean): { done: Promise<void>; current: () => pg.Client | undefined } {
  let listener: pg.Client | undefined;
  const done = (async () => {
    while (running()) {
      const client = new pg.Client({ connectionString: url });
      try {
        client.on('notification', onCommit);
        const ended = new Promise<void>((resolve) => {
          client.on('error', () => resolve());
          client.on('end', () => resolve());
        });
        await client.connect();
        await client.query(`listen ${OUTBOX_CHANNEL}`);
        listener = client;
        await ended;
      } catch {
        // The store is away: polling still finds the work; try listening again shortly.
      }
      await client.end().catch(() => {});
      if (running()) await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return { done, current: () => listener };
}


/** How many rows an issuer has room for: the claim takes at most `lim` of its notifications. */
export interface ClaimWant {
  issuer_id: string;
  lim: number;
}

/** A notification's head row as claimed: `attempts` already counts the attempt about to be made. */
export interface ClaimedOutboxRow {
  id: string;
  issuer_id: string;
  correlation_id: string;
  payload: string;
  attempts: number;
  batch_id: string | null;
  schedule_offset: number;
}

/**
 * An outbox row `e` that is an update still waiting to be delivered: never delivered (delivered_at is
 * null), and pending itself or batched into a notification that is pending. Delivered and dead ones are
 * done (a dead update never blocks the later ones of its operation for good; a replay of a dead one makes
 * it wait again). A replay of a notification delivered before keeps its delivered_at: the issuer has it
 * already, so re-sending it holds nothing newer back.
 */
const stillWaiting = (e: string) =>
  sql.raw(
    `(${e}.delivered_at is null and (${e}.state = 'pending' or (${e}.state = 'batched' and exists (select 1 from outbox h where h.id = ${e}.batch_id and h.state = 'pending' and h.delivered_at is null))))`,
  );

/**
 * A pending row `e` whose send is under way: claimed (the claim counted the attempt and set the lease in
 * next_attempt_at), lease not over, and that attempt not recorded yet. Replays and the feed's
 * acknowledgement leave such a row to its attempt: shortening the lease would let another worker send it
 * again while it is still being sent (a second concurrent delivery of one webhook-id). A record the
 * statement's snapshot cannot see yet only makes the row look busy a moment longer: the safe side.
 */
export const sendUnderWay = (e: string) =>
  sql.raw(
    `(${e}.state = 'pending' and ${e}.attempts > 0 and ${e}.next_attempt_at > now() and not exists (select 1 from delivery_attempts da where da.notification_id = ${e}.id and da.attempt = ${e}.attempts))`,
  );

/**
 * Claims due notifications, leasing them for `leaseMs` (`attempts` counts the attempt about to be
 * made). One statement: each issuer's due rows (up to its `lim`), taken round-robin across issuers
 * (every issuer's first row, then every issuer's second…) up to `room`, so a deep backlog for one
 * issuer never starves the others.
 *
 * Order per operation: the issuer may see an update of an operation (sequenceNumber n) only after
 * every earlier one (n-1, n-2…) is delivered or dead. So a notification is claimable only while no
 * earlier update of any operation it carries still waits in another notification; otherwise it stays
 * due and is looked at again at the next claim. This holds across retries (a failed update holds back
 * the later ones until it is delivered or dead), replays, and any number of workers: an update in
 * flight is 'pending' (leased), so it blocks the later ones for every worker, whatever row locks the
 * claims skip. A batch (several operations in one notification) waits for the earlier updates of every
 * operation it carries; since only an operation's earliest waiting update is ever claimable, a batch
 * formed from claimed rows never carries two updates of one operation, and a batch can only wait for
 * notifications formed before it, so two batches never wait for each other.
 *
 * Cost: each due row costs one index probe (outbox_by_operation); due rows held back are skipped, but
 * scanned again by every claim until their turn comes.
 */
export async function claimDueNotifications(db: Db, wants: ClaimWant[], room: number, leaseMs: number): Promise<ClaimedOutboxRow[]> {
  // JIT is off for the hub's sessions (src/store/db.ts): the planner prices this statement past jit_above_cost.
  const res = await sql<ClaimedOutboxRow>`
    update outbox o
    set next_attempt_at = now() + ${`${leaseMs} milliseconds`}::interval, attempts = o.attempts + 1
    from (
      select id from (
        select d.id, row_number() over (partition by q.issuer_id order by d.next_attempt_at) as turn
        from json_to_recordset(${JSON.stringify(wants)}::json) as q(issuer_id text, lim int)
        cross join lateral (
          select c.id, c.next_attempt_at from outbox c
          where c.issuer_id = q.issuer_id and c.state = 'pending' and c.next_attempt_at <= now()
            -- its own operation's earlier updates (those batched with it excepted)
            and not exists (
              select 1 from outbox e
              where e.operation_id = c.operation_id and e.sequence_number < c.sequence_number
                and e.batch_id is distinct from c.id and ${stillWaiting('e')})
            -- a batch head: the earlier updates of the other operations it carries
            and (c.batch_id is null or not exists (
              select 1 from outbox m
              join outbox e on e.operation_id = m.operation_id and e.sequence_number < m.sequence_number
              where m.batch_id = c.id and m.state = 'batched'
                and e.batch_id is distinct from c.id and ${stillWaiting('e')}))
          order by c.next_attempt_at
          limit q.lim
          for update of c skip locked
        ) d
      ) ranked
      order by turn
      limit ${room}
    ) due
    where o.id = due.id
    returning o.id, o.issuer_id, o.correlation_id, o.payload, o.attempts, o.batch_id, o.schedule_offset`.execute(db);
  return res.rows;
}

/** A claimed row never sent before, to be grouped: `attempts` as its claim counted it, `max` its issuer's operations per notification. */
export interface BatchCandidate {
  id: string;
  issuer_id: string;
  attempts: number;
  max: number;
}

/** A row as grouped: `batch_id` is its notification's head (the head's own id for the head). */
export interface GroupedRow extends ClaimedOutboxRow {
  batch_id: string;
}

/**
 * Writes the grouping down before anything is sent: the candidates of each issuer, in the order given,
 * are cut into notifications of at most `max` rows; the first row of each is its head (it stays pending,
 * the others wait beside it in state 'batched'), so every retry carries the same operations under the
 * same webhook-id.
 *
 * Only rows whose claim is still the caller's are grouped: pending, no batch yet, the attempt count of
 * that claim, and its lease still running. A worker that stalled past its lease may find them served
 * alone by the catch-up feed meanwhile (or claimed again by another worker): grouping them then would
 * give one webhook-id two bodies. The rows are locked first, so a write that lands meanwhile is seen;
 * heads are chosen among the rows still held, so a row lost never leaves a batch without its head.
 * Returns the rows grouped, each notification's head first, then its other rows in the order the feed
 * and every retry read them (batchedPayloads: created_at, id); the caller sends only these.
 */
export async function groupIntoBatches(db: Db, candidates: BatchCandidate[]): Promise<GroupedRow[]> {
  const res = await sql<GroupedRow>`
    with a as (
      select * from json_to_recordset(${JSON.stringify(candidates.map((c, ord) => ({ ...c, ord })))}::json)
        as a(id text, issuer_id text, attempts int, max int, ord int)
    ), mine as (
      select a.id, a.issuer_id, a.max, a.ord from outbox o join a on o.id = a.id
      where o.state = 'pending' and o.batch_id is null and o.attempts = a.attempts and o.next_attempt_at > clock_timestamp()
      for update of o
    ), chunked as (
      select id, issuer_id, ord, (row_number() over (partition by issuer_id order by ord) - 1) / greatest(max, 1) as chunk from mine
    ), headed as (
      select id, first_value(id) over (partition by issuer_id, chunk order by ord) as head,
        min(ord) over (partition by issuer_id, chunk) as head_ord
      from chunked
    ), grouped as (
      update outbox o set batch_id = h.head, state = case when o.id = h.head then 'pending' else 'batched' end
      from headed h
      where o.id = h.id and o.state = 'pending' and o.batch_id is null
      returning o.id, o.issuer_id, o.correlation_id, o.payload, o.attempts, o.batch_id, o.schedule_offset, o.created_at, h.head_ord
    )
    select id, issuer_id, correlation_id, payload, attempts, batch_id, schedule_offset from grouped
    order by head_ord, (id = batch_id) desc, created_at, id`.execute(db);
  return res.rows;
}

/** The payloads of a batch formed earlier: its other operations wait in state 'batched' beside the head, in the order they were written. */
export async function batchedPayloads(db: Db, headIds: string[]): Promise<{ batch_id: string | null; payload: string }[]> {
  return db
    .selectFrom('outbox')
    .select(['batch_id', 'payload'])
    .where('batch_id', 'in', headIds)
    .where('state', '=', 'batched')
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** One attempt as decided by the dispatcher: the attempt log row, and what becomes of its notification. */
export interface AttemptRecord {
  id: string;
  attempt: number;
  attempted_at: string;
  http_status: number | null;
  error: string | null;
  latency_ms: number;
  response_body: string | null;
  outcome: 'delivered' | 'retry' | 'dead';
  reason: string | null;
  next_at: string | null;
  new_offset: number | null;
}

/**
 * Records a batch of attempts in ONE statement (one round trip, one commit): the attempt log rows and
 * each notification's outcome. A failure never overwrites a delivery another worker recorded meanwhile
 * (`o.state = 'pending'`), nor the lease of a newer claim of the same row (`o.attempts = res.attempt`).
 * A lost record only means a repeat under the same webhook-id, so callers may pass connections whose
 * commit does not wait for the disk (see OpenedStore.relaxed).
 */
export async function recordAttempts(db: Db, rows: AttemptRecord[]): Promise<void> {
  await sql`
      with res as (
        select * from json_to_recordset(${JSON.stringify(rows)}::json) as r(
          id text, attempt int, attempted_at timestamptz, http_status int, error text, latency_ms int, response_body text,
          outcome text, reason text, next_at timestamptz, new_offset int)
      ), logged as (
        insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, error, latency_ms, response_body)
        select id, attempt, attempted_at, http_status, error, latency_ms, response_body from res
        on conflict do nothing
      )
      update outbox o set
        state = case res.outcome when 'delivered' then 'delivered' when 'dead' then 'dead' else o.state end,
        delivered_at = case when res.outcome = 'delivered' then now() else o.delivered_at end,
        last_error = res.reason,
        next_attempt_at = coalesce(res.next_at, o.next_attempt_at),
        schedule_offset = coalesce(res.new_offset, o.schedule_offset)
      from res
      where o.id = res.id and (res.outcome = 'delivered' or (o.state = 'pending' and o.attempts = res.attempt))`.execute(db);
}

export interface OutboxBacklogRow {
  issuer_id: string;
  state: string;
  n: number;
  oldest_s: number;
}

/**
 * Outbox depth and age per issuer and state (pending, dead), for /metrics: one grouped query on the
 * pending index, so every instance reports the shared outbox, not only what it sent itself.
 */
export async function outboxBacklog(db: Db): Promise<OutboxBacklogRow[]> {
  const res = await sql<OutboxBacklogRow>`
    select issuer_id, state, count(*)::int as n, coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as oldest_s
    from outbox where state in ('pending', 'dead') group by issuer_id, state`.execute(db);
  return res.rows;
}
