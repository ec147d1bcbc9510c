import { describe, expect, it } from 'vitest';
import type { TrackResult } from '../domain/shipment.ts';
import { parseAftershipResponse } from './aftership/parse.ts';
import { parseDhlTrackResponse } from './dhl/parse.ts';
import { parseFedexTrackResponse } from './fedex/parse.ts';
import { parseLaPosteResponse } from './laposte/parse.ts';
import { nonEmpty, objects, shapeError } from './parse-util.ts';
import { parseUpsTrackResponse } from './ups/parse.ts';
import { parseUspsTrackingResponse } from './usps/parse.ts';

// Polled bodies are untrusted JSON: whatever their inner types, a parser answers a TrackResult.
const MALFORMED: [string, unknown, (b: unknown) => TrackResult | undefined][] = [
  ['FedEx null result', { output: { completeTrackResults: [null] } }, (b) => parseFedexTrackResponse(b as never, ['794600001111']).get('794600001111')],
  ['FedEx scanEvents text', { output: { completeTrackResults: [{ trackingNumber: '794600001111', trackResults: [{ scanEvents: 'x', dateAndTimes: 'y' }] }] } }, (b) => parseFedexTrackResponse(b as never, ['794600001111']).get('794600001111')],
  ['FedEx numeric fields', { output: { completeTrackResults: [{ trackingNumber: '794600001111', trackResults: [{ scanEvents: [{ date: 5, eventType: 12, exceptionCode: 3, scanLocation: 'x' }] }] }] } }, (b) => parseFedexTrackResponse(b as never, ['794600001111']).get('794600001111')],
  ['FedEx errors of nulls', { errors: [null] }, (b) => parseFedexTrackResponse(b as never, ['794600001111']).get('794600001111')],
  ['FedEx null body', null, (b) => parseFedexTrackResponse(b as never, ['794600001111']).get('794600001111')],
  ['DHL events text', { shipments: [{ id: '5500001111', events: 'x' }] }, (b) => parseDhlTrackResponse(b as never, '5500001111', 'dhl')],
  ['DHL numeric timestamp', { shipments: [{ id: '5500001111', service: 7, status: 'x', events: [{ timestamp: 5, statusCode: 1, location: 'x' }] }] }, (b) => parseDhlTrackResponse(b as never, '5500001111', 'dhl')],
  ['DHL shipments text', { shipments: 'x', status: '500' }, (b) => parseDhlTrackResponse(b as never, '5500001111', 'dhl')],
  ['AfterShip checkpoints text', { meta: { code: 200 }, data: { tracking: { tracking_number: '9405500000000000001111', checkpoints: 'x' } } }, (b) => parseAftershipResponse(b as never, '9405500000000000001111', 'usps-iv-api')],
  ['AfterShip numeric fields', { meta: { code: '200' }, data: { tracking: { tracking_number: '9405500000000000001111', tag: 4, latest_estimated_delivery: 'x', checkpoints: [{ checkpoint_time: 17, message: 3, country_iso3: 9 }] } } }, (b) => parseAftershipResponse(b as never, '9405500000000000001111', 'usps-iv-api')],
  ['AfterShip trackings of nulls', { meta: { code: 200 }, data: { trackings: [null, 3] } }, (b) => parseAftershipResponse(b as never, '9405500000000000001111', 'usps-iv-api')],
  ['UPS shipment text', { trackResponse: { shipment: 'x' } }, (b) => parseUpsTrackResponse(b as never, '1Z999AA10100001111')],
  ['UPS package fields', { trackResponse: { shipment: [{ package: [{ trackingNumber: 1, activity: [null, { date: 20260501, time: 5, gmtOffset: 4 }], deliveryDate: 'x', packageAddress: 'y', deliveryTime: 'z' }] }] } }, (b) => parseUpsTrackResponse(b as never, '1Z999AA10100001111')],
  ['UPS errors text', { response: { errors: [null, { code: 5 }] } }, (b) => parseUpsTrackResponse(b as never, '1Z999AA10100001111')],
  ['USPS events text', { trackingEvents: 'x', status: 5 }, (b) => parseUspsTrackingResponse(b as never, '9405500000000000001111')],
  ['USPS numeric fields', { trackingEvents: [null, { eventTimestamp: 5, eventCode: 1, GMTOffset: 2, eventCountry: 3 }], statusCategory: 4 }, (b) => parseUspsTrackingResponse(b as never, '9405500000000000001111')],
  ['USPS error of numbers', { error: { code: 4, message: 5, errors: 'x' } }, (b) => parseUspsTrackingResponse(b as never, '9405500000000000001111')],
  ['USPS null body', null, (b) => parseUspsTrackingResponse(b as never, '9405500000000000001111')],
  ['La Poste events text', { returnCode: 200, shipment: { idShip: '6A00000000001', event: 'x' } }, (b) => parseLaPosteResponse(b as never, '6A00000000001', 'la-poste-colissimo')],
  ['La Poste null items', [null, { shipment: { idShip: 5, event: [{ date: 5, code: 1 }] } }], (b) => parseLaPosteResponse(b as never, '6A00000000001', 'la-poste-colissimo')],
];

