import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { claimDueOperations, nextDueAt } from '../src/store/operations.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

// Migration 0020: the claim's leases live in operation_wakeups, kept from operations.wake_at by triggers.
let store: TestStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

const NOW = new Date('2030-01-01T12:00:00.000Z');
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

async function wakeups(s: TestStore): Promise<Record<string, string>> {
  const rows = (await sql<{ id: string; at: Date }>`select operation_id as id, wake_at as at from operation_wakeups order by 1`.execute(s.db)).rows;
  return Object.fromEntries(rows.map((r) => [r.id, new Date(r.at).toISOString()]));
}

describe.each(STORE_KINDS)('operation wake-ups on %s', (kind) => {
  it('follow operations.wake_at; a claim leases them without touching operations', async () => {
    store = await freshStore(kind);
    const s = store;
    await sql`
      insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, wake_at)
      select 'op_' || g, 'BANK', 'card_' || g, 'PRODUCTION', 'h', 'PENDING', true, jsonb_build_object('operationId', 'op_' || g),
        case g when 1 then ${at(-2000)}::timestamptz when 2 then ${at(-1000)}::timestamptz when 3 then ${at(60_000)}::timestamptz end
      from generate_series(1, 4) g`.execute(s.db);
    expect(await wakeups(s)).toEqual({ op_1: at(-2000), op_2: at(-1000), op_3: at(60_000) });
    expect(await nextDueAt(s.db)).toEqual(new Date(at(-2000)));

    // The earliest due first, within the limit; leased for 30 s; operations.wake_at keeps the planned time.
    const claimed = await claimDueOperations(s.db, 1, 30_000, NOW);
    expect(claimed.map((c) => c.operationId)).toEqual(['op_1']);
    expect((await claimDueOperations(s.db, 10, 30_000, NOW)).map((c) => c.operationId)).toEqual(['op_2']);
    expect(await claimDueOperations(s.db, 10, 30_000, NOW)).toEqual([]);
    expect(await wakeups(s)).toEqual({ op_1: at(30_000), op_2: at(30_000), op_3: at(60_000) });
    const planned = (await sql<{ w: Date }>`select wake_at as w from operations where operation_id = 'op_1'`.execute(s.db)).rows[0].w;
    expect(new Date(planned).toISOString()).toBe(at(-2000));

    // A decision saved replaces the lease (even with the same time), none removes it; a deleted operation takes its own.
    await sql`update operations set wake_at = ${at(-2000)}::timestamptz where operation_id = 'op_1'`.execute(s.db);
    await sql`update operations set wake_at = null, is_open = false where operation_id = 'op_2'`.execute(s.db);
    await sql`update operations set wake_at = ${at(5000)}::timestamptz where operation_id = 'op_4'`.execute(s.db);
    await sql`update operations set status = 'PENDING' where operation_id = 'op_3'`.execute(s.db);
    expect(await wakeups(s)).toEqual({ op_1: at(-2000), op_3: at(60_000), op_4: at(5000) });
    await sql`delete from operations where operation_id in ('op_1', 'op_3')`.execute(s.db);
    expect(await wakeups(s)).toEqual({ op_4: at(5000) });
  });
});
