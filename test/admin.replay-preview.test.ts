import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * BANK_RP_01's notifications: dead and delivered ones on both sides of 2026-03-01, one pending, one dead
 * whose replay is under way (claimed, attempt not recorded: no replay touches it), a batched member; and
 * BANK_RP_02's dead one (never counted for BANK_RP_01).
 */
async function seed(t: TestApp): Promise<void> {
  const key = await issuerKey();
  await putIssuer(t.app, 'BANK_RP_01', key);
  await putIssuer(t.app, 'BANK_RP_02', key);
  const rows: [string, string, string, string][] = [
    ['r01', 'BANK_RP_01', 'dead', '2026-02-28T23:59:59.999Z'],
    ['r02', 'BANK_RP_01', 'dead', '2026-03-01T00:00:00.000Z'],
    ['r03', 'BANK_RP_01', 'dead', '2026-03-02T10:00:00.000Z'],
    ['r04', 'BANK_RP_01', 'delivered', '2026-03-03T10:00:00.000Z'],
    ['r05', 'BANK_RP_01', 'delivered', '2026-02-01T10:00:00.000Z'],
    ['r06', 'BANK_RP_01', 'pending', '2026-03-04T10:00:00.000Z'],
    ['r07', 'BANK_RP_01', 'batched', '2026-03-04T11:00:00.000Z'],
    ['r08', 'BANK_RP_02', 'dead', '2026-03-05T10:00:00.000Z'],
    ['r09', 'BANK_RP_01', 'dead', '2026-03-06T10:00:00.000Z'],
  ];
  for (const [id, issuer, state, created] of rows) {
    await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, created_at, delivered_at)
      values (${id}, ${issuer}, ${`op_${id}`}, 1, 'c', '{}', ${state}, 2, ${created}, ${state === 'delivered' ? created : null})`.execute(t.store.db);
  }
}

describe('GET /admin/v1/issuers/:issuerId/replay-preview (postgres)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await testApp('postgres');
    await seed(t);
  });
  afterEach(async () => t?.close());

  const preview = (q: string, issuer = 'BANK_RP_01') => t.app.inject({ method: 'GET', url: `/admin/v1/issuers/${issuer}/replay-preview?${q}`, headers: admin });
  const replay = (payload: Record<string, unknown>, issuer = 'BANK_RP_01') => t.app.inject({ method: 'POST', url: `/admin/v1/issuers/${issuer}/replay`, headers: admin, payload });

  it('counts exactly what the replay then sends: dead only, then delivered too', async () => {
    const dead = await preview('since=2026-03-01T00:00:00Z');
    expect(dead.statusCode).toBe(200);
    expect(dead.json()).toEqual({ count: 3, oldest: '2026-03-01T00:00:00.000Z', newest: '2026-03-06T10:00:00.000Z', until: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
    expect(Math.abs(Date.parse(dead.json().until) - Date.now())).toBeLessThan(60_000);
    // An offset other than Z names the same instant.
    expect((await preview('since=2026-03-01T01:00:00%2B01:00')).json()).toMatchObject({ count: 3, oldest: dead.json().oldest, newest: dead.json().newest });
    const withDelivered = (await preview('since=2026-03-01T00:00:00Z&includeDelivered=true')).json();
    expect(withDelivered).toMatchObject({ count: 4, oldest: '2026-03-01T00:00:00.000Z', newest: '2026-03-06T10:00:00.000Z' });

    const sent = await replay({ since: '2026-03-01T00:00:00Z' });
    expect(sent.statusCode).toBe(202);
    expect(sent.json().replayed).toBe(dead.json().count);
    // What is left: the delivered one only.
    expect((await preview('since=2026-03-01T00:00:00Z&includeDelivered=true')).json()).toMatchObject({ count: 1, oldest: '2026-03-03T10:00:00.000Z', newest: '2026-03-03T10:00:00.000Z' });
    const again = await replay({ since: '2026-03-01T00:00:00Z', includeDelivered: true });
    expect(again.json().replayed).toBe(1);
    expect((await preview('since=2026-03-01T00:00:00Z&includeDelivered=true')).json()).toMatchObject({ count: 0, oldest: null, newest: null });
  });

  it('leaves out a notification whose send is under way, as the replay does', async () => {
    // r09 was replayed and claimed: pending, leased, its attempt not recorded yet. Now dead rows after it are counted alone.
    await sql`update outbox set state = 'pending', attempts = 3, next_attempt_at = now() + interval '1 minute' where id = 'r09'`.execute(t.store.db);
    const before = (await preview('since=2026-03-01T00:00:00Z')).json();
    expect(before).toMatchObject({ count: 2, oldest: '2026-03-01T00:00:00.000Z', newest: '2026-03-02T10:00:00.000Z' });
    expect((await replay({ since: '2026-03-01T00:00:00Z' })).json().replayed).toBe(before.count);
  });

  it('a replay confirmed from a preview sends what it counted: rows made after it are left, a changed count is 409 and replays nothing', async () => {
    const seen = (await preview('since=2026-03-01T00:00:00Z')).json();
    expect(seen.count).toBe(3);
    // 300 more go dead after the preview (the attack: the preview said 3, the replay would take 303).
    await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, created_at)
      select 'late' || g, 'BANK_RP_01', 'op_late' || g, 1, 'c', '{}', 'dead', 2, now() + interval '1 second' from generate_series(1, 300) g`.execute(t.store.db);
    const sent = await replay({ since: '2026-03-01T00:00:00Z', until: seen.until, expectedCount: seen.count });
    expect(sent.statusCode, sent.body).toBe(202);
    expect(sent.json()).toEqual({ replayed: 3 });
    expect((await sql<{ n: number }>`select count(*)::int as n from outbox where id like 'late%' and state = 'dead'`.execute(t.store.db)).rows[0].n).toBe(300);

    // One of the counted rows is dead again since a new preview, and an old one is replayed elsewhere: the count differs.
    const next = (await preview('since=2026-01-01T00:00:00Z')).json();
    await sql`update outbox set state = 'dead' where id = 'r06'`.execute(t.store.db);
    await sql`update outbox set created_at = ${next.until}::timestamptz - interval '1 hour' where id = 'r06'`.execute(t.store.db);
    const refused = await replay({ since: '2026-01-01T00:00:00Z', until: next.until, expectedCount: next.count });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toEqual({ errorCode: 'CONFLICT', error: `expectedCount: ${next.count} expected, ${next.count + 1} selected now; nothing replayed (preview again)` });
    expect((await preview('since=2026-01-01T00:00:00Z')).json().count).toBe(next.count + 1); // nothing replayed
    expect((await replay({ since: '2026-03-01T00:00:00Z', until: 'yesterday', expectedCount: 1 })).json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^until:/) });
    expect((await replay({ since: '2026-03-01T00:00:00Z', expectedCount: -1 })).statusCode).toBe(400);
    // An empty or backward window is refused naming it, not answered "0 replayed".
    for (const until of ['2026-03-01T00:00:00Z', '2026-02-28T23:59:59Z', '2026-03-01T01:00:00+02:00']) {
      const res = await replay({ since: '2026-03-01T00:00:00Z', until });
      expect(res.statusCode, until).toBe(400);
      expect(res.json(), until).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: 'until: must be after since' });
    }
    expect((await preview('since=2026-01-01T00:00:00Z')).json().count).toBe(next.count + 1); // still nothing replayed
  });

  it("refuses a time without its offset and bad ids with the contract's 400; an unknown issuer is 404", async () => {
    for (const q of ['since=2026-03-01T00:00:00', 'since=2026-03-01', 'since=yesterday', 'since=2026-02-30T00:00:00Z', '']) {
      const res = await preview(q);
      expect(res.statusCode, q).toBe(400);
      expect(res.json(), q).toMatchObject({ errorCode: expect.stringMatching(/^FIELD_/), error: expect.stringMatching(/since/) });
    }
    expect((await preview('since=2026-03-01T00:00:00Z&includeDelivered=maybe')).statusCode).toBe(400);
    expect((await preview('since=2026-03-01T00:00:00Z&state=dead')).statusCode).toBe(400);
    const badId = await preview('since=2026-03-01T00:00:00Z', 'BANK%00RP01');
    expect(badId.statusCode).toBe(400);
    expect(badId.json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT' });
    expect((await preview('since=2026-03-01T00:00:00Z', 'NOSUCHBANK')).json()).toEqual({ errorCode: 'NOT_FOUND', error: 'no such issuer' });

    // The replay itself refuses a time without an offset: the console is UTC, the hub's zone is not the operator's.
    for (const since of ['2026-03-01T00:00:00', '2026-03-01 00:00:00', '2026-03-01']) {
      const res = await replay({ since });
      expect(res.statusCode, since).toBe(400);
      expect(res.json(), since).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'since: is not an ISO 8601 time with an offset (e.g. 2026-12-01T00:00:00Z)' });
    }
    // In range as written, not once in UTC: refused naming the field, not a vague 400 from PostgreSQL.
    for (const since of ['9999-12-31T23:59:59-12:00', '0000-01-01T00:00:00Z']) {
      const expected = { errorCode: 'FIELD_INVALID_VALUE', error: 'since: must fall within the years 0001 to 9999 in UTC' };
      expect((await replay({ since })).json(), since).toEqual(expected);
      expect((await preview(`since=${encodeURIComponent(since)}`)).json(), since).toEqual(expected);
    }
    // A member named twice is refused naming it, not read with its last value (also spelt with an escape, and nested).
    const raw = (payload: string, url = '/admin/v1/issuers/BANK_RP_01/replay', method: 'POST' | 'PUT' = 'POST') =>
      t.app.inject({ method, url, headers: { ...admin, 'content-type': 'application/json' }, payload });
    for (const body of ['{"since":"2026-03-01T00:00:00Z","since":"2020-01-01T00:00:00Z"}', '{"since":"2026-03-01T00:00:00Z","\\u0073ince":"2020-01-01T00:00:00Z"}']) {
      const res = await raw(body);
      expect(res.statusCode, body).toBe(400);
      expect(res.json(), body).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: 'since: is given more than once' });
    }
    // Also on a path the router decodes to the admin route (`/%61dmin/…`): the check reads the route, not the raw URL.
    const encoded = await raw('{"since":"2026-03-01T00:00:00Z","since":"2020-01-01T00:00:00Z"}', '/%61dmin/v1/issuers/BANK_RP_01/replay');
    expect(encoded.json()).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: 'since: is given more than once' });
    const nested = await raw('{"name":"Bank","notificationBaseUrl":"https://bank.example","jwks":{"keys":[],"keys":[]}}', '/admin/v1/issuers/BANK_RP_09', 'PUT');
    expect(nested.json()).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: 'keys: is given more than once' });
    // Distinct names pass (nothing matches: 202, 0 replayed).
    expect((await raw('{"since":"2020-01-01T00:00:00Z","includeDelivered":false,"expectedCount":0,"until":"2020-01-02T00:00:00Z"}')).statusCode).toBe(202);
    // Nothing was replayed by the refusals.
    expect((await preview('since=2026-01-01T00:00:00Z')).json().count).toBe(4);
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/BANK_RP_01/replay-preview?since=2026-03-01T00:00:00Z' })).statusCode).toBe(401);
  });
});
