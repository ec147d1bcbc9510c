import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HttpClient } from '../../src/carriers/provider.ts';
import { UpsTrackAlertSubscriber } from '../../src/polling/ups-track-alert.ts';
import { FakeClock, fakeContext, openShipments } from '../helpers/carriers.ts';
import { freshStore, STORE_KINDS, type TestStore } from '../helpers/stores.ts';

describe.each(STORE_KINDS)('UPS Track Alert subscriptions on %s', (kind) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(kind);
  });
  afterEach(async () => {
    await store.close();
  });

  it('subscribes open UPS parcels once, renews them before the 14 days lapse, and never ended ones', async () => {
    const clock = new FakeClock();
    const ctx = fakeContext(store.db, clock);
    const calls: { url: string; headers: Record<string, string>; body: { trackingNumberList: string[]; destination: Record<string, string> } }[] = [];
    const http: HttpClient = async (url, init) => {
      if (url.endsWith('/oauth/token')) return { status: 200, headers: {}, body: JSON.stringify({ access_token: 'tok', expires_in: 14399 }) };
      const body = JSON.parse(init.body ?? '{}');
      calls.push({ url, headers: init.headers ?? {}, body });
      return { status: 200, headers: {}, body: JSON.stringify({ validTrackingNumbers: body.trackingNumberList }) };
    };
    const sub = new UpsTrackAlertSubscriber(ctx, {
      config: { baseUrl: 'http://ups.test', clientId: 'id', clientSecret: 'secret', webhookSecret: 'credential-0123456789' },
      http,
      callbackUrl: 'https://hub.example/carriers/v1/ups/webhook',
    });
    const [, , fedexOp] = await openShipments(ctx, [
      { carrier: 'ups', trackingNumber: '1Z204W4R0308071865' },
      { carrier: 'ups', trackingNumber: '1Z999AA10112345101' },
      { carrier: 'fedex', trackingNumber: '771234500102' },
    ]);
    expect(fedexOp).toBeDefined();

    expect(await sub.runOnce()).toBe(2);
    expect(calls[0].url).toBe('http://ups.test/api/track/v1/subscription/standard/package');
    expect(calls[0].headers).toMatchObject({ authorization: 'Bearer tok', transactionSrc: 'trackhub' });
    expect(calls[0].body.trackingNumberList.sort()).toEqual(['1Z204W4R0308071865', '1Z999AA10112345101']);
    expect(calls[0].body.destination).toEqual({ url: 'https://hub.example/carriers/v1/ups/webhook', credentialType: 'Bearer', credential: 'credential-0123456789' });

    clock.advance(12 * 86_400_000);
    expect(await sub.runOnce()).toBe(0);

    // One parcel ends; after 13 days the other one is renewed, the ended one is not.
    await store.db.updateTable('operations').set({ is_open: false }).where('tracking_number', '=', '1Z204W4R0308071865').execute();
    clock.advance(1 * 86_400_000 + 1000);
    expect(await sub.runOnce()).toBe(1);
    expect(calls[1].body.trackingNumberList).toEqual(['1Z999AA10112345101']);
  });
});
