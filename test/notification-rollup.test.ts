import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationInsights } from '../src/store/notification-insights.ts';
import { ensureNotificationsRolled } from '../src/store/notification-rollup.ts';
import { replayIssuerSince, replayNotificationOutcome } from '../src/store/notifications.ts';
import { recordAttempts } from '../src/store/outbox.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

const HOUR = 3_600_000;
const ISSUERS = ['BANK_A_001', 'BANK_B_002'];

/**
 * 400 notifications over the 3 days before `base`, every state the insights tell apart: delivered after
 * 1 s to 2 h, dead, pending, batched members; some delivered or dead rows with a lease ending lately (a
 * worker may still record over them), so a roll keeps them open.
 */
async function seed(s: TestStore, base: number): Promise<void> {
  await sql`insert into issuers (issuer_id, name, notification_base_url, jwks)
    select id, id, 'https://bank.example', '{"keys":[]}'::jsonb from unnest(${ISSUERS}::text[]) id`.execute(s.db);
  await sql`
    insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, batch_id, next_attempt_at, created_at, delivered_at)
    select 'wh_' || g, (${ISSUERS}::text[])[1 + g % 2], 'op_' || g, 1, 'corr_' || g, '{}', st, 1,
      case when st = 'batched' then 'wh_' || (g - 1) end,
      case when g % 13 = 0 then ${new Date(base).toISOString()}::timestamptz - interval '10 minutes' else c end,
      c, case when st = 'delivered' then c + make_interval(secs => power(1.9, g % 13)) end
    from (select g, case when g % 17 = 0 then 'batched' when g % 11 = 0 then 'pending' when g % 7 = 0 then 'dead' else 'delivered' end as st,
            ${new Date(base).toISOString()}::timestamptz - make_interval(secs => g * 643.0) as c
          from generate_series(1, 400) g) x`.execute(s.db);
}

describe.each(STORE_KINDS)('notification roll-ups on %s', (kind) => {
  let s: TestStore;
  const now = Date.now();
  // Edges inside hours, so each answer mixes rolled hours and live partial ones.
  const q = { from: new Date(now - 2 * 24 * HOUR - 17 * 60_000), to: new Date(now - 3 * HOUR + 29 * 60_000), now: new Date(now) };
  const rolledEqualsLive = async () => {
    const rolled = await notificationInsights(s.db, q);
    expect(rolled).toEqual(await notificationInsights(s.db, q, false));
    return rolled;
  };
  const deliver = (id: string, attempt: number) =>
    recordAttempts(s.db, [
      { id, attempt, attempted_at: new Date().toISOString(), http_status: 200, error: null, latency_ms: 5, response_body: null, outcome: 'delivered', reason: null, next_at: null, new_offset: null },
    ]);

  beforeAll(async () => {
    s = await freshStore(kind);
    await seed(s, now);
  });
  afterAll(() => s.close());

  it('a rolled answer equals the live computation on the same data; two readers at once roll each hour once', async () => {
    const live = await notificationInsights(s.db, q, false);
    const a = live.find((i) => i.issuerId === 'BANK_A_001');
    expect(a?.created).toBeGreaterThan(100);
    expect(a?.dead).toBeGreaterThan(0);
    expect(a?.pending).toBeGreaterThan(0);
    const [one, two] = await Promise.all([notificationInsights(s.db, q), notificationInsights(s.db, q)]);
    expect(one).toEqual(live);
    expect(two).toEqual(live);
    const held = await sql<{ hours: number; counted: number; open: number }>`
      select (select count(*)::int from notification_rollup_hours) as hours, (select coalesce(sum(n), 0)::int from notification_rollup) as counted,
        (select count(*)::int from notification_rollup_open) as open`.execute(s.db);
    // 2 days less the partial hours are rolled; most rows counted, pending and lately leased ones open.
    expect(held.rows[0].hours).toBeGreaterThanOrEqual(44);
    expect(held.rows[0].counted).toBeGreaterThan(150);
    expect(held.rows[0].open).toBeGreaterThan(10);
  });

  it('stays exact through deliveries of open rows and replays of rolled ones (then re-rolled)', async () => {
    await notificationInsights(s.db, q);
    const inRolled = sql`created_at >= ${new Date(q.from.getTime() + HOUR).toISOString()}::timestamptz and created_at < ${new Date(q.to.getTime() - HOUR).toISOString()}::timestamptz`;
    const pick = async (where: ReturnType<typeof sql>) =>
      (await sql<{ id: string; attempts: number }>`select id, attempts from outbox where ${inRolled} and ${where} order by id limit 1`.execute(s.db)).rows[0];
    // A pending row rolled open is delivered; a counted delivered one is replayed, and delivered again later.
    const pending = await pick(sql`state = 'pending'`);
    await deliver(pending.id, pending.attempts);
    // A worker whose lease has just ended records a delivery over a death: that row was rolled open.
    const leased = await pick(sql`state = 'dead' and next_attempt_at > now() - interval '1 hour'`);
    await deliver(leased.id, leased.attempts);
    const delivered = await pick(sql`state = 'delivered' and next_attempt_at < now() - interval '1 day'`);
    expect(await replayNotificationOutcome(s.db, delivered.id)).toBe('replayed');
    const before = await rolledEqualsLive();
    // Every dead row of BANK_B_002 since the window's start goes back to pending.
    expect(await replayIssuerSince(s.db, 'BANK_B_002', q.from)).toBeGreaterThan(0);
    const afterReplay = await rolledEqualsLive();
    const b = (r: typeof before) => r.find((i) => i.issuerId === 'BANK_B_002');
    expect(b(afterReplay)?.dead).toBe(0);
    expect(b(afterReplay)?.pending).toBeGreaterThan(b(before)?.pending ?? 0);
    await deliver(delivered.id, delivered.attempts);
    const dirty = await sql<{ n: number }>`select count(*)::int as n from notification_rollup_dirty`.execute(s.db);
    expect(dirty.rows[0].n).toBeGreaterThan(0);
    await rolledEqualsLive();
    // The next roll redoes the replayed hours: no mark left in the window, the answer still the live one.
    await ensureNotificationsRolled(s.db, q.from, q.to);
    const left = await sql<{ n: number }>`
      select count(*)::int as n from notification_rollup_dirty where hour >= ${q.from.toISOString()}::timestamptz and hour < ${q.to.toISOString()}::timestamptz`.execute(s.db);
    expect(left.rows[0].n).toBe(0);
    await rolledEqualsLive();
  });
});
