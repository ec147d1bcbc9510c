import { describe, expect, it } from 'vitest';
import type { ShipmentStatus, SubStatus } from '../../domain/shipment.ts';
import { parseUspsTrackingResponse, type UspsTrackingResponse } from './parse.ts';
import { USPS_EVENT_CODES, USPS_STATUS_CATEGORIES } from './statuses.ts';

/** What each USPS event code means to an issuer (the USPS Tracking 3.0 API documentation). */
const EVENTS: Record<string, [ShipmentStatus, SubStatus?]> = {
  MA: ['INFO_RECEIVED'], GX: ['INFO_RECEIVED'],
  '03': ['IN_TRANSIT'], TM: ['IN_TRANSIT'], PA: ['IN_TRANSIT'], '80': ['IN_TRANSIT'], '81': ['IN_TRANSIT'], '82': ['IN_TRANSIT'],
  '06': ['IN_TRANSIT'], '07': ['IN_TRANSIT'], '10': ['IN_TRANSIT'], PC: ['IN_TRANSIT'], EF: ['IN_TRANSIT'], SF: ['IN_TRANSIT'],
  A1: ['IN_TRANSIT'], AD: ['IN_TRANSIT'], T1: ['IN_TRANSIT'], TL: ['IN_TRANSIT'],
  DX: ['IN_TRANSIT', 'DELAYED'], '08': ['IN_TRANSIT', 'DELAYED'], '15': ['IN_TRANSIT', 'DELAYED'], '71': ['IN_TRANSIT', 'DELAYED'],
  OF: ['OUT_FOR_DELIVERY'], '14': ['AVAILABLE_FOR_PICKUP'], '16': ['AVAILABLE_FOR_PICKUP'],
  '01': ['DELIVERED'], '17': ['DELIVERED'], '43': ['DELIVERED'],
  '02': ['FAILED_ATTEMPT', 'RECIPIENT_NOT_AVAILABLE'], '30': ['FAILED_ATTEMPT', 'ADDRESS_ISSUE'], '51': ['FAILED_ATTEMPT', 'RECIPIENT_NOT_AVAILABLE'],
  '52': ['FAILED_ATTEMPT', 'RECIPIENT_NOT_AVAILABLE'], '53': ['FAILED_ATTEMPT', 'ADDRESS_ISSUE'], '54': ['FAILED_ATTEMPT', 'ADDRESS_ISSUE'],
  '55': ['FAILED_ATTEMPT', 'ADDRESS_ISSUE'], '56': ['FAILED_ATTEMPT', 'RECIPIENT_NOT_AVAILABLE'],
  '04': ['EXCEPTION', 'REFUSED'], '05': ['EXCEPTION', 'ADDRESS_ISSUE'], '11': ['EXCEPTION', 'LOST'],
  '09': ['RETURNING_TO_SENDER'], '21': ['RETURNING_TO_SENDER', 'ADDRESS_ISSUE'], '22': ['RETURNING_TO_SENDER', 'ADDRESS_ISSUE'],
  '23': ['RETURNING_TO_SENDER', 'ADDRESS_ISSUE'], '24': ['RETURNING_TO_SENDER', 'ADDRESS_ISSUE'], '25': ['RETURNING_TO_SENDER', 'ADDRESS_ISSUE'],
  '26': ['RETURNING_TO_SENDER', 'ADDRESS_ISSUE'], '27': ['RETURNING_TO_SENDER', 'RECIPIENT_NOT_AVAILABLE'],
  '28': ['RETURNING_TO_SENDER', 'RECIPIENT_NOT_AVAILABLE'], '29': ['RETURNING_TO_SENDER'], '31': ['RETURNING_TO_SENDER', 'RECIPIENT_NOT_AVAILABLE'],
  '44': ['RETURNING_TO_SENDER'],
};

/** The coarse `statusCategory`, which decides only while no event says more. */
const CATEGORIES: Record<string, ShipmentStatus> = {
  'Pre-Shipment': 'INFO_RECEIVED',
  Accepted: 'IN_TRANSIT',
  'In Transit': 'IN_TRANSIT',
  'Moving Through Network': 'IN_TRANSIT',
  'Out for Delivery': 'OUT_FOR_DELIVERY',
  'Available for Pickup': 'AVAILABLE_FOR_PICKUP',
  Delivered: 'DELIVERED',
  'Delivered to Agent': 'DELIVERED',
  Alert: 'EXCEPTION',
  'Return to Sender': 'RETURNING_TO_SENDER',
};

const N = '9400100000000000000017';
function read(body: UspsTrackingResponse) {
  const r = parseUspsTrackingResponse({ trackingNumber: N, ...body }, N);
  if (r.kind !== 'found') throw new Error(`expected found, got ${JSON.stringify(r)}`);
  return r.snapshot;
}

describe('USPS event codes and categories', () => {
  it.each(Object.entries(EVENTS))('event %s is %j', (eventCode, [status, subStatus]) => {
    // The category says something else: the event code wins.
    const s = read({ statusCategory: 'Alert', trackingEvents: [{ eventCode, eventType: 'scan', eventTimestamp: '2026-04-07T14:05:00', GMTOffset: '-06:00' }] as never });
    expect(s.checkpoints[0]).toMatchObject({ status, raw: { code: eventCode } });
    expect(s.checkpoints[0].subStatus).toBe(subStatus);
    expect(s.status).toBe(status);
  });

  it.each(Object.entries(CATEGORIES))('category %s with no events is %s', (statusCategory, status) => {
    expect(read({ statusCategory, trackingEvents: [] }).status).toBe(status);
  });
});

// A code added to the hub's table without a row here would go untested; one dropped from it, unnoticed.
it('checks every code of the hub\'s tables, and no other', () => {
  expect(Object.keys(EVENTS).sort()).toEqual(Object.keys(USPS_EVENT_CODES).sort());
  expect(Object.keys(CATEGORIES).sort()).toEqual(Object.keys(USPS_STATUS_CATEGORIES).sort());
});
