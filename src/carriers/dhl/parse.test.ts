import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/fixtures/carriers/load.ts';
import { unknownCount } from '../../../test/fixtures/carriers/unknown-count.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { type DhlTrackResponse, dhlStatusRow, parseDhlTrackResponse } from './parse.ts';
import { DHL_EXPRESS_TYPE_CODES, DHL_STATUS_CODES } from './statuses.ts';

const parse = (file: string, n: string, carrier: 'dhl' | 'deutsch-post' = 'dhl') =>
  parseDhlTrackResponse(fixture<DhlTrackResponse>('dhl', file), n, carrier);
function found(r: TrackResult) {
  if (r.kind !== 'found') throw new Error(`expected found, got ${JSON.stringify(r)}`);
  return r.snapshot;
}

describe('parseDhlTrackResponse', () => {
  it('reads a German parcel-de history: offset-less times are German wall clock, text refines "transit"', () => {
    const s = found(parse('parcel-de-delivered-german.json', '00340434161234567890', 'deutsch-post'));
    expect(s.carrier).toBe('deutsch-post');
    expect(s.status).toBe('DELIVERED');
    expect(s.checkpoints.map((c) => c.status)).toEqual(['INFO_RECEIVED', 'IN_TRANSIT', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED']);
    // 11:05 in Germany in January is CET, UTC+1.
    expect(s.checkpoints.at(-1)?.checkpointTime).toBe('2026-01-20T10:05:00.000Z');
    expect(s.checkpoints.at(-1)?.raw).toEqual({ code: 'delivered', description: 'Die Sendung wurde zugestellt.' });
    expect(s.lastUpdatedAt).toBe('2026-01-20T10:05:00.000Z');
    // Events without a location still parse.
    expect(s.checkpoints[0].city).toBeUndefined();
  });

  it('reads Express events by type code and keeps the carrier estimate', () => {
    const s = found(parse('express-out-for-delivery.json', '1234567892'));
    expect(s.status).toBe('OUT_FOR_DELIVERY');
    expect(s.checkpoints.map((c) => c.status)).toEqual(['IN_TRANSIT', 'IN_TRANSIT', 'OUT_FOR_DELIVERY']);
    expect(s.checkpoints[1].subStatus).toBe('CUSTOMS');
    // The pickup has no offset and happened in the Netherlands (CET).
    expect(s.checkpoints[0].checkpointTime).toBe('2026-02-01T17:05:00.000Z');
    expect(s.checkpoints[0].countryCode).toBe('NL');
    expect(s.estimatedDeliveryDate).toBe('2026-02-03T10:00:00.000Z');
  });

  it('splits "failure" into return and failed attempt, and reports an undocumented statusCode', async () => {
    const before = await unknownCount('dhl', 'something-new');
    const s = found(parse('express-failure-return.json', '1234567803'));
    expect(await unknownCount('dhl', 'something-new')).toBe(before + 1);
    expect(s.status).toBe('RETURNING_TO_SENDER');
    expect(s.checkpoints.map((c) => c.status)).toEqual(['IN_TRANSIT', 'FAILED_ATTEMPT', 'RETURNING_TO_SENDER']);
    expect(s.checkpoints[1].subStatus).toBe('RECIPIENT_NOT_AVAILABLE');
  });

  it('reads a shipment without events', () => {
    const s = found(parse('no-events.json', 'JJD000390007788990011', 'deutsch-post'));
    expect(s).toMatchObject({ status: 'INFO_RECEIVED', checkpoints: [] });
  });

  it('reads the 404 problem document as not found', () => {
    expect(parse('error-404-no-result.json', '9999999990')).toMatchObject({ kind: 'not_found', message: expect.stringMatching(/No shipment/) });
  });

  it('treats a problem document with another status as an error', () => {
    expect(parseDhlTrackResponse({ title: 'Unauthorized', status: 401 }, 'x', 'dhl')).toMatchObject({ kind: 'error', retryable: false });
    expect(parseDhlTrackResponse({ title: 'Too many', status: 429 }, 'x', 'dhl')).toMatchObject({ kind: 'error', retryable: true });
  });
});

describe('DHL status tables', () => {
  it.each(Object.entries(DHL_STATUS_CODES))('statusCode %s maps to its row', (statusCode, row) => {
    expect(dhlStatusRow({ statusCode, status: 'plain text', description: 'plain text' })).toEqual(row);
  });
  it.each(Object.entries(DHL_EXPRESS_TYPE_CODES))('Express type code %s refines the coarse code', (status, row) => {
    expect(dhlStatusRow({ statusCode: 'transit', status, description: 'x' })).toEqual(row);
  });
  it('never lets a phrase turn a delivered event into something else', () => {
    expect(dhlStatusRow({ statusCode: 'delivered', description: 'Delivered; the return label was used' }).status).toBe('DELIVERED');
  });
  it('recognises pickup-point texts in English and German', () => {
    expect(dhlStatusRow({ statusCode: 'transit', description: 'The shipment is ready for pickup at the parcel shop' }).status).toBe('AVAILABLE_FOR_PICKUP');
    expect(dhlStatusRow({ statusCode: 'transit', description: 'Die Sendung liegt in der Filiale zur Abholung bereit.' }).status).toBe('AVAILABLE_FOR_PICKUP');
  });
});

describe('DHL places', () => {
  const cityOf = (addressLocality: string, countryCode = 'DE') => {
    const r = parseDhlTrackResponse(
      { shipments: [{ id: '00340434161234567890', service: 'parcel-de', events: [{ timestamp: '2026-01-19T08:00:00', statusCode: 'transit', description: 'Die Sendung wurde bearbeitet.', location: { address: { addressLocality, countryCode } } }] }] },
      '00340434161234567890',
      'deutsch-post',
    );
    if (r.kind !== 'found') throw new Error(JSON.stringify(r));
    return r.snapshot.checkpoints[0].city;
  };

  it('an addressLocality that is only a country name is not reported as the city', () => {
    expect(cityOf('Deutschland')).toBeUndefined();
    expect(cityOf('GERMANY')).toBeUndefined();
    expect(cityOf('Bonn')).toBe('Bonn');
    // A city that shares its country's name stays.
    expect(cityOf('Singapore', 'SG')).toBe('Singapore');
  });
});
