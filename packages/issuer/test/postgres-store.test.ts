import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationHandler, type Operation, PostgresNotificationStore } from '../src/index.ts';
import { op, signed, webhookSecret } from './helpers.ts';

// The PostgreSQL the test run provides (test/global-setup.ts sets it when unset), in a schema of this file's own.
const url = process.env.TRACKHUB_TEST_DATABASE_URL as string;
const schema = `sdk_store_${process.pid}_${Date.now()}`;
const secret = webhookSecret('pg');
/** Two pools: two receivers behind a load balancer, each with its own connections. */
const poolA = new pg.Pool({ connectionString: url, max: 4 });
const poolB = new pg.Pool({ connectionString: url, max: 4 });

beforeAll(async () => {
  await new PostgresNotificationStore({ pool: poolA, schema }).migrate();
});
afterAll(async () => {
  await poolA.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await poolA.end();
  await poolB.end();
});

function receiver(pool: pg.Pool, onUpdate: (o: Operation) => Promise<void> | void, onStale?: (o: Operation) => void) {
  return new NotificationHandler({ secrets: [secret], store: new PostgresNotificationStore({ pool, schema }), onUpdate, onStale });
}
const note = (ops: ReturnType<typeof op>[], id: string) => signed({ operations: ops }, { secrets: [secret], id });
let n = 0;
/** Ids of this test alone, so the tests sharing the schema do not meet. */
const uid = (s: string) => `${s}-${++n}`;

