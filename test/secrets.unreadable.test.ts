import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIssuer, loadDeliverySettings } from '../src/store/issuers.ts';
import { MasterKey, SecretBox, secretBoxOf, useSecretBox } from '../src/store/secret-box.ts';
import { ADMIN_TOKEN, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';
import { STORE_KINDS } from './helpers/stores.ts';

/**
 * An issuer whose stored secrets this hub cannot open (a hub still holding the old master key wrote them
 * after a rotation) is that issuer's problem alone: the others are delivered to, it can be read, and a
 * PUT through the Admin API repairs it (found by an attack run: one such row stopped every delivery and
 * made the issuer unreadable and unwritable).
 */
describe.each(STORE_KINDS)('an issuer with unreadable secrets on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp(kind);
    const db = t.store.db;
    await putIssuer(t.app, 'GOODBANK01', await issuerKey());
    // Written as a hub with another master key would have written it.
    const ours = secretBoxOf(db);
    useSecretBox(db, new SecretBox(MasterKey.generate()));
    try {
      await putIssuer(t.app, 'BADBANK001', await issuerKey());
    } finally {
      useSecretBox(db, ours);
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it('delivery settings leave that issuer out, say so, and keep every other', async () => {
    const unreadable: string[] = [];
    const settings = await loadDeliverySettings(t.store.db, (issuerId) => unreadable.push(issuerId));
    expect(settings.map((s) => s.issuerId)).toEqual(['GOODBANK01']);
    expect(unreadable).toEqual(['BADBANK001']);
  });

  it('reads, with its secrets absent and marked unreadable, through the store and the Admin API', async () => {
    expect(await getIssuer(t.store.db, 'BADBANK001')).toMatchObject({ secretsUnreadable: true, webhookSecrets: [], notificationAuth: null });
    const res = await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/BADBANK001', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.statusCode).toBe(200);
  });

  it('a PUT through the Admin API repairs it: new secrets sealed with this key, delivered to again', async () => {
    const again = await putIssuer(t.app, 'BADBANK001', await issuerKey());
    expect(again.webhookSecret).toMatch(/^whsec_/); // the unreadable one is gone; a new one is made and shown once
    const issuer = await getIssuer(t.store.db, 'BADBANK001');
    expect(issuer?.secretsUnreadable).toBeUndefined();
    expect(issuer?.webhookSecrets).toEqual([again.webhookSecret]);
    const settings = await loadDeliverySettings(t.store.db, () => {
      throw new Error('nothing should be unreadable now');
    });
    expect(settings.map((s) => s.issuerId).sort()).toEqual(['BADBANK001', 'GOODBANK01']);
  });
});
