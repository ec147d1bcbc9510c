import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/fixtures/carriers/load.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { type FedexTrackResponse, parseFedexTrackResponse } from './parse.ts';
import { FEDEX_STATUSES } from './statuses.ts';

const parse = (file: string, numbers: string[]) => parseFedexTrackResponse(fixture<FedexTrackResponse>('fedex', file), numbers);
function found(r: TrackResult | undefined) {
  if (r?.kind !== 'found') throw new Error(`expected found, got ${JSON.stringify(r)}`);
  return r.snapshot;
}
const N = '612345678904';

describe('parseFedexTrackResponse', () => {
  it('follows a parcel from label to delivery across three polls', () => {
    const step1 = found(parse('delivered-step1-label.json', [N]).get(N));
    expect(step1).toMatchObject({ status: 'INFO_RECEIVED', estimatedDeliveryDate: '2026-03-05T01:00:00.000Z' });
    expect(step1.checkpoints).toHaveLength(1);

    const step2 = found(parse('delivered-step2-in-transit.json', [N]).get(N));
    expect(step2.status).toBe('IN_TRANSIT');
    expect(step2.checkpoints.map((c) => c.raw.code)).toEqual(['OC', 'PU', 'DP', 'AR']);
    expect(step2.lastUpdatedAt).toBe('2026-03-03T12:55:00.000Z');

    const step3 = found(parse('delivered-step3-delivered.json', [N]).get(N));
    expect(step3.status).toBe('DELIVERED');
    expect(step3.checkpoints.map((c) => c.status)).toEqual(['INFO_RECEIVED', 'IN_TRANSIT', 'IN_TRANSIT', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED']);
    expect(step3.lastUpdatedAt).toBe('2026-03-04T18:31:00.000Z');
    // No estimate is reported once the parcel is delivered.
    expect(step3.estimatedDeliveryDate).toBeUndefined();
  });

  it('reads a scan without an offset in the zone of its place and keeps checkpoints in time order', () => {
    const s = found(parse('delivered-ground-missing-offset.json', ['568283610099990']).get('568283610099990'));
    const pickup = s.checkpoints.find((c) => c.raw.code === 'PU');
    // Midnight in Denver (MDT, UTC-6).
    expect(pickup?.checkpointTime).toBe('2026-05-09T06:00:00.000Z');
    expect(s.checkpoints.map((c) => c.raw.code)).toEqual(['OC', 'PU', 'AR', 'OD', 'DL']);
    // A scan location with only `residential` gives no place fields.
    expect(s.checkpoints[0].city).toBeUndefined();
  });

  it('picks the newest of two shipments that reuse one number, with the exception reason on the DE scan', () => {
    const s = found(parse('duplicate-number-two-shipments.json', ['790000000123']).get('790000000123'));
    expect(s.status).toBe('DELIVERED');
    expect(s.checkpoints[0].checkpointTime.startsWith('2026-02-18')).toBe(true);
    expect(s.checkpoints.find((c) => c.raw.code === 'DE')).toMatchObject({ status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' });
  });

  it('keeps the derived "running late" status of the latest detail', () => {
    const body = fixture<FedexTrackResponse>('fedex', 'duplicate-number-two-shipments.json');
    const [late] = body.output?.completeTrackResults?.[0].trackResults ?? [];
    const only: FedexTrackResponse = { output: { completeTrackResults: [{ trackingNumber: '790000000123', trackResults: [late] }] } };
    const s = found(parseFedexTrackResponse(only, ['790000000123']).get('790000000123'));
    expect(s).toMatchObject({ status: 'IN_TRANSIT', subStatus: 'DELAYED', message: 'Running Late' });
    expect(s.checkpoints.find((c) => c.raw.code === 'DY')?.subStatus).toBe('DELAYED');
  });

  it('reads "not found" inside a 200 body', () => {
    expect(parse('not-found-inside-200.json', ['03999989320920001111']).get('03999989320920001111')).toMatchObject({ kind: 'not_found' });
  });

  it('gives every requested number the top-level error', () => {
    const r = parse('error-top-level-errors.json', ['A1', 'B2']);
    expect(r.get('A1')).toMatchObject({ kind: 'error', retryable: false, message: expect.stringMatching(/EMPTY/) });
    expect(r.get('B2')).toEqual(r.get('A1'));
  });

  it('flags a requested number that FedEx left out', () => {
    expect(parse('delivered-step1-label.json', [N, '999999999999']).get('999999999999')).toMatchObject({ kind: 'error', retryable: true });
  });
});

describe('FedEx status table', () => {
  it('falls back to derivedStatusCode when a scan has no eventType', () => {
    const body: FedexTrackResponse = {
      output: { completeTrackResults: [{ trackingNumber: 'n', trackResults: [{ scanEvents: [{ date: '2026-01-01T10:00:00-05:00', eventType: '', derivedStatusCode: 'IN' }] }] }] },
    };
    expect(found(parseFedexTrackResponse(body, ['n']).get('n')).checkpoints[0]).toMatchObject({ status: 'INFO_RECEIVED', raw: { code: 'IN' } });
  });

  it.each(Object.entries(FEDEX_STATUSES))('event type %s maps to its row', (code, row) => {
    const body: FedexTrackResponse = {
      output: { completeTrackResults: [{ trackingNumber: 'n', trackResults: [{ scanEvents: [{ date: '2026-01-01T10:00:00-05:00', eventType: code }] }] }] },
    };
    const s = found(parseFedexTrackResponse(body, ['n']).get('n'));
    expect(s.checkpoints[0].status).toBe(row.status);
    expect(s.checkpoints[0].subStatus).toBe(row.subStatus);
    expect(s.status).toBe(row.status);
  });
});

describe('FedEx per-number errors', () => {
  const N2 = '794600001111';
  const body = (trackResult: Record<string, unknown>): FedexTrackResponse => ({ output: { completeTrackResults: [{ trackingNumber: N2, trackResults: [trackResult as never] }] } });

  it('an unknown per-number error code is final, not retried forever', () => {
    const r = parseFedexTrackResponse(body({ trackingNumberInfo: { trackingNumber: N2 }, error: { code: 'TRACKING.SOMETHING.NEW', message: 'Something new' } }), [N2]).get(N2);
    expect(r).toMatchObject({ kind: 'error', retryable: false });
  });

  it('a result with scan events is kept even beside an error block, as in FedEx\'s documentation example', () => {
    const r = parseFedexTrackResponse(
      body({
        trackingNumberInfo: { trackingNumber: N2 },
        latestStatusDetail: { code: 'IT', derivedCode: 'IT', statusByLocale: 'In transit', description: 'In transit' },
        scanEvents: [{ date: '2026-03-03T05:55:00-06:00', eventType: 'AR', eventDescription: 'Arrived at FedEx location', scanLocation: { city: 'MEMPHIS', stateOrProvinceCode: 'TN', countryCode: 'US' } }],
        error: { code: '', message: '' },
      }),
      [N2],
    ).get(N2);
    expect(found(r)).toMatchObject({ status: 'IN_TRANSIT', checkpoints: [{ raw: { code: 'AR' } }] });
  });
});

describe('FedEx running late', () => {
  it('derivedCode RL keeps the DELAYED reason beside an in-transit code', () => {
    const N3 = '794600002222';
    const r = parseFedexTrackResponse(
      {
        output: {
          completeTrackResults: [
            {
              trackingNumber: N3,
              trackResults: [
                {
                  latestStatusDetail: { code: 'IT', derivedCode: 'RL', statusByLocale: 'In transit', description: 'Running late' },
                  scanEvents: [{ date: '2026-03-03T05:55:00-06:00', eventType: 'AR', eventDescription: 'Arrived at FedEx location', scanLocation: { city: 'MEMPHIS', stateOrProvinceCode: 'TN', countryCode: 'US' } }],
                },
              ],
            },
          ],
        },
      },
      [N3],
    ).get(N3);
    expect(found(r)).toMatchObject({ status: 'IN_TRANSIT', subStatus: 'DELAYED' });
  });
});
