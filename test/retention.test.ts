import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { Retention } from '../src/operations/retention.ts';
import { replayIssuerSince, replayNotification } from '../src/store/notifications.ts';
import { purgeFinishedBatch } from '../src/store/retention.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2030-06-01T00:00:00.000Z');
const log = createLogger('silent');

let store: TestStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** An operation finished (or last written, when open) `daysAgo` days before NOW; open ones wait for a wake-up. */
async function op(s: TestStore, id: string, o: { open?: boolean; daysAgo: number }): Promise<void> {
  const at = new Date(NOW - o.daysAgo * DAY).toISOString();
  await sql`
    insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, wake_at, created_at, updated_at)
    values (${id}, 'BANK', ${`card_${id}`}, 'PRODUCTION', 'h', ${o.open ? 'PENDING' : 'SUCCESSFUL'}, ${o.open ?? false},
      ${JSON.stringify({ operationId: id })}::jsonb, ${o.open ? at : null}::timestamptz, ${at}::timestamptz, ${at}::timestamptz)`.execute(s.db);
}

/** A notification of `opId` in `state`, with `attempts` attempts; `head`: the batch it was sent in. */
async function note(s: TestStore, id: string, opId: string, state: string, attempts: number, head?: string): Promise<void> {
  await sql`
    insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, batch_id)
    values (${id}, 'BANK', ${opId}, 1, 'c', '{}', ${state}, ${attempts}, ${head ?? null})`.execute(s.db);
  for (let a = 1; a <= attempts; a++) {
    await sql`insert into delivery_attempts (notification_id, attempt, attempted_at, latency_ms) values (${id}, ${a}, ${new Date(NOW - DAY).toISOString()}::timestamptz, 1)`.execute(s.db);
  }
  await sql`insert into notification_rollup_open (id, issuer_id, hour) values (${id}, 'BANK', now())`.execute(s.db);
}

const ids = async (s: TestStore, table: 'operations' | 'outbox' | 'operation_wakeups') =>
  (await sql<{ id: string }>`select ${sql.ref(table === 'outbox' ? 'id' : 'operation_id')} as id from ${sql.table(table)} order by 1`.execute(s.db)).rows.map((r) => r.id);

async function setup(kind: (typeof STORE_KINDS)[number]): Promise<TestStore> {
  store = await freshStore(kind);
  return store;
}

function retention(s: TestStore, o: { batchSize?: number } = {}): Retention {
  return new Retention({ db: s.db, log, retentionMs: 400 * DAY, now: () => NOW, pauseMs: 0, ...o });
}

