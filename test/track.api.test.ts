import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const ISSUER = 'ISSUER_T01';
const FEDEX = '123456789012'; // valid FedEx Express check digit

describe.each(STORE_KINDS)('Issuer API track and trackingStatus on %s', (kind) => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    t = await testApp(kind);
    token = (await readyIssuer(t.app, ISSUER)).token;
  });
  afterAll(async () => t.close());

  const post = (cardId: string, payload: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: `/banking/v1/issuers/${ISSUER}/physicalCards/${cardId}/track`,
      headers: { authorization: `Bearer ${token}`, ...headers },
      payload: payload as string,
    });
  const outboxFor = (operationId: string) =>
    t.store.db.selectFrom('outbox').selectAll().where('operation_id', '=', operationId).orderBy('sequence_number').execute();

  it('accepts a SHIPMENT, stores it with its PENDING notification, and echoes the correlation id', async () => {
    const res = await post('card-ship-1', { trackingType: 'SHIPMENT', trackingNumber: FEDEX, countryCode: 'US', productionSite: 'London' }, { 'x-correlation-id': 'corr-abc_1' });
    expect(res.statusCode).toBe(202);
    expect(res.headers['x-correlation-id']).toBe('corr-abc_1');
    const { operationId } = res.json();
    expect(operationId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    const rows = await outboxFor(operationId);
    expect(rows).toHaveLength(1);
    expect(rows[0].correlation_id).toBe('corr-abc_1');
    const op = JSON.parse(rows[0].payload);
    expect(op).toMatchObject({
      operationId,
      operation: 'STANDALONE_TRACKING',
      status: 'PENDING',
      issuerId: ISSUER,
      cardId: 'card-ship-1',
      sequenceNumber: 1,
      details: { trackingType: 'SHIPMENT', productionSite: 'London', status: 'CARD_SHIPPED' },
    });
    const op2 = await t.store.db.selectFrom('operations').select(['carrier', 'wake_at']).where('operation_id', '=', operationId).executeTakeFirstOrThrow();
    expect(op2.carrier).toBe('fedex');
    expect(op2.wake_at).not.toBeNull();
  });

  it('settles concurrent requests for one card one transaction at a time: repeats share an operation, each change supersedes', async () => {
    // 60 requests in flight at once across many cards, 20 of them for one card with 4 distinct bodies
    // arriving interleaved: the batcher runs several transactions at once, never two holding one card.
    const numbers = ['123456789012', '986578788855', '400000000005', '400000000006'];
    const hot = Array.from({ length: 20 }, (_, i) => post('card-hot', { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: numbers[i % 4] }));
    const others = Array.from({ length: 40 }, (_, i) => post(`card-cold-${i}`, { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: FEDEX }));
    const hotRes = await Promise.all(hot);
    const coldRes = await Promise.all(others);
    for (const r of [...hotRes, ...coldRes]) expect(r.statusCode, r.body).toBe(202);
    expect(new Set(coldRes.map((r) => r.json().operationId)).size).toBe(40);
    const ops = await t.store.db
      .selectFrom('operations')
      .select(['operation_id', 'is_open', 'status'])
      .where('issuer_id', '=', ISSUER)
      .where('card_id', '=', 'card-hot')
      .execute();
    // Exactly one open operation for the card, and it is the one the last answered request names.
    expect(ops.filter((o) => o.is_open)).toHaveLength(1);
    const answered = new Set(hotRes.map((r) => r.json().operationId));
    for (const o of ops) expect(answered.has(o.operation_id), o.operation_id).toBe(true);
    // Every operation that is not open was superseded (a FAILED notification), none left dangling.
    for (const o of ops.filter((x) => !x.is_open)) {
      const rows = await outboxFor(o.operation_id);
      expect(JSON.parse(rows[rows.length - 1].payload).status, o.operation_id).toBe('FAILED');
    }
  });

  it('is idempotent for the same body while open, and supersedes on a different body', async () => {
    const body = { trackingType: 'SHIPMENT', trackingNumber: FEDEX, carrier: 'fedex' };
    const first = (await post('card-idem', body)).json().operationId;
    const again = await post('card-idem', { carrier: 'fedex', trackingNumber: FEDEX, trackingType: 'SHIPMENT' });
    expect(again.statusCode).toBe(202);
    expect(again.json().operationId).toBe(first);
    expect(await outboxFor(first)).toHaveLength(1);

    const other = await post('card-idem', { ...body, trackingNumber: '986578788855' });
    const second = other.json().operationId;
    expect(second).not.toBe(first);
    const old = await outboxFor(first);
    expect(old).toHaveLength(2);
    expect(JSON.parse(old[1].payload)).toMatchObject({ status: 'FAILED', errorCode: 'SUPERSEDED', sequenceNumber: 2, endTime: expect.any(String) });
  });

  it('sends nothing on acceptance of PRODUCTION and RETURN, which wait for their reports', async () => {
    for (const trackingType of ['PRODUCTION', 'RETURN']) {
      const res = await post(`card-${trackingType}`, { trackingType, productionSite: 'PERSO-FR-01' });
      expect(res.statusCode).toBe(202);
      expect(await outboxFor(res.json().operationId)).toHaveLength(0);
    }
  });

  it('answers trackingStatus newest first with the operation object, and 404 for an unknown card', async () => {
    await post('card-status', { trackingType: 'PRODUCTION' });
    await post('card-status', { trackingType: 'SHIPMENT', trackingNumber: FEDEX });
    const res = await t.app.inject({ method: 'GET', url: `/banking/v1/issuers/${ISSUER}/physicalCards/card-status/trackingStatus`, headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    const ops = res.json().operations;
    expect(ops.map((o: { details: { trackingType: string } }) => o.details.trackingType)).toEqual(['SHIPMENT', 'PRODUCTION']);
    expect(ops[0]).toMatchObject({ status: 'PENDING', sequenceNumber: 1, startTime: expect.any(String) });
    const missing = await t.app.inject({ method: 'GET', url: `/banking/v1/issuers/${ISSUER}/physicalCards/never/trackingStatus`, headers: { authorization: `Bearer ${token}` } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().errorCode).toBe('NOT_FOUND');
  });

  it.each([
    ['no trackingType', {}, 'FIELD_INVALID_FORMAT', 'trackingType'],
    ['unknown trackingType', { trackingType: 'TELEPORT' }, 'FIELD_INVALID_VALUE', 'trackingType'],
    ['SHIPMENT without number', { trackingType: 'SHIPMENT' }, 'FIELD_INVALID_FORMAT', 'trackingNumber'],
    ['number too short', { trackingType: 'SHIPMENT', trackingNumber: 'AB1' }, 'FIELD_INVALID_FORMAT', 'trackingNumber'],
    ['number with symbols', { trackingType: 'SHIPMENT', trackingNumber: '1234-5678' }, 'FIELD_INVALID_FORMAT', 'trackingNumber'],
    ['unknown carrier', { trackingType: 'SHIPMENT', trackingNumber: FEDEX, carrier: 'pony-express' }, 'FIELD_INVALID_VALUE', 'carrier'],
    ['undetectable number', { trackingType: 'SHIPMENT', trackingNumber: 'ZZZZ9999' }, 'FIELD_INVALID_VALUE', 'trackingNumber'],
    ['unknown field', { trackingType: 'PRODUCTION', color: 'red' }, 'FIELD_INVALID_VALUE', 'color'],
    ['SHIPMENT field on PRODUCTION', { trackingType: 'PRODUCTION', countryCode: 'GB' }, 'FIELD_INVALID_VALUE', 'countryCode'],
    ['bad country format', { trackingType: 'SHIPMENT', trackingNumber: FEDEX, countryCode: 'gb' }, 'FIELD_INVALID_FORMAT', 'countryCode'],
    ['unassigned country', { trackingType: 'SHIPMENT', trackingNumber: FEDEX, countryCode: 'QQ' }, 'FIELD_INVALID_VALUE', 'countryCode'],
    ['bad shipmentDate', { trackingType: 'SHIPMENT', trackingNumber: FEDEX, shipmentDate: 'yesterday' }, 'FIELD_INVALID_FORMAT', 'shipmentDate'],
    ['impossible shipmentDate', { trackingType: 'SHIPMENT', trackingNumber: FEDEX, shipmentDate: '2023-02-31T10:00:00Z' }, 'FIELD_INVALID_VALUE', 'shipmentDate'],
    ['number type', { trackingType: 'SHIPMENT', trackingNumber: 123456789012 }, 'FIELD_INVALID_FORMAT', 'trackingNumber'],
    ['array body', [], 'FIELD_INVALID_FORMAT', 'body'],
  ])('refuses %s with %s naming the field', async (_name, body, code, field) => {
    const res = await post('card-bad', body, { 'x-correlation-id': 'bad-input-1' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errorCode).toBe(code);
    expect(res.json().error).toMatch(new RegExp(`^${field}`));
    expect(res.headers['x-correlation-id']).toBe('bad-input-1');
  });

  it('answers PARSING_ERROR, UNSUPPORTED_MEDIA_TYPE, PAYLOAD_TOO_LARGE and NOT_FOUND with the error body', async () => {
    const url = `/banking/v1/issuers/${ISSUER}/physicalCards/card-x/track`;
    const auth = { authorization: `Bearer ${token}` };
    const broken = await t.app.inject({ method: 'POST', url, headers: { ...auth, 'content-type': 'application/json' }, payload: '{"trackingType":' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().errorCode).toBe('PARSING_ERROR');
    const empty = await t.app.inject({ method: 'POST', url, headers: { ...auth, 'content-type': 'application/json' }, payload: '' });
    expect(empty.json()).toEqual({ errorCode: 'PARSING_ERROR', error: 'body is empty: send a JSON object, or no content-type when there is no body' });
    const text = await t.app.inject({ method: 'POST', url, headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello' });
    expect(text.statusCode).toBe(415);
    expect(text.json().errorCode).toBe('UNSUPPORTED_MEDIA_TYPE');
    // JSON in another charset is refused, not read as UTF-8 with its bytes turned into U+FFFD.
    for (const charset of ['latin1', 'utf-16', '"iso-8859-1"', 'utf-8; charset=latin1', 'utf-8; x="y; charset=latin1"']) {
      const other = await t.app.inject({ method: 'POST', url, headers: { ...auth, 'content-type': `application/json; charset=${charset}` }, payload: '{"trackingType":"PRODUCTION"}' });
      expect(other.statusCode, charset).toBe(415);
      expect(other.json()).toEqual({ errorCode: 'UNSUPPORTED_MEDIA_TYPE', error: 'content-type must be application/json (UTF-8)' });
    }
    // Bytes that are not UTF-8 are refused whatever the route, never stored with U+FFFD in their place.
    const latin1 = Buffer.from('{"trackingType":"PRODUCTION","x":"Caf\xe9"}', 'latin1');
    const bytes = await t.app.inject({ method: 'POST', url, headers: { ...auth, 'content-type': 'application/json' }, payload: latin1 });
    expect(bytes.statusCode).toBe(400);
    expect(bytes.json()).toEqual({ errorCode: 'PARSING_ERROR', error: 'body is not valid UTF-8' });
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const site = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/SITE-U8', headers: admin, payload: Buffer.from('{"name":"Caf\xe9 site"}', 'latin1') });
    expect(site.json()).toEqual({ errorCode: 'PARSING_ERROR', error: 'body is not valid UTF-8' });
    const events = await t.app.inject({ method: 'POST', url: '/sites/v1/production-sites/SITE-U8/events', headers: { 'x-api-key': 'k'.repeat(32), 'content-type': 'application/json' }, payload: Buffer.from('{"events":[]}\xff', 'latin1') });
    expect(events.statusCode).toBe(401); // the key is checked before the body is read
    for (const [type, body] of [['application/json', '{"grant_type":"x","assertion":"Caf\xe9"}'], ['application/x-www-form-urlencoded', 'grant_type=x&assertion=Caf\xe9']]) {
      const token = await t.app.inject({ method: 'POST', url: '/authz/v1/oauth2/token', headers: { 'content-type': type }, payload: Buffer.from(body, 'latin1') });
      expect(token.statusCode, type).toBe(400);
      expect(token.json(), type).toEqual({ error: 'invalid_request', error_description: 'body is not valid UTF-8' });
    }
    for (const charset of ['utf-8', 'UTF8', '"utf-8"']) {
      const utf8 = await t.app.inject({ method: 'POST', url: url.replace('card-x', `card-cs-${charset.replace(/\W/g, '')}`), headers: { ...auth, 'content-type': `application/json; charset=${charset}` }, payload: '{"trackingType":"PRODUCTION"}' });
      expect(utf8.statusCode, charset).toBe(202);
    }
    const big = await t.app.inject({ method: 'POST', url, headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ trackingType: 'PRODUCTION', pad: 'x'.repeat(70 * 1024) }) });
    expect(big.statusCode).toBe(413);
    expect(big.json().errorCode).toBe('PAYLOAD_TOO_LARGE');
    const nowhere = await t.app.inject({ method: 'GET', url: '/banking/v1/nowhere' });
    expect(nowhere.statusCode).toBe(404);
    expect(nowhere.json().errorCode).toBe('NOT_FOUND');
    expect(nowhere.headers['x-correlation-id']).toMatch(/^corr_/);
  });

  it('refuses bad path ids and a bad correlation id', async () => {
    const badCard = await post('card with space'.replace(/ /g, '%20'), { trackingType: 'PRODUCTION' });
    expect(badCard.statusCode).toBe(400);
    expect(badCard.json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT' });
    expect(badCard.json().error).toMatch(/^cardId/);
    const badCorr = await post('card-1', { trackingType: 'PRODUCTION' }, { 'x-correlation-id': 'bad id!' });
    expect(badCorr.statusCode).toBe(400);
    expect(badCorr.json().error).toMatch(/^x-correlation-id/);
  });

  it('rate-limits an issuer past its budget with Retry-After', async () => {
    const limited = await testApp(kind, { TRACKHUB_ISSUER_RATE_LIMIT: '3' });
    try {
      const { token: tk } = await readyIssuer(limited.app, 'ISSUER_R01');
      // The budget refills with time: the clock stands still while the requests go (however slowly the
      // machine sends them), then moves by exactly one second. Only Date is faked; timers stay real.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      const burst = async () => {
        const answers: { status: number; errorCode?: string; retryAfter?: string }[] = [];
        for (let i = 0; i < 5; i++) {
          const res = await limited.app.inject({ method: 'POST', url: '/banking/v1/issuers/ISSUER_R01/physicalCards/c1/track', headers: { authorization: `Bearer ${tk}` }, payload: { trackingType: 'PRODUCTION' } });
          answers.push({ status: res.statusCode, ...(res.statusCode === 429 ? { errorCode: res.json().errorCode, retryAfter: res.headers['retry-after'] as string } : {}) });
        }
        return answers;
      };
      const refused = { status: 429, errorCode: 'RATE_LIMITED', retryAfter: '1' };
      expect(await burst()).toEqual([{ status: 202 }, { status: 202 }, { status: 202 }, refused, refused]);
      vi.advanceTimersByTime(1000);
      expect(await burst()).toEqual([{ status: 202 }, { status: 202 }, { status: 202 }, refused, refused]);
    } finally {
      vi.useRealTimers();
      await limited.close();
    }
  });

  it('serves the OpenAPI document with every route', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys(res.json().paths);
    for (const p of ['/authz/v1/oauth2/token', '/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/track', '/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/trackingStatus', '/admin/v1/issuers/{issuerId}', '/admin/v1/production-sites/{siteId}', '/admin/v1/operations', '/healthz', '/readyz', '/metrics']) {
      expect(paths).toContain(p);
    }
  });

  it('never returns secrets from the Admin API and refuses it without the admin token', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/admin/v1/issuers/${ISSUER}`, headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toMatch(/whsec_/);
    const noAuth = await t.app.inject({ method: 'GET', url: `/admin/v1/issuers/${ISSUER}` });
    expect(noAuth.statusCode).toBe(401);
    const site = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/London', headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' }, payload: { name: 'London bureau', carriers: ['fedex'] } });
    expect(site.statusCode).toBe(201);
    expect(site.json().apiKey).toMatch(/^sk_/);
    const read = await t.app.inject({ method: 'GET', url: '/admin/v1/production-sites/London', headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' } });
    expect(read.body).not.toContain(site.json().apiKey);
  });

  it('refuses an unknown Admin API field instead of dropping it, naming the field', async () => {
    const headers = { authorization: 'Bearer test-admin-token-0123456789abcdef' };
    const typo = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/Paris', headers, payload: { name: 'Paris bureau', carrier: ['fedex'] } });
    expect(typo.statusCode).toBe(400);
    expect(typo.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'carrier: is not a known field' });
    const nested = await t.app.inject({
      method: 'PUT',
      url: `/admin/v1/issuers/${ISSUER}`,
      headers,
      payload: { name: 'Bank', notificationBaseUrl: 'https://bank.example', jwks: { keys: [] }, notificationAuth: { tokenUrl: 'https://bank.example/t', clientId: 'c', clientSecret: 's', scope: 'x' } },
    });
    expect(nested.statusCode).toBe(400);
    expect(nested.json().error).toBe('notificationAuth.scope: is not a known field');
    const unchanged = await t.app.inject({ method: 'GET', url: '/admin/v1/production-sites/Paris', headers });
    expect(unchanged.statusCode).toBe(404);
  });
});
