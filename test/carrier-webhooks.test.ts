import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyHmac } from '../src/carriers/push.ts';
import type { CarrierCode } from '../src/domain/carriers.ts';
import { type TestApp, testApp } from './helpers/app.ts';
import { openShipments } from './helpers/carriers.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const raw = (path: string) => readFileSync(new URL(`./fixtures/carriers/${path}`, import.meta.url), 'utf8');
const SECRETS = { ups: 'ups-credential-0123456789', fedex: 'fedex-security-token-0123', dhl: 'dhl-push-token-0123456789', aftership: 'aftership-webhook-secret-01' };

interface Case {
  provider: keyof typeof SECRETS;
  carrier: CarrierCode;
  trackingNumber: string;
  body: string;
  sign: (body: string, secret: string) => Record<string, string>;
  status: string;
}

const CASES: Case[] = [
  {
    provider: 'ups',
    carrier: 'ups',
    trackingNumber: '1Z204W4R0308071865',
    body: raw('push/ups-track-alert-out-for-delivery.json'),
    sign: (_b, s) => ({ credential: s, 'user-agent': 'UPSPubSubTrackingService' }),
    status: 'OUT_FOR_DELIVERY',
  },
  {
    provider: 'fedex',
    carrier: 'fedex',
    trackingNumber: '612345678904',
    body: raw('fedex/delivered-step2-in-transit.json'),
    sign: (b, s) => ({ 'fdx-signature': bodyHmac(b, s) }),
    status: 'IN_TRANSIT',
  },
  {
    provider: 'dhl',
    carrier: 'dhl',
    trackingNumber: '1234567892',
    body: raw('push/dhl-unified-push-express.json'),
    sign: (_b, s) => ({ 'dhl-webhook-token': s }),
    status: 'OUT_FOR_DELIVERY',
  },
  {
    provider: 'aftership',
    carrier: 'usps-iv-api',
    trackingNumber: '9405516902697649303570',
    body: raw('push/aftership-tracking-update.json'),
    sign: (b, s) => ({ 'aftership-hmac-sha256': bodyHmac(b, s) }),
    status: 'IN_TRANSIT',
  },
];

