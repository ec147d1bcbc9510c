import { describe, expect, it } from 'vitest';
import type { ShipmentStatus, SubStatus } from '../../domain/shipment.ts';
import { dhlStatusRow } from './parse.ts';
import { DHL_EXPRESS_TYPE_CODES, DHL_STATUS_CODES } from './statuses.ts';

/** What DHL's codes mean to an issuer (the DHL Shipment Tracking – Unified API documentation). */
const STATUS_CODES: Record<string, ShipmentStatus> = {
  'pre-transit': 'INFO_RECEIVED',
  transit: 'IN_TRANSIT',
  delivered: 'DELIVERED',
  failure: 'EXCEPTION',
  unknown: 'IN_TRANSIT',
};
const EXPRESS: Record<string, [ShipmentStatus, SubStatus?]> = {
  PU: ['IN_TRANSIT'], PL: ['IN_TRANSIT'], DF: ['IN_TRANSIT'], AF: ['IN_TRANSIT'], AR: ['IN_TRANSIT'], CR: ['IN_TRANSIT'],
  CC: ['IN_TRANSIT', 'CUSTOMS'], CD: ['EXCEPTION', 'CUSTOMS'], TD: ['IN_TRANSIT', 'DELAYED'], MD: ['IN_TRANSIT', 'DELAYED'],
  UD: ['IN_TRANSIT', 'DELAYED'], WC: ['OUT_FOR_DELIVERY'], OK: ['DELIVERED'], OH: ['EXCEPTION', 'HELD'],
  BA: ['FAILED_ATTEMPT', 'ADDRESS_ISSUE'], NH: ['FAILED_ATTEMPT', 'RECIPIENT_NOT_AVAILABLE'], RT: ['RETURNING_TO_SENDER'],
};

const row = (r: ReturnType<typeof dhlStatusRow>) => [r.status, r.subStatus];

describe('DHL codes and texts', () => {
  it.each(Object.entries(STATUS_CODES))('statusCode %s with a plain text is %s', (statusCode, status) => {
    expect(row(dhlStatusRow({ statusCode, description: 'Processed' }))).toEqual([status, undefined]);
  });

  it.each(Object.entries(EXPRESS))('Express type code %s is %j, refining the coarse code', (status, expected) => {
    expect(row(dhlStatusRow({ statusCode: 'unknown', status, description: 'Processed' }))).toEqual([expected[0], expected[1]]);
  });

  it.each([
    ['transit', 'Returned to sender', 'RETURNING_TO_SENDER'],
    ['transit', 'Return to sender requested', 'RETURNING_TO_SENDER'],
    ['failure', 'The shipment is being returned to the shipper', 'RETURNING_TO_SENDER'],
    ['transit', 'Rücksendung an den Absender eingeleitet', 'RETURNING_TO_SENDER'],
    ['failure', 'Die Sendung wurde zurückgesendet', 'RETURNING_TO_SENDER'],
    ['transit', 'Out for delivery', 'OUT_FOR_DELIVERY'],
    ['transit', 'With delivery courier', 'OUT_FOR_DELIVERY'],
    ['transit', 'Die Sendung wurde in das Zustellfahrzeug geladen', 'OUT_FOR_DELIVERY'],
    ['transit', 'Sendung in Zustellung', 'OUT_FOR_DELIVERY'],
    ['transit', 'Ready for pickup at the DHL ServicePoint', 'AVAILABLE_FOR_PICKUP'],
    ['failure', 'Available for pick up', 'AVAILABLE_FOR_PICKUP'],
    ['transit', 'Available for pickup until Friday', 'AVAILABLE_FOR_PICKUP'],
    ['transit', 'Die Sendung liegt in der Filiale zur Abholung bereit', 'AVAILABLE_FOR_PICKUP'],
    ['transit', 'Die Sendung liegt in einer Packstation', 'AVAILABLE_FOR_PICKUP'],
    ['transit', 'Delivery attempt: recipient not at home', 'FAILED_ATTEMPT'],
    ['failure', 'The shipment could not be delivered', 'FAILED_ATTEMPT'],
    ['transit', 'Empfänger nicht angetroffen', 'FAILED_ATTEMPT'],
    ['failure', 'Die Sendung konnte nicht zugestellt werden', 'FAILED_ATTEMPT'],
  ])('statusCode %s with "%s" is %s', (statusCode, description, status) => {
    expect(dhlStatusRow({ statusCode, description }).status).toBe(status);
  });

  it.each([
    ['PU', ['EXCEPTION', undefined]],
    ['AR', ['EXCEPTION', undefined]],
    ['WC', ['EXCEPTION', undefined]],
    ['CC', ['EXCEPTION', 'CUSTOMS']],
    ['TD', ['EXCEPTION', 'DELAYED']],
    ['NH', ['FAILED_ATTEMPT', 'RECIPIENT_NOT_AVAILABLE']],
    ['RT', ['RETURNING_TO_SENDER', undefined]],
    ['OH', ['EXCEPTION', 'HELD']],
  ])('DHL\'s failure class decides over Express type code %s unless the code is itself adverse', (status, expected) => {
    expect(row(dhlStatusRow({ statusCode: 'failure', status, description: 'Processed' }))).toEqual(expected);
    // The same type code outside failure keeps its own row.
    expect(row(dhlStatusRow({ statusCode: 'transit', status, description: 'Processed' }))).toEqual([EXPRESS[status][0], EXPRESS[status][1]]);
  });

  it('a failure phrase refines a normal Express type code, and the failure row names its source', () => {
    expect(dhlStatusRow({ statusCode: 'failure', status: 'PU', description: 'Returned to sender' }).status).toBe('RETURNING_TO_SENDER');
    expect(DHL_STATUS_CODES.failure.source).toMatch(/Unified/);
  });

  it('reads a customs failure as a customs exception, in English or German', () => {
    expect(row(dhlStatusRow({ statusCode: 'failure', description: 'Held by customs' }))).toEqual(['EXCEPTION', 'CUSTOMS']);
    expect(row(dhlStatusRow({ statusCode: 'failure', description: 'Die Sendung liegt beim Zoll' }))).toEqual(['EXCEPTION', 'CUSTOMS']);
  });

  it('never lets a phrase turn a delivered event into something else, nor a transit customs note into an exception', () => {
    expect(dhlStatusRow({ statusCode: 'delivered', description: 'Delivered after a failed delivery attempt; returned to sender note' }).status).toBe('DELIVERED');
    expect(dhlStatusRow({ statusCode: 'transit', description: 'Customs clearance completed' }).status).toBe('IN_TRANSIT');
    expect(dhlStatusRow({ statusCode: 'pre-transit', description: 'Out for delivery soon' }).status).toBe('INFO_RECEIVED');
  });
});

// A code added to the hub's table without a row here would go untested; one dropped from it, unnoticed.
it('checks every code of the hub\'s tables, and no other', () => {
  expect(Object.keys(STATUS_CODES).sort()).toEqual(Object.keys(DHL_STATUS_CODES).sort());
  expect(Object.keys(EXPRESS).sort()).toEqual(Object.keys(DHL_EXPRESS_TYPE_CODES).sort());
});