describe.each(STORE_KINDS)('retention on %s', (kind) => {
  it('removes finished operations past retention with their notifications and attempts; keeps recent, open and undelivered ones', async () => {
    const s = await setup(kind);
    await op(s, 'op_old', { daysAgo: 401 });
    await note(s, 'n_old1', 'op_old', 'delivered', 2);
    await note(s, 'n_old2', 'op_old', 'batched', 0, 'n_old1'); // batched under a delivered head
    await op(s, 'op_recent', { daysAgo: 399 });
    await note(s, 'n_recent', 'op_recent', 'delivered', 1);
    await op(s, 'op_open', { open: true, daysAgo: 500 });
    await note(s, 'n_open', 'op_open', 'delivered', 1);
    await op(s, 'op_pending', { daysAgo: 450 });
    await note(s, 'n_pending', 'op_pending', 'pending', 3);
    await op(s, 'op_dead', { daysAgo: 450 });
    await note(s, 'n_dead', 'op_dead', 'dead', 9);
    await op(s, 'op_batched', { daysAgo: 450 });
    await note(s, 'n_batched', 'op_batched', 'batched', 0, 'n_pending'); // its head is not delivered yet

    const run = await retention(s).runOnce();
    expect(run).toMatchObject({ operations: 1, notifications: 2, attempts: 2 });
    expect(await ids(s, 'operations')).toEqual(['op_batched', 'op_dead', 'op_open', 'op_pending', 'op_recent']);
    expect(await ids(s, 'outbox')).toEqual(['n_batched', 'n_dead', 'n_open', 'n_pending', 'n_recent']);
    const attempts = (await sql<{ id: string }>`select distinct notification_id as id from delivery_attempts order by 1`.execute(s.db)).rows.map((r) => r.id);
    expect(attempts).toEqual(['n_dead', 'n_open', 'n_pending', 'n_recent']);
    const rollupIds = (await sql<{ id: string }>`select id from notification_rollup_open order by 1`.execute(s.db)).rows.map((r) => r.id);
    expect(rollupIds).toEqual(['n_batched', 'n_dead', 'n_open', 'n_pending', 'n_recent']);
    // The open operation's wake-up (migration 0020) is untouched.
    expect(await ids(s, 'operation_wakeups')).toEqual(['op_open']);
    // A second run finds nothing more.
    expect(await retention(s).runOnce()).toMatchObject({ operations: 0, notifications: 0, attempts: 0 });
  });

  it('purges in batches of the size asked, oldest first, and skips what it kept without reading it again', async () => {
    const s = await setup(kind);
    for (let i = 0; i < 25; i++) await op(s, `op_${String(i).padStart(2, '0')}`, { daysAgo: 500 - i });
    await op(s, 'op_keep', { daysAgo: 499.5 });
    await note(s, 'n_keep', 'op_keep', 'dead', 1);
    const cutoff = new Date(NOW - 400 * DAY);
    const first = await purgeFinishedBatch(s.db, cutoff, 10, null);
    expect(first).toMatchObject({ operations: 9, examined: 10 });
    // The oldest ten looked at: op_00 … op_08 gone, op_keep kept, op_09 … still there.
    expect(await ids(s, 'operations')).toContain('op_09');
    expect(await ids(s, 'operations')).not.toContain('op_08');
    const second = await purgeFinishedBatch(s.db, cutoff, 10, first?.reached ?? null);
    expect(second).toMatchObject({ operations: 10, examined: 10 });
    const run = await retention(s, { batchSize: 10 }).runOnce();
    expect(run?.operations).toBe(6);
    expect(await ids(s, 'operations')).toEqual(['op_keep']);
  });

  it('operations finished at one instant are all reached, whatever the batch size (the cursor orders by time, then id)', async () => {
    const s = await setup(kind);
    // One transaction closes many operations at one now(): the first two (by id) are kept (a dead notification each).
    for (const id of ['op_a', 'op_b', 'op_c', 'op_d', 'op_e']) await op(s, id, { daysAgo: 450 });
    await note(s, 'n_a', 'op_a', 'dead', 1);
    await note(s, 'n_b', 'op_b', 'dead', 1);
    const run = await retention(s, { batchSize: 2 }).runOnce();
    expect(run?.operations).toBe(3);
    expect(await ids(s, 'operations')).toEqual(['op_a', 'op_b']);
  });

  it('keeps a delivered batch head while a notification it carried belongs to an operation still kept', async () => {
    const s = await setup(kind);
    await op(s, 'op_old', { daysAgo: 401 });
    await op(s, 'op_recent', { daysAgo: 10 });
    await note(s, 'n_head', 'op_old', 'delivered', 1);
    await note(s, 'n_mem', 'op_recent', 'batched', 0, 'n_head');
    await retention(s).runOnce();
    expect(await ids(s, 'outbox')).toEqual(['n_head', 'n_mem']);
    expect(await ids(s, 'operations')).toEqual(['op_old', 'op_recent']);
    // Once the member's operation is past retention too, both go (here in one run: the member's is older).
    await sql`update operations set updated_at = updated_at - interval '400 days' where operation_id = 'op_recent'`.execute(s.db);
    expect(await retention(s).runOnce()).toMatchObject({ operations: 2, notifications: 2 });
    expect(await ids(s, 'outbox')).toEqual([]);
    expect(await ids(s, 'operations')).toEqual([]);
  });

  it('two operations whose batches carry each other\'s updates both go once past retention', async () => {
    const s = await setup(kind);
    await op(s, 'op_1', { daysAgo: 450 });
    await op(s, 'op_2', { daysAgo: 449 });
    // op_1's head carried op_2's first update; op_2's head carried op_1's second (two claims, two batches).
    await note(s, 'n1_a', 'op_1', 'delivered', 1, 'n1_a');
    await note(s, 'n2_a', 'op_2', 'batched', 0, 'n1_a');
    await note(s, 'n2_b', 'op_2', 'delivered', 1, 'n2_b');
    await note(s, 'n1_b', 'op_1', 'batched', 0, 'n2_b');
    expect(await retention(s).runOnce()).toMatchObject({ operations: 2, notifications: 4 });
    expect(await ids(s, 'outbox')).toEqual([]);
    expect(await ids(s, 'operations')).toEqual([]);
  });

  it('a replay racing a purge keeps the notification, the one it carried and its operation; a later run removes them once delivered', async () => {
    const s = await setup(kind);
    await op(s, 'op_race', { daysAgo: 401 });
    // A head and the notification it carried, both of this operation.
    await note(s, 'n_race', 'op_race', 'delivered', 1, 'n_race');
    await note(s, 'n_race_m', 'op_race', 'batched', 0, 'n_race');
    // The replay takes the head's row and holds it, uncommitted, while the purge runs.
    let commitReplay!: () => void;
    const held = new Promise<void>((resolve) => {
      commitReplay = resolve;
    });
    let replayed!: Promise<boolean>;
    await new Promise<void>((inside) => {
      replayed = s.db.transaction().execute(async (tx) => {
        const ok = await replayNotification(tx, 'n_race');
        inside();
        await held;
        return ok;
      });
    });
    // The purge reads the head as delivered in its snapshot, finds its row held, and neither waits for it
    // (a replay waiting on the purge's rows would deadlock) nor deletes anything of the operation.
    expect(await retention(s).runOnce()).toMatchObject({ operations: 0, notifications: 0 });
    commitReplay();
    expect(await replayed).toBe(true);
    // The head is resent with the notification it carried, under its webhook-id.
    expect(await ids(s, 'outbox')).toEqual(['n_race', 'n_race_m']);
    expect(await ids(s, 'operations')).toEqual(['op_race']);
    // Delivered again, the next run finds them and removes them together.
    await sql`update outbox set state = 'delivered' where id = 'n_race'`.execute(s.db);
    expect(await retention(s).runOnce()).toMatchObject({ operations: 1, notifications: 2 });
    expect(await ids(s, 'outbox')).toEqual([]);
    expect(await ids(s, 'operations')).toEqual([]);
  });

  it('replays of delivered notifications running through a purge never deadlock it, and nothing is left half-purged', async () => {
    const s = await setup(kind);
    const t = new Date(NOW - 500 * DAY).toISOString();
    await sql`
      insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, created_at, updated_at)
      select 'op_' || g, 'BANK', 'card_' || g, 'PRODUCTION', 'h', 'SUCCESSFUL', false, '{}', ${t}::timestamptz, ${t}::timestamptz + make_interval(secs => g)
      from generate_series(1, 400) g`.execute(s.db);
    await sql`
      insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, created_at)
      select 'n_' || g || '_' || k, 'BANK', 'op_' || g, k, 'c', '{}', 'delivered', ${t}::timestamptz
      from generate_series(1, 400) g, generate_series(1, 3) k`.execute(s.db);
    // An operator replaying every delivered notification again and again (each replay, as the Admin API's,
    // updates many rows in one statement) while the retention job works through them.
    let purging = true;
    const replays = (async () => {
      let n = 0;
      while (purging) {
        await replayIssuerSince(s.db, 'BANK', new Date(NOW - 600 * DAY), true);
        await sql`update outbox set state = 'delivered' where state = 'pending'`.execute(s.db);
        n++;
      }
      return n;
    })();
    const job = retention(s, { batchSize: 20 });
    let purged = 0;
    for (let round = 0; round < 200 && purged < 400; round++) purged += (await job.runOnce())?.operations ?? 0;
    purging = false;
    expect(await replays).toBeGreaterThan(0);
    // Whatever the interleaving: no notification without its operation, no operation with only some of them.
    const orphans = await sql<{ n: number }>`select count(*)::int as n from outbox o where not exists (select 1 from operations p where p.operation_id = o.operation_id)`.execute(s.db);
    expect(orphans.rows[0].n).toBe(0);
    const partial = await sql<{ n: number }>`select count(*)::int as n from (select operation_id from outbox group by operation_id having count(*) <> 3) x`.execute(s.db);
    expect(partial.rows[0].n).toBe(0);
    // And the job got through them all once the replays stopped.
    purged += (await job.runOnce())?.operations ?? 0;
    expect(purged).toBe(400);
  });

  it("keeps a notification carried under another operation's head while that operation is within retention", async () => {
    const s = await setup(kind);
    await op(s, 'op_old', { daysAgo: 401 });
    await op(s, 'op_recent', { daysAgo: 10 });
    await note(s, 'n_head', 'op_recent', 'delivered', 1, 'n_head');
    await note(s, 'n_mem', 'op_old', 'batched', 0, 'n_head');
    await retention(s).runOnce();
    // A replay of n_head resends the same webhook-id: it must carry the same updates.
    expect(await ids(s, 'outbox')).toEqual(['n_head', 'n_mem']);
    expect(await ids(s, 'operations')).toEqual(['op_old', 'op_recent']);
    // Once the head's operation is past retention too, both go (the member first, then the head).
    await sql`update operations set updated_at = updated_at - interval '392 days' where operation_id = 'op_recent'`.execute(s.db);
    await retention(s).runOnce();
    await retention(s).runOnce();
    expect(await ids(s, 'outbox')).toEqual([]);
    expect(await ids(s, 'operations')).toEqual([]);
  });

  it('two instances purging at once share the work: every row removed once, neither fails', async () => {
    const s = await setup(kind);
    await sql`
      insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, created_at, updated_at)
      select 'op_' || g, 'BANK', 'card_' || g, 'PRODUCTION', 'h', 'SUCCESSFUL', false, '{}', t, t
      from generate_series(1, 300) g, lateral (select ${new Date(NOW - 401 * DAY).toISOString()}::timestamptz + make_interval(secs => g) as t) x`.execute(s.db);
    await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state) select 'n_' || g, 'BANK', 'op_' || g, 1, 'c', '{}', 'delivered' from generate_series(1, 300) g`.execute(s.db);
    const a = retention(s, { batchSize: 5 });
    const b = retention(s, { batchSize: 5 });
    const runs = await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
    const total = runs.reduce((n, r) => n + (r?.operations ?? 0), 0);
    expect(total).toBe(300);
    expect(runs.reduce((n, r) => n + (r?.notifications ?? 0), 0)).toBe(300);
    expect(await ids(s, 'operations')).toEqual([]);
    expect(await ids(s, 'outbox')).toEqual([]);
  });

  it('prunes the attempt logs of delivered notifications after 30 days, by the hub clock; undelivered ones keep theirs', async () => {
    const s = await setup(kind);
    await op(s, 'op_live', { open: true, daysAgo: 1 });
    await note(s, 'n_delivered', 'op_live', 'delivered', 0);
    await note(s, 'n_dead', 'op_live', 'dead', 0);
    const justOlder = new Date(NOW - 30 * DAY - 1).toISOString();
    const atTheCutoff = new Date(NOW - 30 * DAY).toISOString();
    await sql`insert into delivery_attempts (notification_id, attempt, attempted_at, latency_ms) values
      ('n_delivered', 1, ${justOlder}::timestamptz, 1), ('n_delivered', 2, ${atTheCutoff}::timestamptz, 1), ('n_dead', 1, ${justOlder}::timestamptz, 1)`.execute(s.db);
    expect(await retention(s).runOnce()).toMatchObject({ operations: 0, attempts: 1 });
    const left = (await sql<{ n: string; a: number }>`select notification_id as n, attempt as a from delivery_attempts order by 1, 2`.execute(s.db)).rows;
    expect(left).toEqual([
      { n: 'n_dead', a: 1 },
      { n: 'n_delivered', a: 2 },
    ]);
  });
});

describe('TRACKHUB_RETENTION', () => {
  it('is 400 days unless set, and takes a duration', () => {
    expect(loadConfig({}).retentionMs).toBe(400 * DAY);
    expect(loadConfig({ TRACKHUB_RETENTION: '90d' }).retentionMs).toBe(90 * DAY);
  });

  it.each([
    ['400', /TRACKHUB_RETENTION: "400" is not a duration/],
    ['forever', /TRACKHUB_RETENTION: "forever" is not a duration/],
    ['12h', /TRACKHUB_RETENTION: "12h" is shorter than a day/],
    ['0d', /TRACKHUB_RETENTION: "0d" must be longer than zero/],
    // A huge value passed start-up, then every run failed on an Invalid Date cutoff.
    ['200000000d', /TRACKHUB_RETENTION: "200000000d" is longer than 36500d/],
  ])('refuses %s with a message naming it', (value, message) => {
    expect(() => loadConfig({ TRACKHUB_RETENTION: value })).toThrow(ConfigError);
    expect(() => loadConfig({ TRACKHUB_RETENTION: value })).toThrow(message);
  });
});
