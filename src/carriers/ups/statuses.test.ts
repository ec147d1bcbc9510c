import { describe, expect, it } from 'vitest';
import type { ShipmentStatus, SubStatus } from '../../domain/shipment.ts';
import { parseUpsTrackResponse, upsStatusRow } from './parse.ts';
import { UPS_ACTIVITY_CODES, UPS_EXCEPTION_RESOLUTIONS, UPS_STATUS_CODES, UPS_TYPE_DECIDES, UPS_TYPES } from './statuses.ts';

/** What each UPS code means to an issuer (the UPS Tracking API documentation and recorded responses). */
const ACTIVITY: Record<string, [ShipmentStatus, SubStatus?]> = {
  MP: ['INFO_RECEIVED'], PU: ['IN_TRANSIT'], XD: ['IN_TRANSIT'], OR: ['IN_TRANSIT'], AR: ['IN_TRANSIT'], DP: ['IN_TRANSIT'],
  YP: ['IN_TRANSIT'], DA: ['IN_TRANSIT'], SR: ['IN_TRANSIT'], BB: ['EXCEPTION', 'CUSTOMS'], RZ: ['EXCEPTION', 'CUSTOMS'],
  OT: ['OUT_FOR_DELIVERY'], FS: ['DELIVERED'], F4: ['DELIVERED'],
};
const STATUS_CODES: Record<string, [ShipmentStatus, SubStatus?]> = {
  '003': ['INFO_RECEIVED'], '005': ['IN_TRANSIT'], '011': ['DELIVERED'], '012': ['EXCEPTION', 'CUSTOMS'], '014': ['IN_TRANSIT'],
  '021': ['OUT_FOR_DELIVERY'], '038': ['IN_TRANSIT'], '058': ['EXCEPTION', 'CUSTOMS'], '092': ['IN_TRANSIT', 'CUSTOMS'],
};
const TYPES: Record<string, [ShipmentStatus, SubStatus?]> = {
  M: ['INFO_RECEIVED'], MV: ['EXCEPTION', 'CANCELLED'], P: ['IN_TRANSIT'], I: ['IN_TRANSIT'], U: ['IN_TRANSIT'], X: ['EXCEPTION'],
  D: ['OUT_FOR_DELIVERY'], RS: ['RETURNING_TO_SENDER'],
};

const row = (r: ReturnType<typeof upsStatusRow>) => [r?.status, r?.subStatus];

describe('UPS codes', () => {
  it.each(Object.entries(ACTIVITY))('activity code %s is %j', (code, expected) => {
    expect(row(upsStatusRow({ type: 'I', code }))).toEqual([expected[0], expected[1]]);
  });

  it.each(Object.entries(STATUS_CODES))('status code %s is %j, whatever the activity code says', (statusCode, expected) => {
    expect(row(upsStatusRow({ type: 'I', code: 'PU', statusCode }))).toEqual([expected[0], expected[1]]);
  });

  it.each(Object.entries(TYPES))('an unlisted code of type %s is %j', (type, expected) => {
    expect(row(upsStatusRow({ type, code: 'Q9' }))).toEqual([expected[0], expected[1]]);
  });

  it('turns a delivered activity into a DELIVERED parcel', () => {
    const r = parseUpsTrackResponse(
      { trackResponse: { shipment: [{ package: [{ trackingNumber: '1Z999AA10123456784', activity: [{ status: { type: 'D', code: 'FS', description: 'DELIVERED' }, gmtDate: '20260304', gmtTime: '18:31:00' }] }] }] } },
      '1Z999AA10123456784',
    );
    expect(r).toMatchObject({ kind: 'found', snapshot: { status: 'DELIVERED' } });
  });

  it.each(['TW0001', 'TV1002'])('warning %s means UPS does not know the number, not that the call failed', (code) => {
    const r = parseUpsTrackResponse({ trackResponse: { shipment: [{ warnings: [{ code, message: 'Tracking Information Not Found' }] }] } } as never, '1Z999AA10123456828');
    expect(r).toMatchObject({ kind: 'not_found', message: `${code}: Tracking Information Not Found` });
  });
});

