import { isObject, nonEmpty, type Shape } from '../parse-util.ts';
import { bodyHmac, header, type PushReader, sameSecret } from '../push.ts';
import { type FedexTrackResponse, parseFedexTrackResponse } from './parse.ts';

const FEDEX_LOCATION: Shape = { city: 'string', stateOrProvinceCode: 'string', postalCode: 'string', countryCode: 'string', countryName: 'string' };
const FEDEX_TRACK_RESULT = {
  trackingNumberInfo: { trackingNumber: 'string' },
  latestStatusDetail: { code: 'string', derivedCode: 'string', statusByLocale: 'string', description: 'string', scanLocation: FEDEX_LOCATION },
  dateAndTimes: [{ type: 'string', dateTime: 'string' }],
  scanEvents: [
    {
      date: 'string',
      eventType: 'string',
      eventDescription: 'string',
      derivedStatusCode: 'string',
      exceptionCode: 'string',
      exceptionDescription: 'string',
      scanLocation: FEDEX_LOCATION,
    },
  ],
  error: { code: 'string', message: 'string' },
} as const satisfies Shape;
// A whole Track API answer, a list of track results, or one track result.
const FEDEX_PUSH: Shape = {
  ...FEDEX_TRACK_RESULT,
  output: { completeTrackResults: [{ trackingNumber: 'string', trackResults: [FEDEX_TRACK_RESULT] }] },
  trackResults: [FEDEX_TRACK_RESULT],
};

/**
 * FedEx Advanced Integrated Visibility: signed with `fdx-signature` = base64(HMAC-SHA256(body, security
 * token)) ("Advanced Integrated Visibility Validation Process"). FedEx publishes no sample body; we read
 * the Track API's shapes, either a whole `output.completeTrackResults` or single track results, which is
 * what the AIV pages describe (the same tracking data pushed). Unverified against a live push.
 */
export const fedexPush: PushReader = {
  header: 'fdx-signature',
  verify: (headers, raw, secret) => sameSecret(header(headers, 'fdx-signature'), bodyHmac(raw, secret)),
  shape: FEDEX_PUSH,
  events: (body) => {
    if (!isObject(body)) return undefined;
    const wrapped = body as FedexTrackResponse & { trackResults?: unknown[]; trackingNumberInfo?: { trackingNumber?: string } };
    let results: { trackingNumber: string; trackResults: unknown[] }[];
    if (isObject(wrapped.output) && Array.isArray((wrapped.output as { completeTrackResults?: unknown }).completeTrackResults)) {
      results = ((wrapped.output as { completeTrackResults: { trackingNumber?: string; trackResults?: unknown[] }[] }).completeTrackResults ?? [])
        .filter((r) => isObject(r) && nonEmpty(r.trackingNumber))
        .map((r) => ({ trackingNumber: nonEmpty(r.trackingNumber) as string, trackResults: r.trackResults ?? [] }));
    } else {
      const list = Array.isArray(wrapped.trackResults) ? wrapped.trackResults : [wrapped];
      results = list
        .filter(isObject)
        .map((r) => ({ trackingNumber: nonEmpty((r as { trackingNumberInfo?: { trackingNumber?: unknown } }).trackingNumberInfo?.trackingNumber) ?? '', trackResults: [r] }))
        .filter((r) => r.trackingNumber !== '');
    }
    if (results.length === 0) return undefined;
    return results.map((r) => ({
      trackingNumber: r.trackingNumber,
      read: () =>
        parseFedexTrackResponse({ output: { completeTrackResults: [r] } } as FedexTrackResponse, [r.trackingNumber]).get(r.trackingNumber) ?? {
          kind: 'not_found',
          message: 'FedEx push without this number',
        },
    }));
  },
};