describe.each(STORE_KINDS)('carrier push on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp(kind, {
      TRACKHUB_CARRIER_UPS_WEBHOOK_SECRET: SECRETS.ups,
      TRACKHUB_CARRIER_FEDEX_WEBHOOK_SECRET: SECRETS.fedex,
      TRACKHUB_CARRIER_DHL_WEBHOOK_SECRET: SECRETS.dhl,
      TRACKHUB_CARRIER_AFTERSHIP_WEBHOOK_SECRET: SECRETS.aftership,
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (provider: string, body: string, headers: Record<string, string>) =>
    t.app.inject({ method: 'POST', url: `/carriers/v1/${provider}/webhook`, headers: { 'content-type': 'application/json', ...headers }, payload: body });
  const notifications = async (operationId: string) =>
    (await t.store.db.selectFrom('outbox').select('payload').where('operation_id', '=', operationId).orderBy('sequence_number').execute()).map(
      (r) => JSON.parse(r.payload) as { status: string; details: { shipment?: { status: string; lastCheckpoint?: { raw: { code: string } } } } },
    );

  describe.each(CASES)('$provider', (c) => {
    it('a signed push advances the open operation through the same parser as polling', async () => {
      const [id] = await openShipments(t.context, [{ carrier: c.carrier, trackingNumber: c.trackingNumber }]);
      const res = await post(c.provider, c.body, c.sign(c.body, SECRETS[c.provider]));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ received: 1, operations: 1 });
      const sent = await notifications(id);
      expect(sent.map((n) => n.status)).toEqual(['PENDING', 'SUCCESSFUL']);
      expect(sent[1].details.shipment?.status).toBe(c.status);
      // The same push again carries nothing new.
      expect((await post(c.provider, c.body, c.sign(c.body, SECRETS[c.provider]))).statusCode).toBe(200);
      expect(await notifications(id)).toHaveLength(2);
    });

    it('push first: once a push for the parcel is accepted, polling drops to the safety net', async () => {
      const [id] = await openShipments(t.context, [{ carrier: c.carrier, trackingNumber: c.trackingNumber }]);
      expect((await post(c.provider, c.body, c.sign(c.body, SECRETS[c.provider]))).statusCode).toBe(200);
      const row = await t.store.db.selectFrom('operations').select(['state', 'wake_at', 'is_open']).where('operation_id', '=', id).executeTakeFirstOrThrow();
      const state = row.state as unknown as { parcel: { pushedAt?: string }; answers?: unknown };
      expect(state.parcel.pushedAt).toBeDefined();
      expect(state.answers).toBeUndefined(); // a push is not an answer to a poll
      // The next poll is the safety net's (12 h by default), not the adaptive interval's minutes.
      if (row.is_open) expect(new Date(row.wake_at as unknown as string).getTime() - Date.parse(state.parcel.pushedAt as string)).toBeGreaterThanOrEqual(12 * 3_600_000);
    });

    it('a wrong or missing signature is 401 with the contract error body, and changes nothing', async () => {
      const wrong = await post(c.provider, c.body, c.sign(c.body, 'not-the-secret-at-all-000'));
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toMatchObject({ errorCode: 'AUTHORIZER_UNAUTHORIZED' });
      const missing = await post(c.provider, c.body, {});
      expect(missing.statusCode).toBe(401);
      // HMAC providers sign the body: a body changed after signing no longer matches.
      if (c.provider === 'fedex' || c.provider === 'aftership') {
        const tampered = c.body.replace('{', '{ ');
        expect((await post(c.provider, tampered, c.sign(c.body, SECRETS[c.provider]))).statusCode).toBe(401);
      }
    });

    it('a garbage body is 400, never 500', async () => {
      const garbage = '{"not json';
      const res = await post(c.provider, garbage, c.sign(garbage, SECRETS[c.provider]));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ errorCode: 'PARSING_ERROR' });
      const wrongShape = JSON.stringify({ hello: 'world' });
      const shape = await post(c.provider, wrongShape, c.sign(wrongShape, SECRETS[c.provider]));
      expect(shape.statusCode).toBe(400);
      expect(shape.json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT' });
    });
  });

  it('UPS events pushed out of order are sorted by event time; an older one never rolls the status back', async () => {
    const n = '1Z999AA10112345101';
    const [id] = await openShipments(t.context, [{ carrier: 'ups', trackingNumber: n }]);
    const event = (date: string, time: string, type: string, code: string, descriptionCode: string, description: string) =>
      JSON.stringify({
        trackingNumber: n,
        localActivityDate: date,
        localActivityTime: time,
        activityLocation: { city: 'Charlotte', stateProvince: 'NC', postalCode: '', country: 'US' },
        activityStatus: { type, code, description, descriptionCode },
      });
    const headers = { credential: SECRETS.ups };
    expect((await post('ups', event('20260423', '091519', 'I', 'OT', '021', 'Out for Delivery'), headers)).statusCode).toBe(200);
    expect((await post('ups', event('20260422', '212901', 'I', 'OR', '005', 'On the Way'), headers)).statusCode).toBe(200);
    const sent = await notifications(id);
    const last = sent.at(-1)?.details.shipment;
    expect(last?.status).toBe('OUT_FOR_DELIVERY');
    expect(last?.lastCheckpoint?.raw.code).toBe('OT');
    const status = await t.store.db.selectFrom('operations').select('state').where('operation_id', '=', id).executeTakeFirstOrThrow();
    const codes = (status.state as unknown as { shipment: { checkpoints: { raw: { code: string } }[] } }).shipment.checkpoints.map((c) => c.raw.code);
    expect(codes).toEqual(['OR', 'OT']);
    expect((await post('ups', event('20260423', '135004', 'D', 'FS', '011', 'Delivered'), headers)).statusCode).toBe(200);
    expect((await notifications(id)).at(-1)).toMatchObject({ status: 'SUCCESSFUL', details: { shipment: { status: 'DELIVERED' } } });
  });

  it('checks the signature over the bytes as sent, even bytes that are not UTF-8 (then refused as such)', async () => {
    // A Latin-1 é (0xE9) in a string: decoded it becomes U+FFFD, so an HMAC over the decoded text would not match.
    const bytes = Buffer.concat([Buffer.from('{"trackingNumberInfo":{"trackingNumber":"794600009999"},"note":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const signed = { 'fdx-signature': bodyHmac(bytes, SECRETS.fedex) };
    const res = await t.app.inject({ method: 'POST', url: '/carriers/v1/fedex/webhook', headers: { 'content-type': 'application/json', ...signed }, payload: bytes });
    // Signed, so read: and refused, because its text is not UTF-8 (it would be stored with U+FFFD).
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ errorCode: 'PARSING_ERROR', error: 'body is not valid UTF-8' });
    // A push declared in another charset is refused too, once its signature holds.
    const utf8 = Buffer.from('{"trackingNumberInfo":{"trackingNumber":"794600009999"}}');
    for (const contentType of ['application/json; charset=ISO-8859-1', 'application/json; charset=utf-8; charset=latin1']) {
      const declared = await t.app.inject({ method: 'POST', url: '/carriers/v1/fedex/webhook', headers: { 'content-type': contentType, 'fdx-signature': bodyHmac(utf8, SECRETS.fedex) }, payload: utf8 });
      expect(declared.statusCode, contentType).toBe(415);
    }
    const forged = await t.app.inject({ method: 'POST', url: '/carriers/v1/fedex/webhook', headers: { 'content-type': 'application/json', 'fdx-signature': bodyHmac(bytes.toString('utf8'), SECRETS.fedex) }, payload: bytes });
    expect(forged.statusCode).toBe(401);
  });

  it('a signed body with the right envelope but wrong inner types is 400 FIELD_INVALID_FORMAT, never 500, and changes nothing', async () => {
    // Open operations for the numbers, so the bodies reach the parsers rather than stopping at "unmatched".
    const ids = await openShipments(t.context, [
      { carrier: 'fedex', trackingNumber: '794600001111' },
      { carrier: 'dhl', trackingNumber: '5500001111' },
      { carrier: 'usps-iv-api', trackingNumber: '9405500000000000001111' },
      { carrier: 'ups', trackingNumber: '1Z999AA10100001111' },
    ]);
    const hmac = (p: 'fedex' | 'aftership') => (b: string) => ({ [p === 'fedex' ? 'fdx-signature' : 'aftership-hmac-sha256']: bodyHmac(b, SECRETS[p]) });
    const bodies: [string, unknown, (b: string) => Record<string, string>][] = [
      ['fedex', { output: { completeTrackResults: [null] } }, hmac('fedex')],
      ['fedex', { output: { completeTrackResults: [{ trackingNumber: '794600001111', trackResults: [{ scanEvents: 'x' }] }] } }, hmac('fedex')],
      ['fedex', { trackingNumberInfo: { trackingNumber: '794600001111' }, scanEvents: [{ date: '2026-05-01T10:00:00Z', eventType: 12 }] }, hmac('fedex')],
      ['dhl', { shipments: [{ id: '5500001111', events: 'x' }] }, () => ({ 'dhl-webhook-token': SECRETS.dhl })],
      ['dhl', { shipments: [{ id: '5500001111', events: [{ timestamp: 5, statusCode: 'transit' }] }] }, () => ({ 'dhl-webhook-token': SECRETS.dhl })],
      ['aftership', { event: 'tracking_update', msg: { tracking_number: '9405500000000000001111', checkpoints: 'x' } }, hmac('aftership')],
      ['aftership', { event: 'tracking_update', msg: { tracking_number: '9405500000000000001111', checkpoints: [{ checkpoint_time: 17, message: 3 }] } }, hmac('aftership')],
      ['ups', { trackingNumber: '1Z999AA10100001111', activityStatus: { type: 'I', code: 5 }, localActivityDate: 20260501 }, () => ({ credential: SECRETS.ups })],
    ];
    for (const [provider, value, sign] of bodies) {
      const body = JSON.stringify(value);
      const res = await post(provider, body, sign(body));
      expect({ provider, body, status: res.statusCode }).toEqual({ provider, body, status: 400 });
      expect(res.json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^body/) });
    }
    for (const id of ids) expect(await notifications(id)).toHaveLength(1);
  });

  it('a parcel another provider already serves takes no AfterShip push (its scans would show twice)', async () => {
    const c = CASES.find((x) => x.provider === 'aftership') as Case;
    await openShipments(t.context, [{ carrier: c.carrier, trackingNumber: c.trackingNumber }]);
    // Every open operation for the number is pinned to USPS, as polling leaves it once USPS has answered.
    const rows = await t.store.db.selectFrom('operations').select(['operation_id', 'state']).where('tracking_number', '=', c.trackingNumber).where('is_open', '=', true).execute();
    const before = new Map<string, number>();
    for (const row of rows) {
      const state = row.state as unknown as { parcel: { provider?: string } };
      state.parcel.provider = 'usps';
      await t.store.db.updateTable('operations').set({ state: JSON.stringify(state) }).where('operation_id', '=', row.operation_id).execute();
      before.set(row.operation_id, (await notifications(row.operation_id)).length);
    }
    const res = await post(c.provider, c.body, c.sign(c.body, SECRETS.aftership));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ received: 1, operations: 0 });
    for (const [id, n] of before) expect(await notifications(id)).toHaveLength(n);
  });

  it('answers 404 for a provider without push or without a configured secret', async () => {
    expect((await post('usps', '{}', {})).statusCode).toBe(404);
    expect((await post('nope', '{}', {})).json()).toMatchObject({ errorCode: 'NOT_FOUND' });
    const bare = await testApp(kind);
    try {
      const res = await bare.app.inject({ method: 'POST', url: '/carriers/v1/ups/webhook', headers: { 'content-type': 'application/json' }, payload: '{}' });
      expect(res.statusCode).toBe(404);
    } finally {
      await bare.close();
    }
  });
});