describe('UPS precedence: the type letter UPS gives against our code tables', () => {
  it('an X scan is an EXCEPTION even where the code alone reads IN_TRANSIT, and the code still gives the reason', () => {
    expect(row(upsStatusRow({ type: 'I', statusCode: '092' }))).toEqual(['IN_TRANSIT', 'CUSTOMS']);
    expect(row(upsStatusRow({ type: 'X', statusCode: '092' }))).toEqual(['EXCEPTION', 'CUSTOMS']);
    expect(row(upsStatusRow({ type: 'X', code: 'AR', statusCode: '005' }))).toEqual(['EXCEPTION', undefined]);
    expect(row(upsStatusRow({ type: 'X', code: 'DP' }))).toEqual(['EXCEPTION', undefined]);
  });

  it.each([
    [{ type: 'X', code: 'RZ', statusCode: '014' }, ['IN_TRANSIT', undefined]],
    [{ type: 'X', code: 'BB', statusCode: '014' }, ['IN_TRANSIT', undefined]],
    [{ type: 'X', code: 'SR', statusCode: '003' }, ['INFO_RECEIVED', undefined]],
    [{ type: 'X', code: 'SR' }, ['IN_TRANSIT', undefined]],
  ])('a code that ends an exception keeps its row under X: %j', (status, expected) => {
    expect(row(upsStatusRow(status))).toEqual(expected);
  });

  it('a voided manifest (MV) is a cancelled exception whatever its code says', () => {
    expect(row(upsStatusRow({ type: 'MV', code: 'MP', statusCode: '003' }))).toEqual(['EXCEPTION', 'CANCELLED']);
  });

  it.each(['D', 'I', 'M', 'P', 'U', 'RS'])('type %s does not overrule a known code', (type) => {
    expect(row(upsStatusRow({ type, code: 'OT' }))).toEqual(['OUT_FOR_DELIVERY', undefined]);
    expect(row(upsStatusRow({ type, statusCode: '011' }))).toEqual(['DELIVERED', undefined]);
  });

  it('names the source of every rule that decides over a code', () => {
    for (const rule of [...Object.values(UPS_TYPE_DECIDES), ...Object.values(UPS_EXCEPTION_RESOLUTIONS)]) expect(rule.source.length).toBeGreaterThan(20);
    expect(UPS_STATUS_CODES['092'].source).toMatch(/recorded/);
  });

  it('a type-less currentStatus takes the type of the newest scan when both name the same code', () => {
    const pkg = (current: object) => ({
      trackResponse: { shipment: [{ package: [{ trackingNumber: '1Z999AA10123456795', currentStatus: current, activity: [{ status: { type: 'X', statusCode: '092', description: 'At the clearing agency' }, gmtDate: '20260412', gmtTime: '01:15:00' }] }] }] },
    });
    expect(parseUpsTrackResponse(pkg({ code: '092' }), '1Z999AA10123456795')).toMatchObject({ kind: 'found', snapshot: { status: 'EXCEPTION', subStatus: 'CUSTOMS' } });
    // A summary naming another code is not that scan: it keeps its own reading.
    expect(parseUpsTrackResponse(pkg({ statusCode: '005' }), '1Z999AA10123456795')).toMatchObject({ kind: 'found', snapshot: { status: 'IN_TRANSIT' } });
    // A summary with its own type keeps it.
    expect(parseUpsTrackResponse(pkg({ type: 'I', statusCode: '092' }), '1Z999AA10123456795')).toMatchObject({ kind: 'found', snapshot: { status: 'IN_TRANSIT', subStatus: 'CUSTOMS' } });
  });
});

// A code added to the hub's table without a row here would go untested; one dropped from it, unnoticed.
it('checks every code of the hub\'s tables, and no other', () => {
  expect(Object.keys(ACTIVITY).sort()).toEqual(Object.keys(UPS_ACTIVITY_CODES).sort());
  expect(Object.keys(STATUS_CODES).sort()).toEqual(Object.keys(UPS_STATUS_CODES).sort());
  expect(Object.keys(TYPES).sort()).toEqual(Object.keys(UPS_TYPES).sort());
});
