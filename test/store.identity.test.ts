import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/store/db.ts';
import { clusterIdentity } from '../src/store/store-identity.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';

/**
 * The catch-up feed's positions are the writing cluster's transaction ids; a store restored into another
 * PostgreSQL cluster brings rows whose ids mean nothing there. Migrating (every start does) notices the move
 * and resets those positions.
 */
describe('store identity: the PostgreSQL cluster the store lives in', () => {
  let store: TestStore;
  beforeAll(async () => {
    store = await freshStore('postgres');
  });
  afterAll(async () => store?.close());

  const positions = async () =>
    (await sql<{ xid: string }>`select commit_xid::text as xid from outbox order by id`.execute(store.db)).rows.map((r) => r.xid);

  it('is recorded at the first migration, and a move to another cluster resets the feed positions once', async () => {
    const recorded = async () => (await sql<{ id: string }>`select system_identifier as id from store_identity`.execute(store.db)).rows;
    expect(await recorded()).toEqual([{ id: await clusterIdentity(store.db) }]);
    await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload)
      values ('msg_identity_1', 'IDBANK0001', 'op_1', 1, 'c1', '{}'), ('msg_identity_2', 'IDBANK0001', 'op_1', 2, 'c2', '{}')`.execute(store.db);
    expect((await positions()).every((x) => x !== '0')).toBe(true);

    // Same cluster: nothing changes.
    expect(await migrate(store.db)).toEqual([]);
    expect((await positions()).every((x) => x !== '0')).toBe(true);

    // As after a dump and restore into another cluster: the recorded identity is not this one.
    await sql`update store_identity set system_identifier = 'a-cluster-before-the-move'`.execute(store.db);
    expect(await migrate(store.db)).toEqual([expect.stringMatching(/moved to another PostgreSQL cluster/)]);
    expect(await positions()).toEqual(['0', '0']);
    expect(await recorded()).toEqual([{ id: await clusterIdentity(store.db) }]);
    // Once only.
    expect(await migrate(store.db)).toEqual([]);
  });
});
