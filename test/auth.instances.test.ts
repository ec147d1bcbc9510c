import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISSUER_CACHE_TTL_MS } from '../src/store/issuers.ts';
import { ADMIN_TOKEN, accessToken, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { assertion, issuerKey, JWT_BEARER, type TestIssuerKey } from './helpers/issuer.ts';
import { freshStore, STORE_KINDS, type TestStore } from './helpers/stores.ts';

/**
 * Two hub instances on one store, each with the production issuer cache, on a clock the test moves:
 * an admin change through one instance applies there at once, and on the other once the cache's
 * time-to-live (the documented bound) has passed, never later.
 */
describe.each(STORE_KINDS)('an issuer changed through one of two instances on %s', (kind) => {
  let store: TestStore;
  let changer: TestApp;
  let other: TestApp;
  let clock = Date.now();
  const now = () => clock;

  beforeAll(async () => {
    store = await freshStore(kind);
    changer = await testApp(kind, {}, { store, issuerClock: now });
    other = await testApp(kind, {}, { store, issuerClock: now });
  });
  afterAll(async () => {
    await changer?.close();
    await other?.close();
    await store?.close();
  });

  const grant = async (t: TestApp, issuerId: string, key: TestIssuerKey) =>
    (await t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', payload: { grant_type: JWT_BEARER, assertion: await assertion(issuerId, key) } })).statusCode;
  const track = async (t: TestApp, issuerId: string, token: string) =>
    (
      await t.app.inject({
        method: 'POST',
        url: `/banking/v1/issuers/${issuerId}/physicalCards/card-1/track`,
        headers: { authorization: `Bearer ${token}` },
        payload: { trackingType: 'PRODUCTION' },
      })
    ).statusCode;

  /** Both instances have read (and cached) the issuer: each grants a token and takes a request. */
  async function warm(issuerId: string, key: TestIssuerKey) {
    const tokens = { changer: await accessToken(changer.app, issuerId, key), other: await accessToken(other.app, issuerId, key) };
    expect(await track(changer, issuerId, tokens.changer)).toBe(202);
    expect(await track(other, issuerId, tokens.other)).toBe(202);
    return tokens;
  }

  it('disabled: refused by that instance at once, by the other within the cache TTL', async () => {
    const key = await issuerKey();
    await putIssuer(changer.app, 'ISSUER_DIS', key);
    const tokens = await warm('ISSUER_DIS', key);

    await putIssuer(changer.app, 'ISSUER_DIS', key, { enabled: false });
    expect(await grant(changer, 'ISSUER_DIS', key)).toBe(400);
    expect(await track(changer, 'ISSUER_DIS', tokens.changer)).toBe(403);

    clock += ISSUER_CACHE_TTL_MS;
    expect(await grant(other, 'ISSUER_DIS', key)).toBe(400);
    expect(await track(other, 'ISSUER_DIS', tokens.other)).toBe(403);
  });

  it('re-keyed: the old key is refused by that instance at once, by the other within the cache TTL; the new key works on both', async () => {
    const oldKey = await issuerKey('key-old');
    const newKey = await issuerKey('key-new');
    await putIssuer(changer.app, 'ISSUER_KEY', oldKey);
    await warm('ISSUER_KEY', oldKey);

    await putIssuer(changer.app, 'ISSUER_KEY', newKey);
    expect(await grant(changer, 'ISSUER_KEY', oldKey)).toBe(400);
    expect(await grant(changer, 'ISSUER_KEY', newKey)).toBe(200);

    clock += ISSUER_CACHE_TTL_MS;
    expect(await grant(other, 'ISSUER_KEY', oldKey)).toBe(400);
    expect(await grant(other, 'ISSUER_KEY', newKey)).toBe(200);
  });

  it('re-keyed: access tokens granted under the old keys die with them, at once on that instance, within the cache TTL on the other', async () => {
    const oldKey = await issuerKey('key-old');
    const newKey = await issuerKey('key-new');
    await putIssuer(changer.app, 'ISSUER_REV', oldKey);
    const tokens = await warm('ISSUER_REV', oldKey);

    // A write that leaves the keys as they are (a new name) keeps every token working.
    await putIssuer(changer.app, 'ISSUER_REV', oldKey, { name: 'Renamed bank' });
    expect(await track(changer, 'ISSUER_REV', tokens.changer)).toBe(202);

    await putIssuer(changer.app, 'ISSUER_REV', newKey);
    expect(await track(changer, 'ISSUER_REV', tokens.changer)).toBe(401);
    expect(await track(changer, 'ISSUER_REV', tokens.other)).toBe(401);
    const fresh = await accessToken(changer.app, 'ISSUER_REV', newKey);
    expect(await track(changer, 'ISSUER_REV', fresh)).toBe(202);

    clock += ISSUER_CACHE_TTL_MS;
    expect(await track(other, 'ISSUER_REV', tokens.other)).toBe(401);
    expect(await track(other, 'ISSUER_REV', tokens.changer)).toBe(401);
    expect(await track(other, 'ISSUER_REV', fresh)).toBe(202);
  });

  it('the admin change is what refused it: re-enabled, the issuer is served again on both', async () => {
    const key = await issuerKey();
    await putIssuer(changer.app, 'ISSUER_REN', key, { enabled: false });
    expect(await grant(changer, 'ISSUER_REN', key)).toBe(400);
    expect(await grant(other, 'ISSUER_REN', key)).toBe(400);
    const res = await changer.app.inject({ method: 'GET', url: '/admin/v1/issuers/ISSUER_REN', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.json()).toMatchObject({ enabled: false });

    await putIssuer(changer.app, 'ISSUER_REN', key, { enabled: true });
    expect(await grant(changer, 'ISSUER_REN', key)).toBe(200);
    clock += ISSUER_CACHE_TTL_MS;
    expect(await grant(other, 'ISSUER_REN', key)).toBe(200);
  });
});
