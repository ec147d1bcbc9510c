import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationHandler, PostgresNotificationStore } from '../src/index.ts';
import { op, signed, webhookSecret } from './helpers.ts';

// The application's writes in the store's transaction (meta.client), and migrate() for a role that may not create schemas.
const url = process.env.TRACKHUB_TEST_DATABASE_URL as string;
const tag = `${process.pid}_${Date.now()}`;
const schema = `sdk_client_${tag}`;
const role = `sdk_lp_${tag}`;
const secret = webhookSecret('pg-client');
const admin = new pg.Pool({ connectionString: url, max: 2 });

beforeAll(async () => {
  await new PostgresNotificationStore({ pool: admin, schema }).migrate();
  await admin.query(`CREATE TABLE "${schema}".app_cards (operation_id text PRIMARY KEY, seq int NOT NULL)`);
});
afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}_lp" CASCADE`);
  await admin.query(`DROP ROLE IF EXISTS "${role}"`);
  await admin.end();
});

const note = (operationId: string, seq: number, id: string) => signed({ operations: [op(operationId, seq)] }, { secrets: [secret], id });

describe('PostgresNotificationStore: onUpdate in the store\'s transaction', () => {
  it('hands onUpdate the transaction\'s client: with a pool of 2 and two notifications at once, no deadlock, each write once', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      let inside = 0;
      let bothInside: () => void = () => {};
      const together = new Promise<void>((r) => {
        bothInside = r;
      });
      const h = new NotificationHandler({
        secrets: [secret],
        store: new PostgresNotificationStore({ pool, schema }),
        onUpdate: async (o, meta) => {
          expect(meta.client).toBeDefined();
          // Both notifications hold both pool connections here: a pool.query() would wait for ever.
          if (++inside === 2) bothInside();
          await together;
          await meta.client?.query(`INSERT INTO "${schema}".app_cards VALUES ($1, $2) ON CONFLICT (operation_id) DO UPDATE SET seq = EXCLUDED.seq`, [o.operationId, o.sequenceNumber]);
        },
      });
      const a = note(`a-${tag}`, 1, `m-a-${tag}`);
      const b = note(`b-${tag}`, 1, `m-b-${tag}`);
      const results = await Promise.race([
        Promise.all([h.handle(a.body, a.headers), h.handle(b.body, b.headers)]),
        new Promise((_r, reject) => setTimeout(() => reject(new Error('deadlocked')), 10_000)),
      ]);
      expect((results as { outcome: string }[]).map((r) => r.outcome)).toEqual(['applied', 'applied']);
      const { rows } = await admin.query(`SELECT operation_id FROM "${schema}".app_cards WHERE operation_id = ANY($1) ORDER BY 1`, [[`a-${tag}`, `b-${tag}`]]);
      expect(rows).toHaveLength(2);
    } finally {
      await pool.end();
    }
  });

  it('a write through meta.client rolls back with the notification when onUpdate throws after it: exactly once to the application', async () => {
    let fail = true;
    const h = new NotificationHandler({
      secrets: [secret],
      store: new PostgresNotificationStore({ pool: admin, schema }),
      onUpdate: async (o, meta) => {
        await meta.client?.query(`INSERT INTO "${schema}".app_cards VALUES ($1, $2)`, [o.operationId, o.sequenceNumber]);
        if (fail) throw new Error('app failed after its write');
      },
    });
    const m = note(`c-${tag}`, 1, `m-c-${tag}`);
    await expect(h.handle(m.body, m.headers)).rejects.toThrow(/after its write/);
    expect((await admin.query(`SELECT 1 FROM "${schema}".app_cards WHERE operation_id = $1`, [`c-${tag}`])).rows).toHaveLength(0);
    fail = false;
    // The hub sends it again: applied now, once (a second insert of the key would fail).
    expect((await h.handle(m.body, m.headers)).outcome).toBe('applied');
    expect((await h.handle(m.body, m.headers)).outcome).toBe('duplicate');
    expect((await admin.query(`SELECT 1 FROM "${schema}".app_cards WHERE operation_id = $1`, [`c-${tag}`])).rows).toHaveLength(1);
  });

  it('an SQL error onUpdate catches leaves the notification refused, saying the transaction was aborted in onUpdate; a savepoint lets it go on', async () => {
    let savepoint = false;
    const h = new NotificationHandler({
      secrets: [secret],
      store: new PostgresNotificationStore({ pool: admin, schema }),
      onUpdate: async (o, meta) => {
        const c = meta.client as pg.PoolClient;
        if (savepoint) await c.query('SAVEPOINT app');
        try {
          await c.query('SELECT * FROM no_such_table_at_all');
        } catch {
          if (savepoint) await c.query('ROLLBACK TO SAVEPOINT app');
        }
        await c.query(`INSERT INTO "${schema}".app_cards VALUES ($1, $2)`, [o.operationId, o.sequenceNumber]).catch(() => undefined);
      },
    });
    const m = note(`abort-${tag}`, 1, `m-abort-${tag}`);
    const err = await h.handle(m.body, m.headers).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/the transaction was aborted by an earlier SQL error in onUpdate .*its own SAVEPOINT/);
    expect(err.cause?.code).toBe('25P02');
    expect((await admin.query(`SELECT 1 FROM "${schema}".trackhub_issuer_seen_notifications WHERE webhook_id = $1`, [`m-abort-${tag}`])).rows).toHaveLength(0);
    savepoint = true;
    expect((await h.handle(m.body, m.headers)).outcome).toBe('applied');
    expect((await admin.query(`SELECT seq FROM "${schema}".app_cards WHERE operation_id = $1`, [`abort-${tag}`])).rows).toEqual([{ seq: 1 }]);
  });

  it('an aborted transaction is refused even when the store has no statement left before COMMIT (COMMIT answers ROLLBACK)', async () => {
    const h = new NotificationHandler({
      secrets: [secret],
      store: new PostgresNotificationStore({ pool: admin, schema }),
      onUpdate: async () => {},
      // A stale update: no sequence to write, so COMMIT comes straight after the application's statement.
      onStale: async (_o, meta) => {
        await (meta.client as pg.PoolClient).query('SELECT * FROM no_such_table_at_all').catch(() => undefined);
      },
    });
    const first = note(`s-${tag}`, 2, `m-s1-${tag}`);
    await h.handle(first.body, first.headers);
    const older = note(`s-${tag}`, 1, `m-s2-${tag}`);
    await expect(h.handle(older.body, older.headers)).rejects.toThrow(/the transaction was aborted by an earlier SQL error in onUpdate/);
    expect((await admin.query(`SELECT 1 FROM "${schema}".trackhub_issuer_seen_notifications WHERE webhook_id = $1`, [`m-s2-${tag}`])).rows).toHaveLength(0);
  });

  const seenRows = async (id: string) => (await admin.query(`SELECT 1 FROM "${schema}".trackhub_issuer_seen_notifications WHERE webhook_id = $1`, [id])).rows.length;
  const lastSequence = async (operationId: string) =>
    (await admin.query(`SELECT last_sequence FROM "${schema}".trackhub_issuer_operation_sequences WHERE operation_id = $1`, [operationId])).rows[0]?.last_sequence as string | undefined;

  it('a ROLLBACK onUpdate runs on meta.client is refused, not reported applied; nothing is recorded and the next send applies', async () => {
    let rollback = true;
    let calls = 0;
    const h = new NotificationHandler({
      secrets: [secret],
      store: new PostgresNotificationStore({ pool: admin, schema }),
      onUpdate: async (o, meta) => {
        calls++;
        if (rollback) await (meta.client as pg.PoolClient).query('ROLLBACK');
        else await meta.client?.query(`INSERT INTO "${schema}".app_cards VALUES ($1, $2)`, [o.operationId, o.sequenceNumber]);
      },
    });
    const m = note(`rb-${tag}`, 3, `m-rb-${tag}`);
    await expect(h.handle(m.body, m.headers)).rejects.toThrow(/onUpdate ended the store's transaction \(ROLLBACK\/COMMIT on meta\.client\): it was rolled back .*SAVEPOINT/);
    // The store's own statements did not run after the ROLLBACK, each in a transaction of its own.
    expect(await seenRows(`m-rb-${tag}`)).toBe(0);
    expect(await lastSequence(`rb-${tag}`)).toBeUndefined();
    rollback = false;
    expect((await h.handle(m.body, m.headers)).outcome).toBe('applied');
    expect((await h.handle(m.body, m.headers)).outcome).toBe('duplicate');
    expect(calls).toBe(2);
    expect(await lastSequence(`rb-${tag}`)).toBe('3');
  });

  for (const end of ['COMMIT', 'END']) {
    it(`a ${end} onUpdate runs on meta.client is refused, saying the store's record was committed early; the store writes nothing after it`, async () => {
      const h = new NotificationHandler({
        secrets: [secret],
        store: new PostgresNotificationStore({ pool: admin, schema }),
        onUpdate: async (o, meta) => {
          const c = meta.client as pg.PoolClient;
          await c.query(`INSERT INTO "${schema}".app_cards VALUES ($1, $2)`, [o.operationId, o.sequenceNumber]);
          await c.query(end);
        },
      });
      const opId = `${end}-${tag}`;
      const m = note(opId, 4, `m-${end}-${tag}`);
      await expect(h.handle(m.body, m.headers)).rejects.toThrow(/onUpdate ended the store's transaction \(ROLLBACK\/COMMIT on meta\.client\): it was committed early/);
      // Committed by the application's COMMIT: the webhook-id and its write; the sequence number never.
      expect(await seenRows(`m-${end}-${tag}`)).toBe(1);
      expect(await lastSequence(opId)).toBe('0');
      expect((await admin.query(`SELECT seq FROM "${schema}".app_cards WHERE operation_id = $1`, [opId])).rows).toEqual([{ seq: 4 }]);
      expect((await h.handle(m.body, m.headers)).outcome).toBe('duplicate');
    });
  }
});

