import { describe, expect, it } from 'vitest';
import type { ShipmentStatus, SubStatus } from '../../domain/shipment.ts';
import { aftershipStatusRow, parseAftershipResponse } from './parse.ts';
import { AFTERSHIP_SUBTAGS, AFTERSHIP_TAGS } from './statuses.ts';

/** What AfterShip's tags and subtags mean to an issuer (AfterShip's Tracking API documentation). */
const TAGS: Record<string, ShipmentStatus> = {
  Pending: 'PENDING', InfoReceived: 'INFO_RECEIVED', InTransit: 'IN_TRANSIT', OutForDelivery: 'OUT_FOR_DELIVERY',
  AttemptFail: 'FAILED_ATTEMPT', Delivered: 'DELIVERED', AvailableForPickup: 'AVAILABLE_FOR_PICKUP', Exception: 'EXCEPTION', Expired: 'EXPIRED',
};
const SUBTAGS: Record<string, [ShipmentStatus, SubStatus?]> = {
  Pending_001: ['PENDING'], Pending_002: ['PENDING'], Pending_003: ['PENDING'], Pending_004: ['PENDING'], Pending_005: ['PENDING'], Pending_006: ['PENDING'],
  InfoReceived_001: ['INFO_RECEIVED'],
  InTransit_001: ['IN_TRANSIT'], InTransit_002: ['IN_TRANSIT'], InTransit_003: ['IN_TRANSIT'], InTransit_004: ['IN_TRANSIT'], InTransit_005: ['IN_TRANSIT'],
  InTransit_006: ['IN_TRANSIT', 'CUSTOMS'], InTransit_007: ['IN_TRANSIT'], InTransit_008: ['IN_TRANSIT'], InTransit_009: ['IN_TRANSIT'],
  OutForDelivery_001: ['OUT_FOR_DELIVERY'], OutForDelivery_003: ['OUT_FOR_DELIVERY'], OutForDelivery_004: ['OUT_FOR_DELIVERY'],
  AvailableForPickup_001: ['AVAILABLE_FOR_PICKUP'],
  AttemptFail_001: ['FAILED_ATTEMPT'], AttemptFail_002: ['FAILED_ATTEMPT', 'RECIPIENT_NOT_AVAILABLE'], AttemptFail_003: ['FAILED_ATTEMPT', 'RECIPIENT_NOT_AVAILABLE'],
  Delivered_001: ['DELIVERED'], Delivered_002: ['DELIVERED'], Delivered_003: ['DELIVERED'], Delivered_004: ['DELIVERED'], Delivered_005: ['DELIVERED'],
  Exception_001: ['EXCEPTION'], Exception_002: ['EXCEPTION', 'ADDRESS_ISSUE'], Exception_003: ['EXCEPTION', 'REFUSED'], Exception_004: ['EXCEPTION', 'CUSTOMS'],
  Exception_005: ['EXCEPTION', 'DELAYED'], Exception_006: ['EXCEPTION', 'HELD'], Exception_007: ['EXCEPTION', 'ADDRESS_ISSUE'],
  Exception_008: ['EXCEPTION', 'RECIPIENT_NOT_AVAILABLE'], Exception_009: ['EXCEPTION'], Exception_010: ['RETURNING_TO_SENDER'],
  Exception_011: ['RETURNED_TO_SENDER'], Exception_012: ['EXCEPTION', 'DAMAGED'], Exception_013: ['EXCEPTION', 'LOST'],
  Exception_016: ['EXCEPTION', 'DELAYED'], Exception_017: ['EXCEPTION', 'WEATHER'], Exception_018: ['EXCEPTION', 'CUSTOMS'],
  Expired_001: ['EXPIRED'],
};

const row = (r: ReturnType<typeof aftershipStatusRow>) => [r.status, r.subStatus];

describe('AfterShip tags and subtags', () => {
  it.each(Object.entries(TAGS))('tag %s with an unlisted subtag is %s', (tag, status) => {
    expect(row(aftershipStatusRow(tag, `${tag}_999`))).toEqual([status, undefined]);
  });

  it.each(Object.entries(SUBTAGS))('subtag %s is %j, whatever the tag', (subtag, expected) => {
    expect(row(aftershipStatusRow('InTransit', subtag))).toEqual([expected[0], expected[1]]);
  });

  it.each([4004, 4005, 4012, 4017])('meta.code %i means AfterShip cannot track the number, not a failed call', (code) => {
    expect(parseAftershipResponse({ meta: { code, message: 'no such tracking' } } as never, '1234', 'fedex')).toMatchObject({ kind: 'not_found' });
  });
});

// A code added to the hub's table without a row here would go untested; one dropped from it, unnoticed.
it('checks every code of the hub\'s tables, and no other', () => {
  expect(Object.keys(TAGS).sort()).toEqual(Object.keys(AFTERSHIP_TAGS).sort());
  expect(Object.keys(SUBTAGS).sort()).toEqual(Object.keys(AFTERSHIP_SUBTAGS).sort());
});
