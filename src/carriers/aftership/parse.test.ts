import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/fixtures/carriers/load.ts';
import { unknownCount } from '../../../test/fixtures/carriers/unknown-count.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import type { HttpClient, HttpResponse } from '../provider.ts';
import { AftershipProvider } from './client.ts';
import { type AftershipEnvelope, aftershipStatusRow, parseAftershipResponse } from './parse.ts';
import { AFTERSHIP_SUBTAGS, AFTERSHIP_TAGS } from './statuses.ts';

const parse = (file: string, n: string, carrier: Parameters<typeof parseAftershipResponse>[2] = 'fedex') =>
  parseAftershipResponse(fixture<AftershipEnvelope>('aftership', file), n, carrier);
function found(r: TrackResult | undefined) {
  if (r?.kind !== 'found') throw new Error(`expected found, got ${JSON.stringify(r)}`);
  return r.snapshot;
}

describe('parseAftershipResponse', () => {
  it('reads the v4 envelope: offsets that change along the route, location-only places, no AfterShip EDD', () => {
    const s = found(parse('v4-get-tracking-delivered.json', '612345678904'));
    expect(s.status).toBe('DELIVERED');
    expect(s.checkpoints.map((c) => c.checkpointTime)).toEqual([
      '2026-03-01T06:21:39.000Z',
      '2026-03-01T10:00:00.000Z',
      '2026-03-02T22:00:00.000Z',
      '2026-03-04T01:10:00.000Z',
    ]);
    expect(s.checkpoints.at(-1)).toMatchObject({ city: 'OSAKA', countryCode: 'JP', raw: { code: 'FDX_SCAN', description: 'Delivered' } });
    expect(s.lastUpdatedAt).toBe('2026-03-04T01:10:00.000Z');
    expect(s.estimatedDeliveryDate).toBeUndefined();
  });

  it('reads the dated-API envelope (tracking in data), local times without offset, the courier EDD', async () => {
    const before = await unknownCount('aftership', 'InTransit_099');
    const s = found(parse('2026-07-get-tracking-attempt-fail.json', '9400100000000000000055', 'usps-iv-api'));
    expect(await unknownCount('aftership', 'InTransit_099')).toBe(before + 1);
    expect(s).toMatchObject({ carrier: 'usps-iv-api', status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' });
    expect(s.checkpoints.map((c) => c.raw.code)).toEqual(['GX', 'ZZ', '56']);
    // Florida wall clock (EDT, UTC-4).
    expect(s.checkpoints.at(-1)?.checkpointTime).toBe('2026-04-10T19:20:00.000Z');
    expect(s.checkpoints[1].status).toBe('IN_TRANSIT');
    expect(s.estimatedDeliveryDate).toBe('2026-04-11T04:00:00.000Z');
  });

  it('reads the first tracking of a list answer', () => {
    expect(found(parse('2026-07-list-trackings-one.json', '9400100000000000000055', 'usps-iv-api')).status).toBe('FAILED_ATTEMPT');
  });

  it('in a list answer reads the entry of the requested number and slug, not the first one', () => {
    const list = 'v4-list-trackings-several.json';
    expect(found(parse(list, '612345678904', 'dhl'))).toMatchObject({ carrier: 'dhl', status: 'IN_TRANSIT' });
    expect(found(parse(list, '612345678904', 'fedex')).status).toBe('DELIVERED');
    // A number the list does not hold, or holds only at another courier, is not found rather than someone else's.
    expect(parse(list, '9400100000000000000055', 'usps-iv-api').kind).toBe('not_found');
    expect(parse(list, '1Z999AA10100002222', 'dhl').kind).toBe('not_found');
  });

  it('splits a trailing country code off a location-only place ("DONGGUAN CN"), but not a US state', () => {
    const body = (location: string, country_iso3: string | null) => ({
      meta: { code: 200 },
      data: { tracking: { tracking_number: '612345678904', slug: 'fedex', tag: 'InTransit', checkpoints: [{ checkpoint_time: '2026-03-01T10:00:00+08:00', message: 'Picked up', tag: 'InTransit', location, city: null, country_iso3 }] } },
    });
    const place = (location: string, iso3: string | null) => {
      const r = parseAftershipResponse(body(location, iso3), '612345678904', 'fedex');
      if (r.kind !== 'found') throw new Error(JSON.stringify(r));
      const c = r.snapshot.checkpoints[0];
      return { city: c.city, countryCode: c.countryCode };
    };
    expect(place('DONGGUAN CN', null)).toEqual({ city: 'DONGGUAN', countryCode: 'CN' });
    expect(place('DONGGUAN CN', 'CHN')).toEqual({ city: 'DONGGUAN', countryCode: 'CN' });
    expect(place('MEMPHIS, TN', 'USA')).toEqual({ city: 'MEMPHIS, TN', countryCode: 'US' });
  });

  it('reads "Expired" without any checkpoint as AfterShip never having had carrier data: not found', () => {
    expect(parse('v4-list-trackings-several.json', '1Z999AA10100002222', 'ups').kind).toBe('not_found');
  });

  it('reads a just-created tracking as pending with no checkpoints', () => {
    expect(found(parse('v4-post-tracking-created-pending.json', 'RR123456785FR', 'la-poste-colissimo'))).toMatchObject({ status: 'PENDING', checkpoints: [] });
  });

  it('maps meta codes: 4004 not found, 401 non-retryable error', () => {
    expect(parse('error-4004-not-found.json', 'x')).toMatchObject({ kind: 'not_found' });
    expect(parse('error-401-invalid-api-key.json', 'x')).toMatchObject({ kind: 'error', retryable: false });
  });

  it('survives an unknown tag and a checkpoint without a time', () => {
    const s = found(parse('exception-unknown-tag.json', 'CX000000001SG', 'singapore-post'));
    expect(s.status).toBe('IN_TRANSIT');
    expect(s.checkpoints).toHaveLength(1);
    expect(s.checkpoints[0]).toMatchObject({ status: 'RETURNED_TO_SENDER', countryCode: 'SG', checkpointTime: '2026-05-01T02:00:00.000Z' });
  });
});

describe('AfterShip status tables', () => {
  it.each(Object.entries(AFTERSHIP_TAGS))('tag %s maps to its row', (tag, row) => {
    expect(aftershipStatusRow(tag, undefined)).toEqual(row);
  });
  it.each(Object.entries(AFTERSHIP_SUBTAGS))('subtag %s maps to its row', (subtag, row) => {
    expect(aftershipStatusRow(subtag.split('_')[0], subtag)).toEqual(row);
  });
  it('falls back to the tag for an unknown subtag', () => {
    expect(aftershipStatusRow('Exception', 'Exception_077')).toEqual({ status: 'EXCEPTION' });
  });
});

describe('AftershipProvider', () => {
  function fakeHttp(answers: Record<string, HttpResponse[]>) {
    const calls: string[] = [];
    const http: HttpClient = async (url, init) => {
      const key = `${init.method} ${url.replace('https://as.test/tracking/2026-07', '')}`;
      calls.push(key);
      const next = answers[key]?.shift();
      if (!next) throw new Error(`unexpected call ${key}`);
      return next;
    };
    return { http, calls };
  }
  const ok = (file: string, status = 200): HttpResponse => ({ status, headers: {}, body: JSON.stringify(fixture('aftership', file)) });

  it('registers a number, reads it by id afterwards, and sends the API key', async () => {
    const seen: Record<string, string>[] = [];
    const { http, calls } = fakeHttp({
      'POST /trackings': [ok('v4-post-tracking-created-pending.json', 201)],
      'GET /trackings/0011aa22bb33cc44dd55ee66ff778899': [ok('v4-post-tracking-created-pending.json')],
    });
    const p = new AftershipProvider({ baseUrl: 'https://as.test', apiKey: 'k1' }, async (u, i) => {
      seen.push(i.headers ?? {});
      return http(u, i);
    });
    const req = [{ carrier: 'la-poste-colissimo' as const, trackingNumber: 'RR123456785FR' }];
    expect(found((await p.track(req)).get('RR123456785FR')).status).toBe('PENDING');
    await p.track(req);
    expect(calls).toEqual(['POST /trackings', 'GET /trackings/0011aa22bb33cc44dd55ee66ff778899']);
    expect(seen[0]['as-api-key']).toBe('k1');
  });

  it('reads the existing tracking when the number is already registered (4003)', async () => {
    const { http, calls } = fakeHttp({
      'POST /trackings': [ok('error-4003-already-exists.json', 400)],
      'GET /trackings?tracking_numbers=9400100000000000000055&slug=usps-iv-api': [ok('2026-07-list-trackings-one.json')],
    });
    const p = new AftershipProvider({ baseUrl: 'https://as.test', apiKey: 'k' }, http);
    const r = await p.track([{ carrier: 'usps-iv-api', trackingNumber: '9400100000000000000055' }]);
    expect(found(r.get('9400100000000000000055')).status).toBe('FAILED_ATTEMPT');
    expect(calls).toHaveLength(2);
  });

  it('reports 429 as retryable with the reset time', async () => {
    const reset = Math.floor(Date.now() / 1000) + 30;
    const { http } = fakeHttp({ 'POST /trackings': [{ status: 429, headers: { 'x-ratelimit-reset': String(reset) }, body: '{}' }] });
    const p = new AftershipProvider({ baseUrl: 'https://as.test' }, http);
    const r = (await p.track([{ carrier: 'nacex', trackingNumber: 'N1' }])).get('N1');
    expect(r).toMatchObject({ kind: 'error', retryable: true });
    expect(r?.kind === 'error' && r.retryAfterMs).toBeGreaterThan(20_000);
  });
});
