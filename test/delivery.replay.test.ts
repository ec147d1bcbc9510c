import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertOutbox } from '../src/store/operations.ts';
import { claimDueNotifications, groupIntoBatches } from '../src/store/outbox.ts';
import { ADMIN_TOKEN, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';

/**
 * A replay never shortens a running lease: the lease is what keeps every other worker from sending a
 * notification while its attempt may still be running (two overlapping deliveries of one webhook-id), and
 * for a batching issuer a row claimed but not yet grouped would go out under its webhook-id with another body.
 */

let t: TestApp;
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
beforeAll(async () => {
  t = await testApp('postgres');
});
afterAll(async () => {
  await t.close();
});

let seq = 0;
function row(issuerId: string) {
  seq++;
  const id = `msg_rpl_${String(seq).padStart(6, '0')}`;
  return { id, issuer_id: issuerId, operation_id: `op_rpl_${seq}`, sequence_number: 1, correlation_id: `corr_${seq}`, payload: JSON.stringify({ operationId: `op_rpl_${seq}`, sequenceNumber: 1 }) };
}

const replay = (id: string) => t.app.inject({ method: 'POST', url: `/admin/v1/notifications/${id}/replay`, headers: auth });
const rowOf = (id: string) => t.store.db.selectFrom('outbox').select(['state', 'attempts', 'next_attempt_at', 'batch_id']).where('id', '=', id).executeTakeFirstOrThrow();

describe('replaying a notification whose send is under way', () => {
  it('leaves the leased row to its attempt and says so; replays it once the attempt is recorded or the lease ran out', async () => {
    await putIssuer(t.app, 'ISSUERRPL1', await issuerKey());
    const r = row('ISSUERRPL1');
    await insertOutbox(t.store.db, [r]);
    const [claimed] = await claimDueNotifications(t.store.db, [{ issuer_id: 'ISSUERRPL1', lim: 1 }], 1, 60_000);
    expect(claimed.id).toBe(r.id);
    const leased = await rowOf(r.id);

    const during = await replay(r.id);
    expect(during.statusCode).toBe(202);
    expect(during.json()).toEqual({ id: r.id, state: 'pending', replayed: false });
    expect(await rowOf(r.id)).toEqual(leased);

    // The attempt failed and was recorded (a retry later): now the replay makes it due at once.
    await t.store.db.insertInto('delivery_attempts').values({ notification_id: r.id, attempt: 1, http_status: 500, latency_ms: 1, error: null, response_body: null }).execute();
    expect((await replay(r.id)).json()).toEqual({ id: r.id, state: 'pending', replayed: true });
    expect(new Date((await rowOf(r.id)).next_attempt_at).getTime()).toBeLessThanOrEqual(Date.now() + 1000);

    // Claimed again, and the worker died: once its lease is over the row is no longer under way.
    await t.store.db.updateTable('outbox').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('id', '=', r.id).execute();
    await claimDueNotifications(t.store.db, [{ issuer_id: 'ISSUERRPL1', lim: 1 }], 1, 60_000);
    expect((await replay(r.id)).json().replayed).toBe(false);
    await t.store.db.updateTable('outbox').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('id', '=', r.id).execute();
    expect((await replay(r.id)).json().replayed).toBe(true);
  });

  it('a batching issuer: a row claimed but not grouped yet is not made due again, so its grouping and body stay one', async () => {
    await putIssuer(t.app, 'ISSUERRPL2', await issuerKey(), { maxOperationsPerNotification: 3 });
    const rows = [row('ISSUERRPL2'), row('ISSUERRPL2')];
    await insertOutbox(t.store.db, rows);
    const claimed = await claimDueNotifications(t.store.db, [{ issuer_id: 'ISSUERRPL2', lim: 3 }], 3, 60_000);
    expect(claimed.map((c) => c.id).sort()).toEqual(rows.map((x) => x.id));
    const before = await rowOf(rows[1].id);
    // The replay lands between the claim and the grouping.
    expect((await replay(rows[1].id)).json().replayed).toBe(false);
    expect(await rowOf(rows[1].id)).toEqual(before);
    // Nothing else can claim it meanwhile; the grouping then writes one batch.
    expect(await claimDueNotifications(t.store.db, [{ issuer_id: 'ISSUERRPL2', lim: 3 }], 3, 60_000)).toEqual([]);
    await groupIntoBatches(t.store.db, rows.map((x) => ({ id: x.id, issuer_id: 'ISSUERRPL2', attempts: 1, max: 3 })));
    expect((await rowOf(rows[1].id)).state).toBe('batched');
  });
});
