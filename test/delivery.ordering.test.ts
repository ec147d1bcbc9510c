import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher, type DispatcherOptions } from '../src/delivery/dispatcher.ts';
import { newWebhookSecret } from '../src/delivery/signing.ts';
import { createLogger } from '../src/logger.ts';
import { upsertIssuer } from '../src/store/issuers.ts';
import { replayIssuerSince, replayNotification } from '../src/store/notifications.ts';
import { insertOutbox, type OutboxInsert } from '../src/store/operations.ts';
import { waitFor } from './helpers/processes.ts';
import { freshStore, STORE_KINDS, type StoreKind, type TestStore } from './helpers/stores.ts';

/**
 * Notifications are delivered in each operation's sequence order: a later sequenceNumber of an
 * operation is never sent before every earlier one is delivered or dead, across retries, replays, batches
 * and several dispatchers on one store. The receiver checks this against the store at every arrival.
 */

const log = createLogger(process.env.DEBUG_DELIVERY ? 'debug' : 'silent');

let store: TestStore | undefined;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await store?.close();
  store = undefined;
});

async function setup(kind: StoreKind, issuerId: string, url: string, maxOps = 1) {
  store = await freshStore(kind);
  await upsertIssuer(store.db, {
    issuerId, name: issuerId, notificationBaseUrl: url, jwks: { keys: [] }, webhookSecrets: [newWebhookSecret()],
    notificationAuth: null, notificationTls: null, maxOperationsPerNotification: maxOps, autoTrackShipment: false, enabled: true,
  });
  return store;
}

let rowSeq = 0;
/** Updates `from`..`to` of one operation, written in one transaction (so they share a due time, as a burst would). */
async function updates(s: TestStore, issuerId: string, operationId: string, from: number, to: number): Promise<string[]> {
  const rows: OutboxInsert[] = [];
  for (let n = from; n <= to; n++) {
    rowSeq++;
    const id = `msg_${String(rowSeq).padStart(6, '0')}`;
    rows.push({ id, issuer_id: issuerId, operation_id: operationId, sequence_number: n, correlation_id: `corr_${rowSeq}`, payload: JSON.stringify({ operationId, sequenceNumber: n }) });
  }
  await s.db.transaction().execute((tx) => insertOutbox(tx, rows));
  return rows.map((r) => r.id);
}

function dispatcher(s: TestStore, o: Partial<DispatcherOptions> = {}) {
  const d = new Dispatcher({ db: s.db, log, retryScheduleMs: [50, 50, 50, 50, 50], leaseMs: 10_000, allowPrivateTargets: true, idleWaitMs: 20, random: () => 0.5, ...o });
  cleanups.push(() => d.stop());
  return d;
}

interface Arrival {
  webhookId: string;
  updates: { operationId: string; sequenceNumber: number }[];
  /** Earlier updates of the operations carried that the store still had waiting when this arrived. */
  sentTooEarly: string[];
  status: number;
}

/**
 * The issuer's endpoint. Before answering, it asks the store whether any earlier update of an operation
 * in the body is still waiting (pending, or batched into a pending notification) outside this
 * notification: the claim of this one must have come after each of them was recorded delivered or dead.
 */
