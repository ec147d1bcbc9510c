import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneSiteEvents } from '../src/sites/ingest.ts';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const ISSUER = 'SITEBANK01';
const OTHER_ISSUER = 'SITEBANK02';

function event(i: number | string, extra: Record<string, unknown> = {}) {
  return { eventId: `ev-${i}`, issuerId: ISSUER, cardId: `card-${i}`, type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z', ...extra };
}

describe.each(STORE_KINDS)('Site API on %s', (kind) => {
  let t: TestApp;
  let keyA: string;
  let keyB: string;
  let token: string;

  const putSite = async (siteId: string, body: Record<string, unknown>) =>
    t.app.inject({ method: 'PUT', url: `/admin/v1/production-sites/${siteId}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: body });
  const post = (siteId: string, key: string | undefined, payload: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: `/sites/v1/production-sites/${siteId}/events`,
      headers: { ...(key ? { 'x-api-key': key } : {}), 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  let otherToken: string;
  const track = async (cardId: string, body: Record<string, unknown>, issuerId = ISSUER) => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/banking/v1/issuers/${issuerId}/physicalCards/${cardId}/track`,
      headers: { authorization: `Bearer ${issuerId === ISSUER ? token : otherToken}` },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(202);
    return res.json().operationId as string;
  };
  const operation = async (operationId: string) => {
    const row = await t.store.db.selectFrom('operations').select(['state', 'wake_at', 'tracking_number']).where('operation_id', '=', operationId).executeTakeFirstOrThrow();
    return { ...(row.state as unknown as { status: string; open: boolean; parcel?: { trackingNumber: string; carrier: string } }), wakeAt: row.wake_at, trackingNumber: row.tracking_number };
  };
  const outbox = async (operationId: string) =>
    (await t.store.db.selectFrom('outbox').select('payload').where('operation_id', '=', operationId).orderBy('sequence_number').execute()).map((r) => JSON.parse(r.payload));

  beforeAll(async () => {
    t = await testApp(kind);
    token = (await readyIssuer(t.app, ISSUER)).token;
    const a = await putSite('SITE-A', { name: 'Bureau A', carriers: ['fedex'] });
    expect(a.statusCode).toBe(201);
    keyA = a.json().apiKey;
    keyB = (await putSite('SITE-B', { name: 'Bureau B' })).json().apiKey;
  });
  afterAll(async () => t?.close());

  it('registers a site with a key shown once and stored only as a hash; carriers are checked', async () => {
    expect(keyA).toMatch(/^sk_/);
    const again = await putSite('SITE-A', { name: 'Bureau A renamed', carriers: ['fedex'] });
    expect(again.statusCode).toBe(200);
    expect(again.json().apiKey).toBeUndefined();
    const read = await t.app.inject({ method: 'GET', url: '/admin/v1/production-sites/SITE-A', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(read.body).not.toContain(keyA);
    expect(read.json().hasApiKey).toBe(true);
    const row = await t.store.db.selectFrom('production_sites').select('api_key_hash').where('site_id', '=', 'SITE-A').executeTakeFirstOrThrow();
    expect(row.api_key_hash).not.toContain(keyA);
    expect(row.api_key_hash).toHaveLength(64);
    const badCarrier = await putSite('SITE-C', { name: 'C', carriers: ['pigeon-post'] });
    expect(badCarrier.statusCode).toBe(400);
    expect(badCarrier.json()).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: expect.stringMatching(/^carriers: pigeon-post is not a supported carrier code; use one of .*fedex/) });
  });

  it('401 without a key or with an unknown one, 403 with another site key', async () => {
    const none = await post('SITE-A', undefined, { events: [event('auth')] });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ errorCode: 'AUTHORIZER_UNAUTHORIZED', error: expect.any(String) });
    expect((await post('SITE-A', 'sk_not_a_real_key_0000000000', { events: [event('auth')] })).statusCode).toBe(401);
    const other = await post('SITE-A', keyB, { events: [event('auth')] });
    expect(other.statusCode).toBe(403);
    expect(other.json().errorCode).toBe('FORBIDDEN');
    const stored = await t.store.db.selectFrom('production_sites').select('site_id').execute();
    expect(stored.length).toBeGreaterThan(0);
    const count = await sql<{ n: number }>`select count(*)::int as n from site_events where event_id = 'ev-auth'`.execute(t.store.db);
    expect(count.rows[0].n).toBe(0);
  });

  it('rejects each bad field alone and keeps the good events', async () => {
    const bad: [Record<string, unknown>, string, string][] = [
      [{ eventId: undefined }, 'FIELD_INVALID_FORMAT', 'eventId'],
      [{ eventId: 'has space' }, 'FIELD_INVALID_FORMAT', 'eventId'],
      [{ issuerId: 'short' }, 'FIELD_INVALID_FORMAT', 'issuerId'],
      [{ cardId: 'x'.repeat(49) }, 'FIELD_INVALID_FORMAT', 'cardId'],
      [{ cardId: undefined }, 'FIELD_INVALID_FORMAT', 'cardId'],
      [{ type: 'CARD_LOST' }, 'FIELD_INVALID_VALUE', 'type'],
      [{ type: 42 }, 'FIELD_INVALID_FORMAT', 'type'],
      [{ occurredAt: 'yesterday' }, 'FIELD_INVALID_FORMAT', 'occurredAt'],
      [{ occurredAt: '2026-02-31T10:00:00Z' }, 'FIELD_INVALID_VALUE', 'occurredAt'],
      [{ occurredAt: '2999-01-01T00:00:00Z' }, 'FIELD_INVALID_VALUE', 'occurredAt'],
      [{ carrier: 'pigeon-post' }, 'FIELD_INVALID_VALUE', 'carrier'],
      [{ trackingNumber: 'ab' }, 'FIELD_INVALID_FORMAT', 'trackingNumber'],
      [{ reason: 'x'.repeat(501) }, 'FIELD_INVALID_FORMAT', 'reason'],
      [{ colour: 'red' }, 'FIELD_INVALID_VALUE', 'colour'],
    ];
    const events: unknown[] = [event('good-1')];
    for (const [i, [patch]] of bad.entries()) events.push(JSON.parse(JSON.stringify(event(`bad-${i}`, patch))));
    events.push('not an object', event('good-2', { carrier: 'fedex', trackingNumber: '771234500102', reason: 'posted' }));
    const res = await post('SITE-A', keyA, { events });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body.accepted).toBe(2);
    expect(body.duplicates).toBe(0);
    expect(body.rejected).toHaveLength(bad.length + 1);
    for (const [i, [, code, field]] of bad.entries()) {
      expect(body.rejected[i]).toEqual({ index: i + 1, errorCode: code, error: expect.stringMatching(new RegExp(`^${field}: `)) });
    }
    expect(body.rejected.at(-1)).toMatchObject({ index: bad.length + 1, errorCode: 'FIELD_INVALID_FORMAT' });
  });

  it('a body that starts with a byte-order mark is read as the other routes read it', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ events: [event('bom-1')] }))]);
    const res = await t.app.inject({ method: 'POST', url: '/sites/v1/production-sites/SITE-A/events', headers: { 'x-api-key': keyA, 'content-type': 'application/json' }, payload: bytes });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: [] });
  });

  it('a body that is not UTF-8 is refused whole, never stored with U+FFFD in its place', async () => {
    const bytes = Buffer.from(JSON.stringify({ events: [event('latin1', { reason: 'Caf\u00e9' })] }).replace('\u00e9', '\xe9'), 'latin1');
    const res = await t.app.inject({ method: 'POST', url: '/sites/v1/production-sites/SITE-A/events', headers: { 'x-api-key': keyA, 'content-type': 'application/json' }, payload: bytes });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ errorCode: 'PARSING_ERROR', error: 'body is not valid UTF-8' });
  });

  it('a value the store could not keep rejects its own event alone, in the caller order; the good ones are stored', async () => {
    const events = [
      event('keep-1'),
      event('year-0', { occurredAt: '0000-01-01T00:00:00+23:59' }),
      event('surrogate', { reason: 'half \ud800 pair' }),
      event('nul', { reason: 'nul \u0000 inside' }),
      event('last-century', { occurredAt: '1999-12-31T23:59:59Z' }),
      event('keep-2', { reason: 'thumbs \ud83d\udc4d up' }),
      event('line-separator', { reason: 'one\u2028two' }),
      event('bidi-override', { reason: 'paid \u202e999' }),
      event('zero-width', { reason: 'pa\u200bid' }),
    ];
    const res = await post('SITE-A', keyA, { events });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: [
        { index: 1, errorCode: 'FIELD_INVALID_VALUE', error: 'occurredAt: is before 2000-01-01T00:00:00Z' },
        { index: 2, errorCode: 'FIELD_INVALID_FORMAT', error: 'reason: must be well-formed text (a lone UTF-16 surrogate is not)' },
        { index: 3, errorCode: 'FIELD_INVALID_FORMAT', error: 'reason: must be at most 500 characters without control, invisible or bidirectional formatting characters, or line separators' },
        { index: 4, errorCode: 'FIELD_INVALID_VALUE', error: 'occurredAt: is before 2000-01-01T00:00:00Z' },
        { index: 6, errorCode: 'FIELD_INVALID_FORMAT', error: 'reason: must be at most 500 characters without control, invisible or bidirectional formatting characters, or line separators' },
        { index: 7, errorCode: 'FIELD_INVALID_FORMAT', error: 'reason: must be at most 500 characters without control, invisible or bidirectional formatting characters, or line separators' },
        { index: 8, errorCode: 'FIELD_INVALID_FORMAT', error: 'reason: must be at most 500 characters without control, invisible or bidirectional formatting characters, or line separators' },
      ],
    });
    const stored = await sql<{ event_id: string; reason: string | null }>`
      select event_id, reason from site_events where site_id = 'SITE-A' and event_id in ('ev-keep-1', 'ev-keep-2') order by event_id`.execute(t.store.db);
    expect(stored.rows).toEqual([
      { event_id: 'ev-keep-1', reason: null },
      { event_id: 'ev-keep-2', reason: 'thumbs \ud83d\udc4d up' },
    ]);
  });

  it('when the store refuses a batch anyway, it is stored in parts: only the refused events are rejected, in order', async () => {
    // A value validation let through but the store refuses (a data exception), as a trigger raises it.
    await sql`create function refuse_poison() returns trigger language plpgsql as $$
      begin if new.card_id like 'poison-%' then raise exception 'poisoned' using errcode = '22023'; end if; return new; end $$`.execute(t.store.db);
    await sql`create trigger refuse_poison before insert on site_events for each row execute function refuse_poison()`.execute(t.store.db);
    try {
      const events = [event('fb-1'), event('fb-2', { cardId: 'poison-1' }), event('fb-3'), event('fb-1'), event('fb-4'), event('fb-5', { cardId: 'poison-2' }), event('fb-6')];
      const res = await post('SITE-A', keyA, { events });
      expect(res.statusCode, res.body).toBe(202);
      const refused = 'event: the store refused a value of this event (SQLSTATE 22023)';
      expect(res.json()).toEqual({
        accepted: 4,
        duplicates: 1,
        rejected: [
          { index: 1, errorCode: 'FIELD_INVALID_VALUE', error: refused },
          { index: 5, errorCode: 'FIELD_INVALID_VALUE', error: refused },
        ],
      });
      const stored = await sql<{ event_id: string }>`select event_id from site_events where event_id like 'ev-fb-%' order by event_id`.execute(t.store.db);
      expect(stored.rows.map((r) => r.event_id)).toEqual(['ev-fb-1', 'ev-fb-3', 'ev-fb-4', 'ev-fb-6']);
    } finally {
      await sql`drop trigger refuse_poison on site_events`.execute(t.store.db);
      await sql`drop function refuse_poison()`.execute(t.store.db);
    }
  });

  it('a resend is a duplicate, also inside one batch; eventIds are per site', async () => {
    const first = await post('SITE-A', keyA, { events: [event('dup-1'), event('dup-2'), event('dup-2')] });
    expect(first.json()).toEqual({ accepted: 2, duplicates: 1, rejected: [] });
    const again = await post('SITE-A', keyA, { events: [event('dup-1'), event('dup-2')] });
    expect(again.json()).toEqual({ accepted: 0, duplicates: 2, rejected: [] });
    const otherSite = await post('SITE-B', keyB, { events: [event('dup-1')] });
    expect(otherSite.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });

  it('takes 1000 events in one call and refuses 1001; whole-body garbage and oversize get the error body', async () => {
    const thousand = Array.from({ length: 1000 }, (_, i) => event(`k-${i}`));
    const ok = await post('SITE-A', keyA, { events: thousand });
    expect(ok.statusCode).toBe(202);
    expect(ok.json().accepted).toBe(1000);
    const tooMany = await post('SITE-A', keyA, { events: [...thousand, event('k-1000')] });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^events: /) });
    expect((await post('SITE-A', keyA, { events: [] })).json().errorCode).toBe('FIELD_INVALID_FORMAT');
    expect((await post('SITE-A', keyA, { events: 'x' })).json().errorCode).toBe('FIELD_INVALID_FORMAT');
    expect((await post('SITE-A', keyA, [1, 2])).statusCode).toBe(400);
    expect((await post('SITE-A', keyA, { events: [event('z')], extra: 1 })).json().errorCode).toBe('FIELD_INVALID_VALUE');
    const garbage = await post('SITE-A', keyA, '{"events": [ nope');
    expect(garbage.statusCode).toBe(400);
    expect(garbage.json().errorCode).toBe('PARSING_ERROR');
    const wrongType = await post('SITE-A', keyA, 'events=1', { 'content-type': 'text/plain' });
    expect(wrongType.statusCode).toBe(415);
    const huge = `{"events":[${JSON.stringify(event('big', { reason: 'x'.repeat(400) }))}${`,${JSON.stringify(event('big', { reason: 'x'.repeat(400) }))}`.repeat(11_000)}]}`;
    expect(huge.length).toBeGreaterThan(4 * 1024 * 1024);
    const tooLarge = await post('SITE-A', keyA, huge);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().errorCode).toBe('PAYLOAD_TOO_LARGE');
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.paths['/sites/v1/production-sites/{siteId}/events'].post).toBeDefined();
    expect(doc.components.securitySchemes.siteApiKey).toMatchObject({ type: 'apiKey', name: 'x-api-key' });
  });

  it('PRODUCTION completes on a report after the request, and on a report that came before it', async () => {
    const after = await track('prod-after', { trackingType: 'PRODUCTION' });
    expect((await operation(after)).status).toBe('PENDING');
    await post('SITE-A', keyA, { events: [event('pa', { cardId: 'prod-after' })] });
    expect(await operation(after)).toMatchObject({ status: 'SUCCESSFUL', open: false, wakeAt: null });
    const sent = await outbox(after);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ status: 'SUCCESSFUL', sequenceNumber: 1, details: { trackingType: 'PRODUCTION', status: 'CARD_SHIPPED' } });

    await post('SITE-A', keyA, { events: [event('pb', { cardId: 'prod-before' })] });
    const before = await track('prod-before', { trackingType: 'PRODUCTION' });
    expect((await operation(before)).status).toBe('SUCCESSFUL');
    expect((await outbox(before)).map((o) => o.status)).toEqual(['SUCCESSFUL']);
    const matched = await sql<{ matched_operation_id: string }>`select matched_operation_id from site_events where event_id = 'ev-pb'`.execute(t.store.db);
    expect(matched.rows[0].matched_operation_id).toBe(before);
  });

  it('a resend ahead of a new report of the same card in one batch: the new report completes the request and is noted as its match', async () => {
    const first = await track('prod-resend', { trackingType: 'PRODUCTION' });
    await post('SITE-A', keyA, { events: [event('rs-1', { cardId: 'prod-resend' })] });
    expect((await operation(first)).status).toBe('SUCCESSFUL');
    const second = await track('prod-resend', { trackingType: 'PRODUCTION' });
    expect((await operation(second)).status).toBe('PENDING');
    // rs-1 is expected to complete `second` until the insert shows it is a resend; rs-2 then does.
    const res = await post('SITE-A', keyA, { events: [event('rs-1', { cardId: 'prod-resend' }), event('rs-2', { cardId: 'prod-resend' })] });
    expect(res.json()).toMatchObject({ accepted: 1, duplicates: 1, rejected: [] });
    expect(await operation(second)).toMatchObject({ status: 'SUCCESSFUL', open: false });
    const rows = await sql<{ event_id: string; matched_operation_id: string }>`
      select event_id, matched_operation_id from site_events where event_id in ('ev-rs-1', 'ev-rs-2') order by event_id`.execute(t.store.db);
    expect(rows.rows).toEqual([
      { event_id: 'ev-rs-1', matched_operation_id: first },
      { event_id: 'ev-rs-2', matched_operation_id: second },
    ]);
  });

  it('a request naming its production site listens to that site only', async () => {
    const op = await track('prod-named', { trackingType: 'PRODUCTION', productionSite: 'SITE-A' });
    await post('SITE-B', keyB, { events: [event('named-b', { cardId: 'prod-named' })] });
    expect((await operation(op)).status).toBe('PENDING');
    await post('SITE-A', keyA, { events: [event('named-a', { cardId: 'prod-named' })] });
    expect((await operation(op)).status).toBe('SUCCESSFUL');
    // And a report from the wrong site that came first does not complete a later request either.
    await post('SITE-B', keyB, { events: [event('named-b2', { cardId: 'prod-named-2' })] });
    const later = await track('prod-named-2', { trackingType: 'PRODUCTION', productionSite: 'SITE-A' });
    expect((await operation(later)).status).toBe('PENDING');
  });

  it('a CARD_RETURNED completes a RETURN; a CARD_SHIPPED does not', async () => {
    const op = await track('ret-1', { trackingType: 'RETURN' });
    await post('SITE-A', keyA, { events: [event('r-ship', { cardId: 'ret-1' })] });
    expect((await operation(op)).status).toBe('PENDING');
    await post('SITE-A', keyA, { events: [event('r-ret', { cardId: 'ret-1', type: 'CARD_RETURNED', reason: 'address unknown' })] });
    expect((await outbox(op)).map((o) => [o.status, o.details.status])).toEqual([['SUCCESSFUL', 'CARD_RETURNED']]);
  });

  it('a RETURN gets the card shipment parcel to poll: from a CARD_SHIPPED report, before or after the request', async () => {
    await post('SITE-A', keyA, { events: [event('rp-1', { cardId: 'ret-parcel-1', trackingNumber: '771234500834' })] });
    const before = await operation(await track('ret-parcel-1', { trackingType: 'RETURN' }));
    expect(before.parcel).toMatchObject({ carrier: 'fedex', trackingNumber: '771234500834' });
    expect(before.trackingNumber).toBe('771234500834');
    expect(new Date(before.wakeAt as Date).getTime()).toBeLessThanOrEqual(Date.now());

    const opId = await track('ret-parcel-2', { trackingType: 'RETURN' });
    expect((await operation(opId)).parcel).toBeUndefined();
    await post('SITE-A', keyA, { events: [event('rp-2', { cardId: 'ret-parcel-2', trackingNumber: '771234500834', carrier: 'fedex' })] });
    const after = await operation(opId);
    expect(after.parcel).toMatchObject({ carrier: 'fedex', trackingNumber: '771234500834' });
    expect(after.trackingNumber).toBe('771234500834');
    expect(after.status).toBe('PENDING');
  });

  it('a RETURN without a report gets the parcel of an earlier SHIPMENT of the card', async () => {
    await track('ret-ship', { trackingType: 'SHIPMENT', trackingNumber: '771234500834' });
    const ret = await operation(await track('ret-ship', { trackingType: 'RETURN' }));
    expect(ret.parcel).toMatchObject({ carrier: 'fedex', trackingNumber: '771234500834' });
  });

  it('autoTrackShipment opens a SHIPMENT from a CARD_SHIPPED report with a tracking number, and sends its PENDING', async () => {
    const auto = await readyIssuer(t.app, OTHER_ISSUER);
    expect(auto.token).toBeTruthy();
    otherToken = auto.token;
    await t.store.db.updateTable('issuers').set({ auto_track_shipment: true }).where('issuer_id', '=', OTHER_ISSUER).execute();
    const res = await post('SITE-A', keyA, {
      events: [
        event('auto-1', { issuerId: OTHER_ISSUER, cardId: 'auto-card', trackingNumber: '771234500102' }),
        event('auto-2', { issuerId: OTHER_ISSUER, cardId: 'auto-none' }),
        event('auto-3', { cardId: 'auto-off', trackingNumber: '771234500102' }),
      ],
    });
    expect(res.json().accepted).toBe(3);
    const ops = await t.store.db.selectFrom('operations').select(['operation_id', 'card_id', 'tracking_type', 'tracking_number', 'carrier']).where('card_id', 'in', ['auto-card', 'auto-none', 'auto-off']).execute();
    expect(ops).toEqual([expect.objectContaining({ card_id: 'auto-card', tracking_type: 'SHIPMENT', tracking_number: '771234500102', carrier: 'fedex' })]);
    const sent = await outbox(ops[0].operation_id);
    expect(sent).toEqual([expect.objectContaining({ status: 'PENDING', issuerId: OTHER_ISSUER, details: expect.objectContaining({ trackingType: 'SHIPMENT', status: 'CARD_SHIPPED', productionSite: 'SITE-A' }) })]);
  });

  it("autoTrackShipment never supersedes the issuer's own SHIPMENT of the card", async () => {
    const own = await track('auto-own', { trackingType: 'SHIPMENT', trackingNumber: '771234500102', countryCode: 'US' }, OTHER_ISSUER);
    const res = await post('SITE-A', keyA, { events: [event('auto-own', { issuerId: OTHER_ISSUER, cardId: 'auto-own', trackingNumber: '771234500102' })] });
    expect(res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const ops = await t.store.db.selectFrom('operations').select(['operation_id', 'is_open']).where('card_id', '=', 'auto-own').execute();
    expect(ops).toEqual([{ operation_id: own, is_open: true }]);
    expect((await outbox(own)).map((o) => o.status)).toEqual(['PENDING']);
  });

  it("a card tracked with another site: that site's report is refused alone and opens no SHIPMENT", async () => {
    const prod = await track('auto-named', { trackingType: 'PRODUCTION', productionSite: 'SITE-A' }, OTHER_ISSUER);
    const res = await post('SITE-B', keyB, {
      events: [
        event('named-x', { issuerId: OTHER_ISSUER, cardId: 'auto-named', trackingNumber: '771234500102' }),
        event('named-ok', { issuerId: OTHER_ISSUER, cardId: 'auto-free' }),
      ],
    });
    expect(res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [{ index: 0, errorCode: 'FIELD_INVALID_VALUE', error: 'cardId: the card is tracked with another production site' }] });
    const ops = await t.store.db.selectFrom('operations').select(['operation_id', 'tracking_type']).where('card_id', '=', 'auto-named').execute();
    expect(ops).toEqual([{ operation_id: prod, tracking_type: 'PRODUCTION' }]);
    const stored = await sql<{ n: number }>`select count(*)::int as n from site_events where event_id = 'ev-named-x'`.execute(t.store.db);
    expect(stored.rows[0].n).toBe(0);
    // Another open operation the site may report (a RETURN naming no site) lets the report in, still without a SHIPMENT.
    await track('auto-named', { trackingType: 'RETURN' }, OTHER_ISSUER);
    const mixed = await post('SITE-B', keyB, { events: [event('named-y', { issuerId: OTHER_ISSUER, cardId: 'auto-named', trackingNumber: '771234500102' })] });
    expect(mixed.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const after = await t.store.db.selectFrom('operations').select('tracking_type').where('card_id', '=', 'auto-named').execute();
    expect(after.map((o) => o.tracking_type).sort()).toEqual(['PRODUCTION', 'RETURN']);
    expect((await operation(prod)).status).toBe('PENDING');
  });

  it('a request without productionSite completed by a site names that site in its notification', async () => {
    const after = await track('prod-site-after', { trackingType: 'PRODUCTION' });
    await post('SITE-B', keyB, { events: [event('psa', { cardId: 'prod-site-after' })] });
    expect((await outbox(after))[0].details).toEqual({ trackingType: 'PRODUCTION', productionSite: 'SITE-B', status: 'CARD_SHIPPED' });
    await post('SITE-B', keyB, { events: [event('psb', { cardId: 'prod-site-before', type: 'CARD_RETURNED' })] });
    const before = await track('prod-site-before', { trackingType: 'RETURN' });
    expect((await outbox(before))[0].details).toEqual({ trackingType: 'RETURN', productionSite: 'SITE-B', status: 'CARD_RETURNED' });
  });

  it('keeps a report 180 days: an older one no longer matches and is pruned', async () => {
    await post('SITE-A', keyA, { events: [event('old-1', { cardId: 'old-card' }), event('fresh-1', { cardId: 'fresh-card' })] });
    await sql`update site_events set received_at = now() - interval '181 days' where event_id = 'ev-old-1'`.execute(t.store.db);
    const late = await track('old-card', { trackingType: 'PRODUCTION' });
    expect((await operation(late)).status).toBe('PENDING');
    expect(await pruneSiteEvents(t.store.db)).toBe(1);
    const left = await sql<{ event_id: string }>`select event_id from site_events where event_id in ('ev-old-1', 'ev-fresh-1')`.execute(t.store.db);
    expect(left.rows.map((r) => r.event_id)).toEqual(['ev-fresh-1']);
  });
});
