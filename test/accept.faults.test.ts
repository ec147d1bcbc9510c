import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

const ISSUER = 'ISSUER_ACF';
const NUMBERS = ['123456789012', '986578788855', '400000000005', '400000000006']; // FedEx, valid check digits

/**
 * Accepting a track request writes several rows (the superseded operation's state and FAILED
 * notification, the new operation, its PENDING notification): all of them or none. Shown with a real
 * fault inside the store, and with two hub instances racing on one card.
 */
describe.each(STORE_KINDS)('accepting a track request on %s', (kind) => {
  let store: TestStore;
  let a: TestApp;
  let b: TestApp;
  let token: string;

  beforeAll(async () => {
    store = await freshStore(kind);
    a = await testApp(kind, {}, { store });
    b = await testApp(kind, {}, { store });
    token = (await readyIssuer(a.app, ISSUER)).token;
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await store?.close();
  });

  const post = (t: TestApp, cardId: string, trackingNumber: string) =>
    t.app.inject({
      method: 'POST',
      url: `/banking/v1/issuers/${ISSUER}/physicalCards/${cardId}/track`,
      headers: { authorization: `Bearer ${token}` },
      payload: { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber },
    });
  const operationsOf = (cardId: string) =>
    store.db.selectFrom('operations').select(['operation_id', 'is_open', 'status']).where('card_id', '=', cardId).orderBy('created_at').execute();
  const outboxOf = (operationId: string) =>
    store.db.selectFrom('outbox').select(['sequence_number', 'payload']).where('operation_id', '=', operationId).orderBy('sequence_number').execute();

  it('a fault between its statements leaves nothing behind: no new operation, the open one neither superseded nor notified', async () => {
    const first = await post(a, 'CARD_FAULT', NUMBERS[0]);
    expect(first.statusCode).toBe(202);
    const opened = first.json().operationId as string;

    // The store refuses the new operation's first notification: the last write of the acceptance.
    await sql`
      create function trackhub_test_fault() returns trigger language plpgsql as $$
      begin
        -- The notification's own payload names the card: the operation row is written by the same statement
        -- (src/store/operations.ts insertOperations), so a lookup of it would not see it yet.
        if new.sequence_number = 1 and new.payload::jsonb ->> 'cardId' like 'CARD_FAULT%' then
          raise exception 'fault injected by the test';
        end if;
        return new;
      end $$`.execute(store.db);
    await sql`create trigger trackhub_test_fault before insert on outbox for each row execute function trackhub_test_fault()`.execute(store.db);
    try {
      const superseding = await post(a, 'CARD_FAULT', NUMBERS[1]);
      expect(superseding.statusCode).toBe(500);
      expect(superseding.json()).toMatchObject({ errorCode: 'INTERNAL_ERROR' });
      const brandNew = await post(a, 'CARD_FAULT_NEW', NUMBERS[0]);
      expect(brandNew.statusCode).toBe(500);
    } finally {
      await sql`drop trigger trackhub_test_fault on outbox`.execute(store.db);
      await sql`drop function trackhub_test_fault()`.execute(store.db);
    }

    expect(await operationsOf('CARD_FAULT')).toEqual([{ operation_id: opened, is_open: true, status: 'PENDING' }]);
    expect((await outboxOf(opened)).map((r) => r.sequence_number)).toEqual([1]);
    expect(await operationsOf('CARD_FAULT_NEW')).toEqual([]);

    // The fault gone, the same request goes through whole.
    const again = await post(a, 'CARD_FAULT', NUMBERS[1]);
    expect(again.statusCode).toBe(202);
    const ops = await operationsOf('CARD_FAULT');
    expect(ops.map((o) => [o.operation_id, o.is_open])).toEqual([[opened, false], [again.json().operationId, true]]);
    expect((await outboxOf(opened)).map((r) => JSON.parse(r.payload).errorCode ?? null)).toEqual([null, 'SUPERSEDED']);
  });

  it('two instances racing on one card leave one open operation; each superseded one is notified once', async () => {
    // 24 requests at once, alternately to each instance, four distinct bodies interleaved.
    const responses = await Promise.all(Array.from({ length: 24 }, (_, i) => post(i % 2 ? b : a, 'CARD_RACE', NUMBERS[i % 4])));
    for (const r of responses) expect(r.statusCode, r.body).toBe(202);
    const ops = await operationsOf('CARD_RACE');
    expect(ops.filter((o) => o.is_open)).toHaveLength(1);
    // Every operation a caller was told of exists, and every operation that exists was told to a caller.
    expect(new Set(responses.map((r) => r.json().operationId))).toEqual(new Set(ops.map((o) => o.operation_id)));
    for (const o of ops) {
      const notes = (await outboxOf(o.operation_id)).map((r) => ({ seq: r.sequence_number, ...JSON.parse(r.payload) }));
      expect(notes.map((n) => n.seq), o.operation_id).toEqual(o.is_open ? [1] : [1, 2]);
      if (!o.is_open) expect(notes[1], o.operation_id).toMatchObject({ status: 'FAILED', errorCode: 'SUPERSEDED' });
    }
  });
});
