import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/store/db.ts';
import { ISSUER_CACHE_MAX_ENTRIES, ISSUER_CACHE_TTL_MS, IssuerDirectory, upsertIssuer } from '../src/store/issuers.ts';
import { putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { assertion, issuerKey, JWT_BEARER } from './helpers/issuer.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

/**
 * The issuer directory is keyed by ids that come from outside (an assertion's `iss`, a URL): an id
 * that cannot be an issuer's is never looked up nor kept, and however many distinct ids are asked
 * for, the cache stays at its bound, while its TTL and `forget()` work as before.
 */
const notADb = new Proxy({} as Db, {
  get() {
    throw new Error('the directory touched the store');
  },
});

describe('the issuer directory without a store', () => {
  it('answers an id that cannot be an issuer id without a lookup, and remembers nothing', async () => {
    const directory = new IssuerDirectory(notADb);
    for (const id of ['x'.repeat(20_000), '', 'SHORT', 'ELEVEN_CHAR', 'TEN CHARS!', '../../etc/', 'ÉMETTEUR01']) {
      expect(await directory.get(id), id.slice(0, 20)).toBeUndefined();
    }
    expect(directory.size).toBe(0);
  });

  it('holds at most 10,000 ids by default', () => {
    expect(ISSUER_CACHE_MAX_ENTRIES).toBe(10_000);
  });
});

describe.each(STORE_KINDS)('the issuer directory on %s', (kind) => {
  let store: TestStore;
  let clock = 1_000_000;
  const now = () => clock;

  beforeAll(async () => {
    store = await freshStore(kind);
    const key = await issuerKey();
    await upsertIssuer(store.db, {
      issuerId: 'ISSUER_C01',
      name: 'Cached bank',
      notificationBaseUrl: 'https://bank.example',
      jwks: { keys: [key.publicJwk] },
      webhookSecrets: [],
      notificationAuth: null,
      maxOperationsPerNotification: 1,
      autoTrackShipment: false,
      enabled: true,
    });
  });
  afterAll(async () => store?.close());

  it('stays at its bound however many distinct unknown ids are asked for, keeping the most recent', async () => {
    const directory = new IssuerDirectory(store.db, { now, maxEntries: 50 });
    expect(await directory.get('ISSUER_C01')).toMatchObject({ name: 'Cached bank' });
    for (let i = 0; i < 400; i++) {
      expect(await directory.get(`UNKNOWN${String(i).padStart(3, '0')}`)).toBeUndefined();
      expect(directory.size).toBeLessThanOrEqual(50);
    }
    expect(directory.size).toBe(50);
    // The known issuer, least recently used, was evicted: asked again, it is read from the store again.
    expect(await directory.get('ISSUER_C01')).toMatchObject({ name: 'Cached bank' });
    expect(directory.size).toBe(50);
  });

  it('keeps a record for the TTL, not longer, and forgets it at once on forget()', async () => {
    const directory = new IssuerDirectory(store.db, { now });
    expect(await directory.get('ISSUER_C01')).toMatchObject({ name: 'Cached bank' });
    await store.db.updateTable('issuers').set({ name: 'Renamed bank' }).where('issuer_id', '=', 'ISSUER_C01').execute();
    clock += ISSUER_CACHE_TTL_MS - 1;
    expect(await directory.get('ISSUER_C01')).toMatchObject({ name: 'Cached bank' });
    clock += 1;
    expect(await directory.get('ISSUER_C01')).toMatchObject({ name: 'Renamed bank' });
    await store.db.updateTable('issuers').set({ name: 'Cached bank' }).where('issuer_id', '=', 'ISSUER_C01').execute();
    directory.forget('ISSUER_C01');
    expect(await directory.get('ISSUER_C01')).toMatchObject({ name: 'Cached bank' });
  });
});

describe.each(STORE_KINDS)('the token endpoint flooded with oversized issuer ids on %s', (kind) => {
  let store: TestStore;
  let t: TestApp;
  let directory: IssuerDirectory;

  beforeAll(async () => {
    store = await freshStore(kind);
    directory = new IssuerDirectory(store.db);
    t = await testApp(kind, {}, { store, issuers: directory });
    await putIssuer(t.app, 'ISSUER_F01', await issuerKey());
  });
  afterAll(async () => {
    await t?.close();
    await store?.close();
  });

  it('refuses each one with invalid_grant and keeps none of the oversized ones', async () => {
    const key = await issuerKey();
    const grant = async (iss: string) =>
      t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', payload: { grant_type: JWT_BEARER, assertion: await assertion(iss, key) } });
    for (let i = 0; i < 200; i++) {
      const res = await grant(`${i}`.padEnd(20_000, 'x'));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_grant' });
    }
    expect(directory.size).toBe(0);
  });
});