describe('parsers on malformed bodies', () => {
  it.each(MALFORMED)('%s: a TrackResult, never an exception', (_name, body, parse) => {
    let result: TrackResult | undefined;
    expect(() => {
      result = parse(body);
    }).not.toThrow();
    expect(['found', 'not_found', 'error']).toContain(result?.kind);
    // Values of the wrong type are left out, never copied into the snapshot.
    if (result?.kind === 'found') for (const c of result.snapshot.checkpoints) expect(typeof c.checkpointTime).toBe('string');
  });
});

describe('shapeError', () => {
  const shape = { shipments: [{ id: 'scalar', events: [{ timestamp: 'string' }] }] } as const;
  it('names the first field of the wrong type, and accepts missing or null fields', () => {
    expect(shapeError({ shipments: [{ id: 5, events: [{ timestamp: '2026-05-01T10:00:00Z' }] }] }, shape)).toBeUndefined();
    expect(shapeError({ shipments: [{ id: null }] }, shape)).toBeUndefined();
    expect(shapeError({ shipments: [{ events: 'x' }] }, shape)).toBe('body.shipments[0].events');
    expect(shapeError({ shipments: [{ events: [{ timestamp: 5 }] }] }, shape)).toBe('body.shipments[0].events[0].timestamp');
    expect(shapeError({ shipments: [null] }, shape)).toBe('body.shipments[0]');
    expect(shapeError([], shape)).toBe('body');
  });

  it('objects() keeps only the object items of a list', () => {
    expect(objects([null, 1, 'x', { a: 1 }, [2]])).toEqual([{ a: 1 }]);
    expect(objects('x')).toEqual([]);
  });
});