describe('PostgresNotificationStore.migrate() for a least-privilege role', () => {
  it('works when the schema exists, without the database\'s CREATE privilege', async () => {
    const lp = `${schema}_lp`;
    await admin.query(`CREATE ROLE "${role}" LOGIN`);
    await admin.query(`CREATE SCHEMA "${lp}"`);
    await admin.query(`GRANT USAGE, CREATE ON SCHEMA "${lp}" TO "${role}"`);
    const u = new URL(url);
    u.username = role;
    const pool = new pg.Pool({ connectionString: u.toString(), max: 1 });
    try {
      const { rows } = await pool.query(`SELECT has_database_privilege(current_database(), 'CREATE') AS can`);
      expect(rows[0].can).toBe(false); // the premise: this role may not create schemas
      const store = new PostgresNotificationStore({ pool, schema: lp });
      await store.migrate();
      await store.migrate();
      const tables = await admin.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [lp]);
      expect(tables.rows.map((r) => r.table_name)).toEqual(['trackhub_issuer_operation_sequences', 'trackhub_issuer_seen_notifications']);
      // A schema it may not create is still refused, by PostgreSQL.
      await expect(new PostgresNotificationStore({ pool, schema: `${lp}_new` }).migrate()).rejects.toThrow(/permission denied/);
    } finally {
      await pool.end();
    }
  });
});
