import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/delivery/dispatcher.ts';
import { newWebhookSecret } from '../src/delivery/signing.ts';
import { createLogger } from '../src/logger.ts';
import { migrate, openStore } from '../src/store/db.ts';
import { upsertIssuer } from '../src/store/issuers.ts';
import { replayNotification } from '../src/store/notifications.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { receiver, waitFor } from './helpers/processes.ts';
import { freshDatabase, freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

const log = createLogger('silent');

describe.each(STORE_KINDS)('store on %s', (kind) => {
  let store: TestStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it('runs migrations once when run again', async () => {
    store = await freshStore(kind);
    expect(await migrate(store.db)).toEqual([]);
  });

  async function seedOutbox(s: TestStore, n: number, url: string, secret: string) {
    await upsertIssuer(s.db, {
      issuerId: 'ISSUER_S01', name: 'x', notificationBaseUrl: url, jwks: { keys: [] }, webhookSecrets: [secret],
      notificationAuth: null, maxOperationsPerNotification: 1, autoTrackShipment: false, enabled: true,
    });
    await insertOutbox(s.db, Array.from({ length: n }, (_, i) => ({
      id: `msg_${String(i).padStart(4, '0')}`, issuer_id: 'ISSUER_S01', operation_id: `op_${i}`, sequence_number: 1, correlation_id: `c${i}`,
      payload: JSON.stringify({ operationId: `op_${i}`, sequenceNumber: 1 }),
    })));
  }

  it('two dispatchers sharing the outbox deliver every notification once, signed', async () => {
    store = await freshStore(kind);
    const rx = await receiver();
    const secret = newWebhookSecret();
    await seedOutbox(store, 60, rx.url, secret);
    const opts = { db: store.db, log, retryScheduleMs: [100], leaseMs: 5000, batchSize: 7, allowPrivateTargets: true };
    const a = new Dispatcher(opts);
    const b = new Dispatcher(opts);
    while ((await Promise.all([a.runOnce(), b.runOnce()])).some((n) => n > 0));
    await a.stop();
    await b.stop();
    const ids = rx.received.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(60);
    expect(new Set(ids).size).toBe(60);
    const wh = new Webhook(secret);
    for (const r of rx.received) expect(wh.verify(r.body, r.headers as Record<string, string>)).toMatchObject({ operations: [expect.any(Object)] });
    const states = await store.db.selectFrom('outbox').select('state').distinct().execute();
    expect(states.map((s) => s.state)).toEqual(['delivered']);
    await rx.close();
  });

  it('retries on failure, then marks the notification dead after the last attempt and keeps it', async () => {
    store = await freshStore(kind);
    let answer = 500;
    const rx = await receiver(() => answer);
    await seedOutbox(store, 1, rx.url, newWebhookSecret());
    const d = new Dispatcher({ db: store.db, log, retryScheduleMs: [10, 10], leaseMs: 5000, allowPrivateTargets: true });
    for (let i = 0; i < 20; i++) {
      await d.runOnce();
      const row = await store.db.selectFrom('outbox').selectAll().executeTakeFirstOrThrow();
      if (row.state === 'dead') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const row = await store.db.selectFrom('outbox').selectAll().executeTakeFirstOrThrow();
    expect(row.state).toBe('dead');
    expect(row.attempts).toBe(3); // first attempt + two retries
    expect(row.last_error).toBe('HTTP 500');
    const attempts = await store.db.selectFrom('delivery_attempts').selectAll().orderBy('attempt').execute();
    expect(attempts.map((a) => a.http_status)).toEqual([500, 500, 500]);
    expect(await d.runOnce()).toBe(0); // dead stays dead

    // The issuer is fixed; a replay sends it again under the same webhook-id, and the log numbers on.
    answer = 204;
    expect(await replayNotification(store.db, row.id)).toBe(true);
    expect(await d.runOnce()).toBe(1);
    await d.stop();
    expect(rx.received.map((r) => r.headers['webhook-id'])).toEqual([row.id]);
    const after = await store.db.selectFrom('outbox').selectAll().executeTakeFirstOrThrow();
    expect(after).toMatchObject({ state: 'delivered', attempts: 4 });
    const log2 = await store.db.selectFrom('delivery_attempts').selectAll().orderBy('attempt').execute();
    expect(log2.map((a) => [a.attempt, a.http_status])).toEqual([[1, 500], [2, 500], [3, 500], [4, 204]]);
    await rx.close();
  });

  it('a claimed row whose worker died is sent again after the lease, with the same webhook-id', async () => {
    store = await freshStore(kind);
    const rx = await receiver();
    await seedOutbox(store, 1, rx.url, newWebhookSecret());
    // A worker claims the row and dies: only its lease remains, an hour long (by the store's clock).
    await sql`update outbox set next_attempt_at = now() + interval '1 hour', attempts = 1`.execute(store.db);
    const d = new Dispatcher({ db: store.db, log, retryScheduleMs: [10], leaseMs: 5000, allowPrivateTargets: true });
    expect(await d.runOnce()).toBe(0); // leased: not due
    expect(rx.received).toEqual([]);
    // The hour passes: time moved in the store rather than waited for.
    await sql`update outbox set next_attempt_at = next_attempt_at - interval '1 hour' - interval '1 second'`.execute(store.db);
    expect(await d.runOnce()).toBe(1);
    await d.stop();
    expect(rx.received.map((r) => r.headers['webhook-id'])).toEqual(['msg_0000']);
    // The dead worker's claim counts as an attempt: this one is the second.
    expect(await store.db.selectFrom('outbox').select(['state', 'attempts']).executeTakeFirstOrThrow()).toEqual({ state: 'delivered', attempts: 2 });
    expect((await store.db.selectFrom('delivery_attempts').select(['attempt', 'http_status']).execute())).toEqual([{ attempt: 2, http_status: 204 }]);
    await rx.close();
  });
});

// Several hub instances share one store (the embedded server serves several processes too).
describe.each(STORE_KINDS)('migrations on %s', (kind) => {
  it('two instances migrating at the same moment both succeed and apply each migration once', async () => {
    const db = await freshDatabase(kind);
    const [a, b] = await Promise.all([openStore(db.url), openStore(db.url)]);
    const applied = await Promise.all([migrate(a.db), migrate(b.db)]);
    expect(applied.flat().filter((m) => m === '0001_init.sql')).toHaveLength(1);
    await a.close();
    await b.close();
    await db.drop();
  });
});

describe.each(STORE_KINDS)('connection loss on %s', (kind) => {
  it('a connection killed between two statements of a transaction fails that transaction, not the process', async () => {
    const db = await freshDatabase(kind);
    const s = await openStore(db.url);
    try {
      const tx = s.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
        const pid = rows[0].pid;
        await sql`select pg_terminate_backend(${pid})`.execute(s.db);
        // The backend is gone (waited for, not slept on) while no query runs on the transaction's connection:
        // its socket closes under the checked-out client, and only then does the next statement come.
        await waitFor(`backend ${pid} gone`, async () => {
          const gone = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where pid = ${pid}`.execute(s.db);
          return gone.rows[0].n === 0 || undefined;
        }, 30_000, 20);
        await sql`select 1`.execute(trx);
      });
      await expect(tx).rejects.toThrow();
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(s.db);
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await s.close();
      await db.drop();
    }
  });
});
