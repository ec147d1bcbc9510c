import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const A = 'ISSUERBND1';
const B = 'ISSUERBND2';

/** `n` finished operations of one card, written straight into the store. */
async function operationsOf(t: TestApp, issuerId: string, cardId: string, n: number): Promise<void> {
  await sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, created_at, updated_at)
    select ${`op_${issuerId}_${cardId}_`} || g, ${issuerId}, ${cardId}, 'PRODUCTION', 'h', 'SUCCESSFUL', false,
      jsonb_build_object('operationId', ${`op_${issuerId}_${cardId}_`} || g, 'issuerId', ${issuerId}::text, 'cardId', ${cardId}::text, 'trackingType', 'PRODUCTION',
        'correlationId', 'c' || g, 'request', jsonb_build_object('trackingType', 'PRODUCTION'), 'status', 'SUCCESSFUL', 'open', false, 'endTime', '2026-01-01T01:00:00.000Z',
        'startTime', '2026-01-01T00:00:00.000Z', 'updatedAt', '2026-01-01T00:00:00.000Z', 'sequenceNumber', 1),
      now() - g * interval '1 minute', now() - g * interval '1 minute'
    from generate_series(1, ${n}) g`.execute(t.store.db);
}

describe.each(STORE_KINDS)('console read bounds on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp(kind);
    await readyIssuer(t.app, A);
    await readyIssuer(t.app, B);
  });
  afterAll(async () => t?.close());

  it('a card id prefix search answers distinct cards, however many operations one of them has', async () => {
    await operationsOf(t, A, 'card_big', 300);
    await operationsOf(t, A, 'card_bigz', 1);
    await operationsOf(t, B, 'card_bigz', 2);
    await operationsOf(t, A, 'card_bigy', 1);
    const res = await t.app.inject({ method: 'GET', url: '/admin/v1/search?q=card_big&limit=5', headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.json().matches).toEqual([
      { kind: 'card', issuerId: A, cardId: 'card_big' },
      { kind: 'card', issuerId: A, cardId: 'card_bigy' },
      { kind: 'card', issuerId: A, cardId: 'card_bigz' },
      { kind: 'card', issuerId: B, cardId: 'card_bigz' },
    ]);
    const two = await t.app.inject({ method: 'GET', url: '/admin/v1/search?q=card_big&limit=2', headers: admin });
    expect(two.json().matches.map((m: { cardId: string }) => m.cardId)).toEqual(['card_big', 'card_bigy']);
  });

  it('a card timeline shows the newest notifications of each operation and the newest attempts of each, with counts of the rest', async () => {
    await operationsOf(t, A, 'card_noisy', 3);
    // The newest operation: 15 notifications; its newest one tried 12 times.
    const op = `op_${A}_card_noisy_1`;
    await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, created_at)
      select 'msg_noisy_' || lpad(g::text, 2, '0'), ${A}, ${op}, g, 'c', '{}', 'dead', 12, now() - (20 - g) * interval '1 minute'
      from generate_series(1, 15) g`.execute(t.store.db);
    await sql`insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, error, latency_ms)
      select 'msg_noisy_15', g, now() - (20 - g) * interval '1 second', 500, null, 10 from generate_series(1, 12) g`.execute(t.store.db);
    const res = await t.app.inject({ method: 'GET', url: `/admin/v1/issuers/${A}/cards/card_noisy/timeline`, headers: admin });
    expect(res.statusCode).toBe(200);
    const [newest, ...older] = res.json().operations;
    expect(newest.notifications.map((n: { sequenceNumber: number }) => n.sequenceNumber)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(newest.notificationsOmitted).toBe(5);
    const last = newest.notifications.at(-1);
    expect(last.attemptLog.map((a: { attempt: number }) => a.attempt)).toEqual([8, 9, 10, 11, 12]);
    expect(last.attemptsOmitted).toBe(7);
    expect(newest.notifications[0]).toMatchObject({ attemptLog: [], attemptsOmitted: 0 });
    expect(older.map((o: { notifications: unknown[]; notificationsOmitted: number }) => [o.notifications.length, o.notificationsOmitted])).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });
});
