import { afterAll, beforeAll, expect, it } from 'vitest';
import { formNotifications } from '../src/delivery/batching.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { claimDueNotifications } from '../src/store/outbox.ts';
import { accessToken, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';

/**
 * A batching issuer's worker that stalls between its claim and the grouping, past its lease: the catch-up
 * feed serves the rows alone meanwhile, so the worker must neither regroup them nor send them under a body
 * the feed never served (one webhook-id, two bodies).
 */

let t: TestApp;
beforeAll(async () => {
  t = await testApp('postgres', { TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' });
});
afterAll(async () => {
  await t.close();
});

let seq = 0;
function row(issuerId: string) {
  seq++;
  const op = `op_stall_${issuerId}_${seq}`;
  return { id: `msg_stall_${issuerId}_${seq}`, issuer_id: issuerId, operation_id: op, sequence_number: 1, correlation_id: `corr_${seq}`, payload: JSON.stringify({ operationId: op, sequenceNumber: 1 }) };
}

async function batchingIssuer(issuerId: string) {
  const key = await issuerKey();
  await putIssuer(t.app, issuerId, key, { maxOperationsPerNotification: 5 });
  const token = await accessToken(t.app, issuerId, key);
  const read = async () => {
    const res = await t.app.inject({ method: 'GET', url: `/banking/v1/issuers/${issuerId}/notifications`, headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    return (res.json() as { notifications: { webhookId: string; body: { operations: { operationId: string }[] } }[] }).notifications.map((n) => [
      n.webhookId,
      n.body.operations.map((o) => o.operationId),
    ]);
  };
  // The feed from the start, read until it serves `atLeast` notifications: transactions of other test
  // files on the server hold it back a moment (its cut-off, src/store/notification-feed.ts).
  return async (atLeast = 0) => {
    for (let round = 0; ; round++) {
      const page = await read();
      if (page.length >= atLeast || round === 100) return page;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
}

const stateOf = (ids: string[]) =>
  t.store.db.selectFrom('outbox').select(['id', 'state', 'batch_id']).where('id', 'in', ids).orderBy('id').execute();

it('a worker stalled past its lease neither regroups the rows the feed served alone nor sends them', async () => {
  const feed = await batchingIssuer('STALLFEED1');
  const rows = [row('STALLFEED1'), row('STALLFEED1'), row('STALLFEED1')];
  await insertOutbox(t.store.db, rows);
  const claimed = await claimDueNotifications(t.store.db, [{ issuer_id: 'STALLFEED1', lim: 10 }], 10, 300);
  expect(claimed).toHaveLength(3);
  // While the lease runs the rows are under way: the feed waits for their grouping.
  expect(await feed()).toEqual([]);
  await new Promise((r) => setTimeout(r, 500));
  // The lease is over: each row is a notification of its own for good, and served so.
  const served = await feed(3);
  expect(served).toEqual(rows.map((r) => [r.id, [r.operation_id]]));
  const before = await stateOf(rows.map((r) => r.id));
  // The stalled worker wakes up: nothing of its claim is still its own.
  expect(await formNotifications(t.store.db, claimed, () => 5)).toEqual([]);
  expect(await stateOf(rows.map((r) => r.id))).toEqual(before);
  expect(await feed(3)).toEqual(served);
  // Served, the rows are pinned alone: even a grouping that found the lease running (it checked just
  // before the lease ended, and commits after the feed's read began) cannot take them any more.
  expect(before.map((r) => r.batch_id)).toEqual(before.map((r) => r.id));
  await t.store.db.updateTable('outbox').set({ next_attempt_at: new Date(Date.now() + 60_000) }).where('issuer_id', '=', 'STALLFEED1').execute();
  expect(await formNotifications(t.store.db, claimed, () => 5)).toEqual([]);
  expect(await stateOf(rows.map((r) => r.id))).toEqual(before);
  // Claimed again, each goes out alone, as the feed served it.
  await t.store.db.updateTable('outbox').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('issuer_id', '=', 'STALLFEED1').execute();
  const again = await claimDueNotifications(t.store.db, [{ issuer_id: 'STALLFEED1', lim: 10 }], 10, 60_000);
  const sent = await formNotifications(t.store.db, again, () => 5);
  expect(sent.map((n) => [n.id, n.payloads.map((p) => JSON.parse(p).operationId)]).sort()).toEqual(served.sort());
});

it('within its lease the worker groups its rows, sends the body it wrote, and the feed serves that body', async () => {
  const feed = await batchingIssuer('STALLFEED2');
  const rows = [row('STALLFEED2'), row('STALLFEED2'), row('STALLFEED2')];
  await insertOutbox(t.store.db, rows);
  const claimed = await claimDueNotifications(t.store.db, [{ issuer_id: 'STALLFEED2', lim: 10 }], 10, 60_000);
  // One row of the claim is no longer this worker's (claimed again by another after a lost lease).
  const lost = claimed[claimed.length - 1];
  await t.store.db.updateTable('outbox').set({ attempts: 2 }).where('id', '=', lost.id).execute();
  const sent = await formNotifications(t.store.db, claimed, () => 5);
  const kept = claimed.filter((c) => c !== lost);
  expect(sent).toHaveLength(1);
  expect(sent[0].id).toBe(kept[0].id);
  const ops = sent[0].payloads.map((p) => JSON.parse(p).operationId);
  expect(ops.sort()).toEqual(kept.map((c) => JSON.parse(c.payload).operationId).sort());
  expect((await stateOf([lost.id]))[0]).toMatchObject({ state: 'pending', batch_id: null });
  // Recorded delivered: the feed serves the batch under the same webhook-id, with the same operations in the same order.
  await t.store.db.updateTable('outbox').set({ state: 'delivered', delivered_at: new Date() }).where('id', '=', sent[0].id).execute();
  await t.store.db.updateTable('outbox').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('id', '=', lost.id).execute();
  const page = await feed(2);
  expect(page).toContainEqual([sent[0].id, sent[0].payloads.map((p) => JSON.parse(p).operationId)]);
  expect(page).toContainEqual([lost.id, [JSON.parse(lost.payload).operationId]]);
});