describe('same-instant events of newest-first feeds', () => {
  // Two events in the same minute, listed newest first as these APIs do: the delivery is the newer one.
  it('La Poste: the delivery stays the newest checkpoint and decides the status', () => {
    const body = {
      returnCode: 200,
      shipment: {
        idShip: '6A00000000001',
        event: [
          { code: 'DI1', label: 'Votre colis est livré.', date: '2026-03-09T09:38:00+01:00' },
          { code: 'MD2', label: 'Votre colis est en cours de livraison.', date: '2026-03-09T09:38:00+01:00' },
          { code: 'PC1', label: 'Votre colis est pris en charge.', date: '2026-03-07T10:00:00+01:00' },
        ],
      },
    };
    const r = parseLaPosteResponse(body, '6A00000000001', 'la-poste-colissimo');
    if (r.kind !== 'found') throw new Error(JSON.stringify(r));
    expect(r.snapshot.checkpoints.map((c) => c.raw.code)).toEqual(['PC1', 'MD2', 'DI1']);
    expect(r.snapshot.status).toBe('DELIVERED');
  });

  it('USPS: the delivery stays the newest checkpoint and decides the status', () => {
    const body = {
      trackingNumber: '9400100000000000000055',
      statusCategory: 'Delivered',
      trackingEvents: [
        { eventType: 'Delivered, Parcel Locker', eventTimestamp: '2026-03-09T13:58:00', eventCity: 'DENVER', eventState: 'CO', eventZIP: '80202', eventCode: '01' },
        { eventType: 'Out for Delivery', eventTimestamp: '2026-03-09T13:58:00', eventCity: 'DENVER', eventState: 'CO', eventZIP: '80202', eventCode: 'OF' },
        { eventType: 'Arrived at Post Office', eventTimestamp: '2026-03-09T06:00:00', eventCity: 'DENVER', eventState: 'CO', eventZIP: '80202', eventCode: '07' },
      ],
    };
    const r = parseUspsTrackingResponse(body, '9400100000000000000055');
    if (r.kind !== 'found') throw new Error(JSON.stringify(r));
    expect(r.snapshot.checkpoints.map((c) => c.raw.code)).toEqual(['07', 'OF', '01']);
    expect(r.snapshot.status).toBe('DELIVERED');
  });

  it('UPS and FedEx: same-instant scans come out oldest first', () => {
    const ups = parseUpsTrackResponse(
      {
        trackResponse: {
          shipment: [
            {
              package: [
                {
                  trackingNumber: '1Z999AA10100001111',
                  activity: [
                    { location: { address: { stateProvince: 'NC', countryCode: 'US' } }, status: { type: 'D', code: 'FS', statusCode: '011', description: 'DELIVERED' }, date: '20260423', time: '135004' },
                    { location: { address: { stateProvince: 'NC', countryCode: 'US' } }, status: { type: 'I', code: 'OT', statusCode: '021', description: 'Out For Delivery Today' }, date: '20260423', time: '135004' },
                  ],
                },
              ],
            },
          ],
        },
      },
      '1Z999AA10100001111',
    );
    if (ups.kind !== 'found') throw new Error(JSON.stringify(ups));
    expect(ups.snapshot.checkpoints.map((c) => c.raw.code)).toEqual(['OT', 'FS']);
    const fedex = parseFedexTrackResponse(
      {
        output: {
          completeTrackResults: [
            {
              trackingNumber: '794600001111',
              trackResults: [
                {
                  scanEvents: [
                    { date: '2026-03-04T11:31:00-07:00', eventType: 'DL', eventDescription: 'Delivered' },
                    { date: '2026-03-04T11:31:00-07:00', eventType: 'OD', eventDescription: 'On FedEx vehicle for delivery' },
                  ],
                },
              ],
            },
          ],
        },
      },
      ['794600001111'],
    ).get('794600001111');
    if (fedex?.kind !== 'found') throw new Error(JSON.stringify(fedex));
    expect(fedex.snapshot.checkpoints.map((c) => c.raw.code)).toEqual(['OD', 'DL']);
    expect(fedex.snapshot.status).toBe('DELIVERED');
  });
});

describe('carrier text the store could not hold', () => {
  it('a NUL or another control character is dropped and a lone surrogate becomes U+FFFD, in every parser through nonEmpty', () => {
    expect(nonEmpty('Arrived\u0000 at\u0007 hub\u001b[31m')).toBe('Arrived at hub[31m');
    expect(nonEmpty('half \ud800 pair, whole \ud83d\udc4d')).toBe('half \ufffd pair, whole \ud83d\udc4d');
    expect(nonEmpty('\u0000\u0001')).toBeUndefined();
    expect(nonEmpty('line\nbreak\ttab')).toBe('line\nbreak\ttab');
    const body = {
      meta: { code: 200 },
      data: { tracking: { tracking_number: 'T1', slug: 'fedex', tag: 'InTransit', checkpoints: [{ checkpoint_time: '2026-03-03T10:00:00Z', tag: 'InTransit', subtag: 'InTransit_001', message: 'Depart\u0000ed \ud800' }] } },
    };
    const r = parseAftershipResponse(body as never, 'T1', 'fedex');
    expect(r.kind).toBe('found');
    const text = JSON.stringify(r);
    expect(text).not.toMatch(/\\u0000|\\ud800/);
    expect(text).toContain('Departed \ufffd');
  });
});