async function orderCheckingReceiver(getStore: () => TestStore, answer: (a: Arrival, n: number) => number = () => 204) {
  const arrivals: Arrival[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const webhookId = String(req.headers['webhook-id']);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { operations: { operationId: string; sequenceNumber: number }[] };
      const sentTooEarly: string[] = [];
      for (const u of body.operations) {
        const waiting = await getStore()
          .db.selectFrom('outbox as e')
          .leftJoin('outbox as h', 'h.id', 'e.batch_id')
          .select(['e.operation_id', 'e.sequence_number'])
          .where('e.operation_id', '=', u.operationId)
          .where('e.sequence_number', '<', u.sequenceNumber)
          .where('e.id', '!=', webhookId)
          .where((eb) => eb.or([eb('e.batch_id', 'is', null), eb('e.batch_id', '!=', webhookId)]))
          // Never delivered, and still waiting: a replay of one delivered before holds nothing back.
          .where('e.delivered_at', 'is', null)
          .where((eb) => eb.or([eb('e.state', '=', 'pending'), eb.and([eb('e.state', '=', 'batched'), eb('h.state', '=', 'pending'), eb('h.delivered_at', 'is', null)])]))
          .execute();
        for (const w of waiting) sentTooEarly.push(`${w.operation_id}#${w.sequence_number} still waiting when ${u.operationId}#${u.sequenceNumber} arrived`);
      }
      const arrival: Arrival = { webhookId, updates: body.operations, sentTooEarly, status: 0 };
      arrivals.push(arrival);
      arrival.status = answer(arrival, arrivals.length - 1);
      res.writeHead(arrival.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    /** Every arrival's ordering complaints (none expected). */
    tooEarly: () => arrivals.flatMap((a) => a.sentTooEarly),
    /** The sequence numbers of one operation as they arrived (every attempt). */
    sequenceOf: (operationId: string, from = 0) =>
      arrivals.slice(from).flatMap((a) => a.updates.filter((u) => u.operationId === operationId).map((u) => u.sequenceNumber)),
  };
}

const stateOf = async (s: TestStore, ids: string[]) =>
  (await s.db.selectFrom('outbox').select(['id', 'state']).where('id', 'in', ids).orderBy('id').execute()).map((r) => r.state);
const countIn = async (s: TestStore, state: string) =>
  Number((await s.db.selectFrom('outbox').select((eb) => eb.fn.countAll().as('n')).where('state', '=', state).executeTakeFirstOrThrow()).n);

/** Rounds of the dispatcher until `done` holds (each round sends what is due, then records it). */
async function roundsUntil(d: Dispatcher, what: string, done: () => Promise<boolean>) {
  await waitFor(what, async () => {
    await d.runOnce();
    return (await done()) || undefined;
  }, 30_000, 10);
}

describe.each(STORE_KINDS)('delivery in sequence order per operation on %s', (kind) => {
  it('retries: while the first update fails, the later ones of its operation wait; other operations go on', async () => {
    let failuresLeft = 2;
    const r = await orderCheckingReceiver(() => store as TestStore, (a) => {
      if (a.updates[0].operationId === 'op_A' && a.updates[0].sequenceNumber === 1 && failuresLeft > 0) {
        failuresLeft--;
        return 500;
      }
      return 204;
    });
    const s = await setup(kind, 'ISSUER_OR1', r.url);
    const a = await updates(s, 'ISSUER_OR1', 'op_A', 1, 3);
    const [b] = await updates(s, 'ISSUER_OR1', 'op_B', 1, 1);
    const d = dispatcher(s);
    expect(await d.runOnce()).toBe(2); // op_A#1 (fails) and op_B#1; op_A#2 and #3 wait
    expect(r.sequenceOf('op_A')).toEqual([1]);
    expect(r.sequenceOf('op_B')).toEqual([1]);
    expect((await s.db.selectFrom('outbox').select('attempts').where('id', 'in', [a[1], a[2]]).execute()).map((x) => x.attempts)).toEqual([0, 0]);
    await roundsUntil(d, 'every update delivered', async () => (await countIn(s, 'delivered')) === 4);
    expect(r.sequenceOf('op_A')).toEqual([1, 1, 1, 2, 3]);
    expect(await stateOf(s, [...a, b])).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    expect(r.tooEarly()).toEqual([]);
  });

  it('a replay of dead notifications sends each operation\'s updates in sequence order', async () => {
    let up = false;
    const r = await orderCheckingReceiver(() => store as TestStore, () => (up ? 204 : 500));
    const s = await setup(kind, 'ISSUER_OR2', r.url);
    const a = await updates(s, 'ISSUER_OR2', 'op_A', 1, 8);
    const b = await updates(s, 'ISSUER_OR2', 'op_B', 1, 5);
    const d = dispatcher(s, { retryScheduleMs: [20] }); // two attempts, then dead
    await roundsUntil(d, 'every update dead', async () => (await countIn(s, 'dead')) === 13);
    const replayFrom = r.arrivals.length;
    up = true;
    expect(await replayIssuerSince(s.db, 'ISSUER_OR2', new Date(0))).toBe(13);
    await roundsUntil(d, 'every update delivered', async () => (await countIn(s, 'delivered')) === 13);
    expect(r.sequenceOf('op_A', replayFrom)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.sequenceOf('op_B', replayFrom)).toEqual([1, 2, 3, 4, 5]);
    expect(await stateOf(s, [...a, ...b])).toEqual(Array(13).fill('delivered'));
    expect(r.tooEarly()).toEqual([]);
  });

  it('a replayed earlier update goes before the later ones not yet sent; a later one already delivered is not sent again', async () => {
    let firstUp = false;
    const r = await orderCheckingReceiver(() => store as TestStore, (x) => (x.updates[0].sequenceNumber === 1 && !firstUp ? 500 : 204));
    const s = await setup(kind, 'ISSUER_OR3', r.url);
    const [a1, a2] = await updates(s, 'ISSUER_OR3', 'op_A', 1, 2);
    const d = dispatcher(s, { retryScheduleMs: [20] });
    await roundsUntil(d, '#1 dead, #2 delivered', async () => (await stateOf(s, [a1, a2])).join() === 'dead,delivered');
    expect(r.sequenceOf('op_A')).toEqual([1, 1, 2]); // #2 went once #1 was dead
    const [a3] = await updates(s, 'ISSUER_OR3', 'op_A', 3, 3); // not sent yet
    firstUp = true;
    const replayFrom = r.arrivals.length;
    expect(await replayNotification(s.db, a1)).toBe(true);
    expect(await d.runOnce()).toBe(1); // #1 only: #3 waits for it
    expect(r.sequenceOf('op_A', replayFrom)).toEqual([1]);
    await roundsUntil(d, '#3 delivered', async () => (await stateOf(s, [a3]))[0] === 'delivered');
    // #2 was delivered before the replay and is not recalled: the issuer drops the older #1 by its sequenceNumber.
    expect(r.sequenceOf('op_A', replayFrom)).toEqual([1, 3]);
    expect(await stateOf(s, [a1, a2, a3])).toEqual(['delivered', 'delivered', 'delivered']);
    expect(r.tooEarly()).toEqual([]);
  });

  it('a replay of an update delivered before does not hold back a newer one never delivered', async () => {
    const r = await orderCheckingReceiver(() => store as TestStore);
    const s = await setup(kind, 'ISSUER_OR8', r.url);
    const [a1, a2] = await updates(s, 'ISSUER_OR8', 'op_A', 1, 2);
    const d = dispatcher(s);
    await roundsUntil(d, '#1 and #2 delivered', async () => (await stateOf(s, [a1, a2])).join() === 'delivered,delivered');
    const [a3] = await updates(s, 'ISSUER_OR8', 'op_A', 3, 3);
    const from = r.arrivals.length;
    // The operator replays #1 (the issuer has it): it keeps its delivered_at, so #3 goes in the same round.
    expect(await replayNotification(s.db, a1)).toBe(true);
    const delivered = await s.db.selectFrom('outbox').select('delivered_at').where('id', '=', a1).executeTakeFirstOrThrow();
    expect(delivered.delivered_at).not.toBeNull();
    expect(await d.runOnce()).toBe(2);
    expect(r.sequenceOf('op_A', from).sort()).toEqual([1, 3]);
    expect(await stateOf(s, [a1, a2, a3])).toEqual(['delivered', 'delivered', 'delivered']);
    expect(r.tooEarly()).toEqual([]);
  });

  it('an earlier dead update does not hold back the later ones for good', async () => {
    const r = await orderCheckingReceiver(() => store as TestStore, (x) => (x.updates[0].sequenceNumber === 1 ? 500 : 204));
    const s = await setup(kind, 'ISSUER_OR4', r.url);
    const a = await updates(s, 'ISSUER_OR4', 'op_A', 1, 3);
    const d = dispatcher(s, { retryScheduleMs: [20] });
    await roundsUntil(d, '#2 and #3 delivered', async () => (await countIn(s, 'delivered')) === 2);
    expect(await stateOf(s, a)).toEqual(['dead', 'delivered', 'delivered']);
    expect(r.sequenceOf('op_A')).toEqual([1, 1, 2, 3]); // #1 tried twice, dead, then the others
    expect(r.tooEarly()).toEqual([]);
  });

  it('batches: a notification waits for the earlier updates of every operation it carries; others go on', async () => {
    let firstBatchFailed = false;
    const r = await orderCheckingReceiver(() => store as TestStore, () => {
      if (firstBatchFailed) return 204;
      firstBatchFailed = true;
      return 500;
    });
    const s = await setup(kind, 'ISSUER_OR5', r.url, 3);
    await updates(s, 'ISSUER_OR5', 'op_A', 1, 1);
    await updates(s, 'ISSUER_OR5', 'op_B', 1, 1);
    const d = dispatcher(s, { retryScheduleMs: [300, 50, 50] });
    expect(await d.runOnce()).toBe(1); // op_A#1 and op_B#1 in one notification (its id is op_A#1's): 500
    expect(r.arrivals.map((x) => x.updates.map((u) => `${u.operationId}#${u.sequenceNumber}`))).toEqual([['op_A#1', 'op_B#1']]);
    await updates(s, 'ISSUER_OR5', 'op_A', 2, 2);
    await updates(s, 'ISSUER_OR5', 'op_C', 1, 1);
    await d.runOnce();
    // op_C#1 goes (and the batch again, if its retry is due by then); op_A#2 waits for the batch holding op_A#1.
    expect(r.sequenceOf('op_C')).toEqual([1]);
    expect(r.sequenceOf('op_A')).not.toContain(2);
    await roundsUntil(d, 'every update delivered', async () => (await countIn(s, 'pending')) === 0);
    expect(r.sequenceOf('op_A')).toEqual([1, 1, 2]);
    expect(r.tooEarly()).toEqual([]);
  });

  it('two dispatchers on one store keep every operation in order', async () => {
    const failedOnce = new Set<string>();
    const r = await orderCheckingReceiver(() => store as TestStore, (x) => {
      // Every second update fails once: retries run beside first attempts of other operations.
      if (x.updates.some((u) => u.sequenceNumber % 2 === 0) && !failedOnce.has(x.webhookId)) {
        failedOnce.add(x.webhookId);
        return 500;
      }
      return 204;
    });
    const s = await setup(kind, 'ISSUER_OR6', r.url);
    const operations = ['op_P', 'op_Q', 'op_R', 'op_S', 'op_T', 'op_U'];
    for (const op of operations) await updates(s, 'ISSUER_OR6', op, 1, 6);
    const one = dispatcher(s, { retryScheduleMs: [20, 20, 20] });
    const two = dispatcher(s, { retryScheduleMs: [20, 20, 20] });
    one.start();
    two.start();
    await waitFor('every update delivered', async () => ((await countIn(s, 'delivered')) === 36 ? true : undefined), 30_000, 20);
    for (const op of operations) {
      const delivered = r.arrivals.filter((x) => x.status === 204).flatMap((x) => x.updates.filter((u) => u.operationId === op).map((u) => u.sequenceNumber));
      expect(delivered, op).toEqual([1, 2, 3, 4, 5, 6]);
    }
    expect(r.tooEarly()).toEqual([]);
  });

  it('a chain of updates of one operation goes out one after another without waiting an idle tick each', async () => {
    const r = await orderCheckingReceiver(() => store as TestStore);
    const s = await setup(kind, 'ISSUER_OR7', r.url);
    await updates(s, 'ISSUER_OR7', 'op_A', 1, 10);
    // An idle tick of ten minutes: ten updates one after another within the (much shorter) wait below
    // cannot have waited for ticks; each recorded delivery must have led to the next claim.
    const d = dispatcher(s, { idleWaitMs: 600_000 });
    d.start();
    await waitFor('the chain delivered', async () => ((await countIn(s, 'delivered')) === 10 ? true : undefined), 30_000, 20);
    expect(r.sequenceOf('op_A')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.tooEarly()).toEqual([]);
  });
});
