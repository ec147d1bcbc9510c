import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/fixtures/carriers/load.ts';
import { unknownCount } from '../../../test/fixtures/carriers/unknown-count.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { parseUpsTrackResponse, type UpsTrackResponse, upsStatusRow } from './parse.ts';
import { upsPush } from './push.ts';
import { UPS_ACTIVITY_CODES, UPS_STATUS_CODES, UPS_TYPES } from './statuses.ts';

const parse = (file: string, n: string) => parseUpsTrackResponse(fixture<UpsTrackResponse>('ups', file), n);
function found(r: TrackResult) {
  if (r.kind !== 'found') throw new Error(`expected found, got ${JSON.stringify(r)}`);
  return r.snapshot;
}

describe('parseUpsTrackResponse', () => {
  it('reads a delivered package, oldest checkpoint first, local times converted with the US state zone', () => {
    const s = found(parse('delivered-domestic-local-times.json', '1Z999AA10123456784'));
    expect(s.status).toBe('DELIVERED');
    expect(s.checkpoints.map((c) => c.raw.code)).toEqual(['MP', 'PU', 'AR', 'OT', 'FS']);
    expect(s.checkpoints.map((c) => c.status)).toEqual(['INFO_RECEIVED', 'IN_TRANSIT', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED']);
    // 15:12:04 in Denver (MDT, UTC-6 on 10 March 2026) and 19:00 in Chicago (CDT on 8 March 2026 after 2am: UTC-5).
    expect(s.checkpoints.at(-1)?.checkpointTime).toBe('2026-03-10T21:12:04.000Z');
    expect(s.checkpoints[1].checkpointTime).toBe('2026-03-09T00:00:00.000Z');
    expect(s.lastUpdatedAt).toBe('2026-03-10T21:12:04.000Z');
    expect(s.checkpoints.at(-1)?.raw.description).toBe('DELIVERED');
    expect(s.checkpoints.at(-1)?.city).toBe('DENVER');
    expect(s.checkpoints[0].city).toBeUndefined();
    expect(s.estimatedDeliveryDate).toBeUndefined();
  });

  it('uses the gmtOffset UPS gives instead of guessing a zone, and maps customs codes by 3-digit statusCode', () => {
    const s = found(parse('customs-exception-gmt-fields.json', '1Z999AA10123456795'));
    // 092 alone reads IN_TRANSIT; its scan is type X, and the type-less currentStatus is that scan.
    expect(s.status).toBe('EXCEPTION');
    expect(s.subStatus).toBe('CUSTOMS');
    const pickup = s.checkpoints[0];
    expect(pickup.raw.code).toBe('PU');
    expect(pickup.checkpointTime).toBe('2026-04-10T07:15:00.000Z');
    const pending = s.checkpoints.find((c) => c.raw.code === 'RZ');
    expect(pending).toMatchObject({ status: 'EXCEPTION', subStatus: 'CUSTOMS', checkpointTime: '2026-04-11T21:10:00.000Z' });
    // An activity with only a SLIC and no address still gets a checkpoint.
    expect(s.checkpoints.at(-1)).toMatchObject({ raw: { code: '092' }, status: 'EXCEPTION', subStatus: 'CUSTOMS', checkpointTime: '2026-04-12T01:15:00.000Z' });
    expect(s.checkpoints.at(-1)?.countryCode).toBeUndefined();
    // Scheduled date with the end-of-day time, in the destination's zone (Tokyo, UTC+9).
    expect(s.estimatedDeliveryDate).toBe('2026-04-15T14:00:00.000Z');
  });

  it('maps unknown codes through the type letter, reports them, and skips activities without a date', async () => {
    const before = await unknownCount('ups', 'Z9');
    const s = found(parse('in-transit-unknown-codes.json', '1Z999AA10123456806'));
    expect(await unknownCount('ups', 'Z9')).toBe(before + 1);
    expect(s.checkpoints).toHaveLength(2);
    expect(s.checkpoints.map((c) => c.status)).toEqual(['IN_TRANSIT', 'IN_TRANSIT']);
    expect(s.status).toBe('IN_TRANSIT');
    // The rescheduled date wins over the scheduled one; the window end is read in Reno's zone (PDT).
    expect(s.estimatedDeliveryDate).toBe('2026-06-03T23:00:00.000Z');
  });

  it('reads an empty activity list as a pending package', () => {
    const s = found(parse('empty-activity.json', '1Z999AA10123456817'));
    expect(s).toMatchObject({ status: 'PENDING', checkpoints: [] });
    expect(s.lastUpdatedAt).toBeUndefined();
  });

  it('treats warning TW0001 inside a 200 as not found', () => {
    expect(parse('warning-TW0001-not-found.json', '1Z999AA10123456828')).toMatchObject({ kind: 'not_found' });
  });

  it('treats TV1002 as not found and a licence error as a non-retryable error', () => {
    expect(parse('error-TV1002-invalid-inquiry.json', '1Z0')).toMatchObject({ kind: 'not_found' });
    expect(parse('error-250003-invalid-license.json', '1Z0')).toMatchObject({ kind: 'error', retryable: false });
  });

  it('never throws on a body with no known fields', () => {
    expect(parseUpsTrackResponse({}, '1Z0')).toMatchObject({ kind: 'not_found' });
  });
});

describe('UPS status tables', () => {
  it.each(Object.entries(UPS_ACTIVITY_CODES))('activity code %s maps to its row', (code, row) => {
    expect(upsStatusRow({ type: 'I', code })).toEqual(row);
  });
  it.each(Object.entries(UPS_STATUS_CODES))('status code %s wins over the activity code', (statusCode, row) => {
    expect(upsStatusRow({ type: 'I', code: 'OR', statusCode })).toEqual(row);
  });
  it.each(Object.entries(UPS_TYPES))('type %s is the fallback for an unknown code', (type, row) => {
    expect(upsStatusRow({ type, code: `T${type}` })).toEqual(row);
  });
  it('never calls an unknown D-type code delivered', () => {
    expect(upsStatusRow({ type: 'D', code: 'Q7' })?.status).toBe('OUT_FOR_DELIVERY');
  });
});

describe('UPS activity times', () => {
  const one = (activity: Record<string, unknown>) => {
    const r = parseUpsTrackResponse({ trackResponse: { shipment: [{ package: [{ trackingNumber: '1Z999AA10100001111', activity: [activity] }] }] } }, '1Z999AA10100001111');
    if (r.kind !== 'found') throw new Error(JSON.stringify(r));
    return r.snapshot.checkpoints[0]?.checkpointTime;
  };
  const status = { type: 'I', code: 'OT', statusCode: '021', description: 'Out For Delivery Today' };
  const santiago = { address: { city: 'SANTIAGO', countryCode: 'CL' } };

  it('takes gmtDate + gmtTime (HH:MM:SS) as exact UTC, over the offset and over a zone guess', () => {
    expect(one({ location: santiago, status, date: '20260423', time: '091519', gmtDate: '20260423', gmtTime: '13:15:19', gmtOffset: '-05:00' })).toBe('2026-04-23T13:15:19.000Z');
    expect(one({ location: { address: { stateProvince: 'CA', countryCode: 'US' } }, status, date: '20260423', time: '091519', gmtDate: '20260423', gmtTime: '131519' })).toBe('2026-04-23T13:15:19.000Z');
  });

  it('else the local time with gmtOffset, written "-04.00" or "+08:00"', () => {
    expect(one({ location: santiago, status, date: '20260423', time: '091519', gmtOffset: '-04.00' })).toBe('2026-04-23T13:15:19.000Z');
    expect(one({ location: santiago, status, date: '20260423', time: '211519', gmtOffset: '+08:00' })).toBe('2026-04-23T13:15:19.000Z');
  });

  it('a Track Alert push with gmtActivityDate/Time is exact even where no zone is known', () => {
    const events = upsPush.events({
      trackingNumber: '1Z999AA10100001111',
      localActivityDate: '20260423',
      localActivityTime: '091519',
      gmtActivityDate: '20260423',
      gmtActivityTime: '13:15:19',
      activityLocation: { city: 'SANTIAGO', country: 'CL' },
      activityStatus: { type: 'I', code: 'OT', description: 'Out for Delivery', descriptionCode: '021' },
    });
    const r = events?.[0].read('ups');
    if (r?.kind !== 'found') throw new Error(JSON.stringify(r));
    expect(r.snapshot.checkpoints[0].checkpointTime).toBe('2026-04-23T13:15:19.000Z');
  });
});
