import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/fixtures/carriers/load.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { parseUspsTrackingResponse, type UspsTrackingResponse } from './parse.ts';
import { USPS_EVENT_CODES, USPS_STATUS_CATEGORIES } from './statuses.ts';

const parse = (file: string, n = '9400100000000000000017') => parseUspsTrackingResponse(fixture<UspsTrackingResponse>('usps', file), n);
function found(r: TrackResult) {
  if (r.kind !== 'found') throw new Error(`expected found, got ${JSON.stringify(r)}`);
  return r.snapshot;
}

describe('parseUspsTrackingResponse', () => {
  it('reads a delivered parcel, oldest first, with GMTOffset when given and the state zone when not', () => {
    const s = found(parse('delivered-missing-gmt.json'));
    expect(s.carrier).toBe('usps-iv-api');
    expect(s.status).toBe('DELIVERED');
    expect(s.checkpoints.map((c) => c.raw.code)).toEqual(['GX', '80', 'A1', 'OF', '01']);
    expect(s.checkpoints.at(-1)).toMatchObject({ checkpointTime: '2026-04-07T20:05:00.000Z', city: 'BOISE', postalCode: '83702', countryCode: 'US' });
    // GX has no GMT fields and a misleading trailing Z: it is Salt Lake City wall clock (MDT, UTC-6).
    expect(s.checkpoints[0].checkpointTime).toBe('2026-04-04T17:00:00.000Z');
    // The partner scan has neither GMT fields nor a place: read as US (Eastern) time, the country default.
    expect(s.checkpoints[1].checkpointTime).toBe('2026-04-05T20:30:00.000Z');
    expect(s.lastUpdatedAt).toBe('2026-04-07T20:05:00.000Z');
    expect(s.message).toBe('Delivered, Front Door/Porch');
  });

  it('ignores a GMTTimestamp that disagrees with the local time and offset', () => {
    const s = found(parse('in-transit-inconsistent-gmt.json'));
    expect(s.status).toBe('IN_TRANSIT');
    expect(s.checkpoints.at(-1)?.checkpointTime).toBe('2026-04-09T01:45:00.000Z');
    // Expected delivery is a local midnight in Boise (MDT).
    expect(s.estimatedDeliveryDate).toBe('2026-04-10T06:00:00.000Z');
  });

  it('takes the reason from the event code, not the coarse Alert category', () => {
    const s = found(parse('alert-notice-left.json'));
    expect(s).toMatchObject({ status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' });
  });

  it('falls back to statusCategory when there are no events', () => {
    const s = found(parse('no-events.json'));
    expect(s).toMatchObject({ status: 'INFO_RECEIVED', checkpoints: [] });
  });

  it('reads "no status yet" (150001) as not found and strips the HTML from the message', () => {
    const r = parse('error-400-no-status-yet.json');
    expect(r.kind).toBe('not_found');
    if (r.kind === 'not_found') expect(r.message).not.toMatch(/<SUP>/);
  });

  it('reads other error bodies as non-retryable errors', () => {
    expect(parse('error-400-other.json')).toMatchObject({ kind: 'error', retryable: false });
  });

  it('maps an unknown event code to in transit without throwing', () => {
    const body: UspsTrackingResponse = {
      trackingEvents: [{ eventType: 'New scan', eventTimestamp: '2026-01-02T10:00:00', GMTOffset: '-05:00', eventCode: 'Q5' }],
    };
    expect(found(parseUspsTrackingResponse(body, 'x')).checkpoints[0]).toMatchObject({ status: 'IN_TRANSIT', raw: { code: 'Q5' } });
  });
});

describe('USPS status tables', () => {
  it.each(Object.entries(USPS_EVENT_CODES))('event code %s gives its row on the checkpoint and the snapshot', (code, row) => {
    const body: UspsTrackingResponse = {
      statusCategory: 'Alert',
      trackingEvents: [{ eventType: 't', eventTimestamp: '2026-01-02T10:00:00', GMTOffset: '-05:00', eventCode: code }],
    };
    const s = found(parseUspsTrackingResponse(body, 'x'));
    expect(s.checkpoints[0].status).toBe(row.status);
    expect(s.checkpoints[0].subStatus).toBe(row.subStatus);
    expect(s.status).toBe(row.status);
  });
  it.each(Object.entries(USPS_STATUS_CATEGORIES))('category %s maps when no event is known', (statusCategory, row) => {
    expect(found(parseUspsTrackingResponse({ statusCategory, trackingEvents: [] }, 'x')).status).toBe(row.status);
  });
});