describe('PostgresNotificationStore', () => {
  it('migrate() creates the tables in its schema and can run again, from several processes at once', async () => {
    await Promise.all([new PostgresNotificationStore({ pool: poolA, schema }).migrate(), new PostgresNotificationStore({ pool: poolB, schema }).migrate()]);
    const { rows } = await poolA.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema]);
    expect(rows.map((r) => r.table_name)).toEqual(['trackhub_issuer_operation_sequences', 'trackhub_issuer_seen_notifications']);
  });

  it('refuses a schema name that is not a plain identifier', () => {
    expect(() => new PostgresNotificationStore({ pool: poolA, schema: 'x"; drop table y; --' })).toThrow(TypeError);
  });

  it('de-duplicates by webhook-id and drops stale updates, across restarts (a new store on the same tables)', async () => {
    const applied: number[] = [];
    const stale: number[] = [];
    const id = uid('op');
    const mk = () => receiver(poolA, (o) => void applied.push(o.sequenceNumber), (o) => void stale.push(o.sequenceNumber));
    for (const seq of [1, 3, 2]) {
      const m = note([op(id, seq)], `${id}-msg-${seq}`);
      await mk().handle(m.body, m.headers);
    }
    const again = note([op(id, 3)], `${id}-msg-3`);
    expect(await mk().handle(again.body, again.headers)).toEqual({ outcome: 'duplicate', applied: 0, stale: 0 });
    expect(applied).toEqual([1, 3]);
    expect(stale).toEqual([2]);
  });

  it('when onUpdate throws, nothing is recorded (neither the webhook-id nor the sequence): the retry applies it', async () => {
    const id = uid('op');
    let down = true;
    const applied: number[] = [];
    const h = receiver(poolA, (o) => {
      if (down) throw new Error('application down');
      applied.push(o.sequenceNumber);
    });
    const m = note([op(id, 1)], `${id}-msg`);
    await expect(h.handle(m.body, m.headers)).rejects.toThrow('application down');
    const seen = await poolA.query(`SELECT count(*)::int AS c FROM "${schema}".trackhub_issuer_seen_notifications WHERE webhook_id = $1`, [`${id}-msg`]);
    expect(seen.rows[0].c).toBe(0);
    down = false;
    expect(await h.handle(m.body, m.headers)).toEqual({ outcome: 'applied', applied: 1, stale: 0 });
    expect(applied).toEqual([1]);
  });

  it('two receivers given the same notification at once apply it once; if the first fails, the second takes it', async () => {
    const id = uid('op');
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const calls: string[] = [];
    let entered = () => {};
    const aInside = new Promise<void>((r) => {
      entered = r;
    });
    const a = receiver(poolA, async () => {
      calls.push('a');
      entered();
      await gate;
    });
    const b = receiver(poolB, () => void calls.push('b'));
    const m = note([op(id, 1)], `${id}-msg`);
    const first = a.handle(m.body, m.headers);
    await aInside; // a holds the notification, inside its transaction
    const second = b.handle(m.body, m.headers);
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toEqual(['a']); // b waits on a's row rather than applying
    release();
    expect([(await first).outcome, (await second).outcome]).toEqual(['applied', 'duplicate']);
    expect(calls).toEqual(['a']);

    // The first receiver fails: the second, waiting meanwhile, applies the notification itself.
    const id2 = uid('op');
    let fail = () => {};
    const failing = new Promise<void>((_r, reject) => {
      fail = () => reject(new Error('a crashed'));
    });
    const calls2: string[] = [];
    let entered2 = () => {};
    const a2Inside = new Promise<void>((r) => {
      entered2 = r;
    });
    const a2 = receiver(poolA, async () => {
      calls2.push('a');
      entered2();
      await failing;
    });
    const b2 = receiver(poolB, () => void calls2.push('b'));
    const m2 = note([op(id2, 1)], `${id2}-msg`);
    const f2 = a2.handle(m2.body, m2.headers);
    await a2Inside;
    const s2 = b2.handle(m2.body, m2.headers);
    await new Promise((r) => setTimeout(r, 100));
    fail();
    await expect(f2).rejects.toThrow('a crashed');
    expect(await s2).toEqual({ outcome: 'applied', applied: 1, stale: 0 });
    expect(calls2).toEqual(['a', 'b']);
  });

  it('updates of one operation on two receivers apply one at a time, and the last number wins', async () => {
    const id = uid('op');
    const applied: number[] = [];
    const stale: number[] = [];
    let inside = 0;
    let overlap = false;
    const slow = (who: string) =>
      receiver(
        who === 'a' ? poolA : poolB,
        async (o) => {
          inside++;
          if (inside > 1) overlap = true;
          await new Promise((r) => setTimeout(r, 30));
          applied.push(o.sequenceNumber);
          inside--;
        },
        (o) => void stale.push(o.sequenceNumber),
      );
    const ms = [1, 2, 3, 4, 5, 6].map((s) => note([op(id, s)], `${id}-msg-${s}`));
    await Promise.all(ms.map((m, i) => slow(i % 2 ? 'a' : 'b').handle(m.body, m.headers)));
    expect(overlap).toBe(false);
    expect(applied.length + stale.length).toBe(6);
    // Whatever order they arrived in, what was applied rose strictly, and the newest was applied.
    expect([...applied].sort((x, y) => x - y)).toEqual(applied);
    expect(applied.at(-1)).toBe(6);
    const { rows } = await poolA.query(`SELECT last_sequence FROM "${schema}".trackhub_issuer_operation_sequences WHERE operation_id = $1`, [id]);
    expect(Number(rows[0].last_sequence)).toBe(6);
  });

  it('two notifications sharing operations in opposite orders do not deadlock', async () => {
    const x = uid('op');
    const y = uid('op');
    const h1 = receiver(poolA, () => new Promise((r) => setTimeout(r, 20)));
    const h2 = receiver(poolB, () => new Promise((r) => setTimeout(r, 20)));
    const m1 = note([op(x, 1), op(y, 1)], `${x}-m1`);
    const m2 = note([op(y, 2), op(x, 2)], `${x}-m2`);
    const results = await Promise.all([h1.handle(m1.body, m1.headers), h2.handle(m2.body, m2.headers)]);
    expect(results.map((r) => r.outcome)).toEqual(['applied', 'applied']);
  });

  it('prune() removes rows older than asked, not newer', async () => {
    const store = new PostgresNotificationStore({ pool: poolA, schema });
    const id = uid('op');
    const h = new NotificationHandler({ secrets: [secret], store, onUpdate: () => {} });
    const m = note([op(id, 1)], `${id}-old`);
    await h.handle(m.body, m.headers);
    await poolA.query(`UPDATE "${schema}".trackhub_issuer_seen_notifications SET seen_at = now() - interval '40 days' WHERE webhook_id = $1`, [`${id}-old`]);
    await poolA.query(`UPDATE "${schema}".trackhub_issuer_operation_sequences SET updated_at = now() - interval '40 days' WHERE operation_id = $1`, [id]);
    const pruned = await store.prune();
    expect(pruned.webhookIds).toBeGreaterThanOrEqual(1);
    expect(pruned.operations).toBeGreaterThanOrEqual(1);
    expect((await h.handle(m.body, m.headers)).outcome).toBe('applied'); // forgotten, so taken again
    expect(await store.prune(3600)).toEqual({ webhookIds: 0, operations: 0 });
  });
});
