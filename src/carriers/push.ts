import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CarrierCode } from '../domain/carriers.ts';
import type { TrackResult } from '../domain/shipment.ts';
import { type AftershipTracking, parseAftershipResponse } from './aftership/parse.ts';
import { type DhlTrackResponse, parseDhlTrackResponse } from './dhl/parse.ts';
import { type FedexTrackResponse, parseFedexTrackResponse } from './fedex/parse.ts';
import { isObject, nonEmpty, type Shape } from './parse-util.ts';
import type { ProviderName } from './provider.ts';
import { parseUpsTrackResponse, type UpsTrackResponse } from './ups/parse.ts';

/**
 * Carrier pushes (webhooks). Each provider's reader checks the request came from the carrier, with the
 * secret shared with it (`TRACKHUB_CARRIER_<PROVIDER>_WEBHOOK_SECRET`), and turns the body into events for
 * the same parsers that read polled answers, so a pushed scan and a polled one become the same checkpoint.
 */

type Headers = Record<string, string | string[] | undefined>;

export interface PushEvent {
  trackingNumber: string;
  /** The event read as the given carrier's data (one provider serves several carrier codes). */
  read: (carrier: CarrierCode) => TrackResult;
}

export interface PushReader {
  /** Where the secret travels, for messages and docs. */
  header: string;
  verify: (headers: Headers, rawBody: string, secret: string) => boolean;
  /**
   * The types of the fields the parsers read. The route checks a body against it (`shapeError`) before
   * `events`, so a signed body of the right envelope but wrong inner types is refused as bad input
   * instead of reaching the parsers.
   */
  shape: Shape;
  /** The events of a body that fits `shape`, or undefined when it is not this provider's push envelope. */
  events: (body: unknown) => PushEvent[] | undefined;
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Constant-time comparison of two strings of any length. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** base64(HMAC-SHA256(body, secret)): AfterShip's `aftership-hmac-sha256` and FedEx's `fdx-signature`. */
export function bodyHmac(rawBody: string, secret: string): string {
  return createHmac('sha256', secret).update(rawBody, 'utf8').digest('base64');
}

interface UpsAlert {
  trackingNumber?: string;
  localActivityDate?: string;
  localActivityTime?: string;
  gmtActivityDate?: string;
  gmtActivityTime?: string;
  gmtOffset?: string;
  activityLocation?: { city?: string; stateProvince?: string; postalCode?: string; country?: string };
  activityStatus?: { type?: string; code?: string; description?: string; descriptionCode?: string };
  scheduledDeliveryDate?: string;
}

const UPS_ALERT: Shape = {
  trackingNumber: 'string',
  localActivityDate: 'string',
  localActivityTime: 'string',
  gmtActivityDate: 'string',
  gmtActivityTime: 'string',
  gmtOffset: 'string',
  activityLocation: { city: 'string', stateProvince: 'string', postalCode: 'string', country: 'string' },
  activityStatus: { type: 'string', code: 'string', description: 'string', descriptionCode: 'string' },
  scheduledDeliveryDate: 'string',
};

/**
 * UPS Track Alert (UPSTrackAlert.yaml, `webhooks.TrackingEvent`): one flat event per POST, with the
 * `credential` header carrying the opaque string the hub gave in its subscription's `destination`.
 */
const ups: PushReader = {
  header: 'credential',
  verify: (headers, _raw, secret) => sameSecret(header(headers, 'credential'), secret),
  shape: UPS_ALERT,
  events: (body) => {
    if (!isObject(body) || !nonEmpty(body.trackingNumber) || !isObject(body.activityStatus)) return undefined;
    const e = body as UpsAlert;
    const trackingNumber = (e.trackingNumber as string).trim();
    // The same activity shape the Track API returns, so the Track API parser reads it.
    const response: UpsTrackResponse = {
      trackResponse: {
        shipment: [
          {
            inquiryNumber: trackingNumber,
            package: [
              {
                trackingNumber,
                ...(nonEmpty(e.scheduledDeliveryDate) ? { deliveryDate: [{ type: 'SDD', date: e.scheduledDeliveryDate }] } : {}),
                activity: [
                  {
                    location: { address: { ...e.activityLocation, countryCode: e.activityLocation?.country } },
                    status: { type: e.activityStatus?.type, code: e.activityStatus?.code, statusCode: e.activityStatus?.descriptionCode, description: e.activityStatus?.description },
                    date: e.localActivityDate,
                    time: e.localActivityTime,
                    gmtDate: e.gmtActivityDate,
                    gmtTime: e.gmtActivityTime,
                    gmtOffset: e.gmtOffset,
                  },
                ],
              },
            ],
          },
        ],
      },
    };
    return [{ trackingNumber, read: () => parseUpsTrackResponse(response, trackingNumber) }];
  },
};

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
const fedex: PushReader = {
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

const DHL_ADDRESS: Shape = { address: { countryCode: 'string', postalCode: 'string', addressLocality: 'string' } };
const DHL_EVENT: Shape = { timestamp: 'string', location: DHL_ADDRESS, statusCode: 'string', status: 'string', description: 'string', remark: 'string' };
const DHL_PUSH: Shape = {
  shipments: [
    {
      id: 'scalar',
      service: 'string',
      origin: DHL_ADDRESS,
      destination: DHL_ADDRESS,
      status: DHL_EVENT,
      estimatedTimeOfDelivery: 'string',
      estimatedDeliveryTimeFrame: { estimatedFrom: 'string', estimatedThrough: 'string' },
      events: [DHL_EVENT],
    },
  ],
};

/**
 * DHL Shipment Tracking – Unified Push: the subscription names the header and token DHL must send
 * (`hook.authentication = { type: "ApiKeyAuthentication", header: "dhl-webhook-token", token: <secret> }`);
 * the body carries `shipments[]` in the Unified tracking shape.
 */
const dhl: PushReader = {
  header: 'dhl-webhook-token',
  verify: (headers, _raw, secret) => sameSecret(header(headers, 'dhl-webhook-token'), secret),
  shape: DHL_PUSH,
  events: (body) => {
    if (!isObject(body) || !Array.isArray(body.shipments)) return undefined;
    const shipments = (body as DhlTrackResponse).shipments?.filter((s) => isObject(s) && nonEmpty(String(s.id ?? ''))) ?? [];
    if (shipments.length === 0) return undefined;
    return shipments.map((s) => {
      const trackingNumber = String(s.id).trim();
      return { trackingNumber, read: (carrier) => parseDhlTrackResponse({ shipments: [s] }, trackingNumber, carrier) };
    });
  },
};

const AFTERSHIP_EDD: Shape = { datetime: 'string', source: 'string', estimated_delivery_date: 'string' };
const AFTERSHIP_PUSH: Shape = {
  msg: {
    tracking_number: 'string',
    slug: 'string',
    tag: 'string',
    subtag: 'string',
    subtag_message: 'string',
    expected_delivery: 'string',
    courier_estimated_delivery_date: AFTERSHIP_EDD,
    latest_estimated_delivery: AFTERSHIP_EDD,
    destination_country_iso3: 'string',
    destination_country_region: 'string',
    checkpoints: [
      {
        checkpoint_time: 'string',
        message: 'string',
        tag: 'string',
        subtag: 'string',
        raw_tag: 'string',
        city: 'string',
        state: 'string',
        zip: 'string',
        location: 'string',
        country_iso3: 'string',
        country_name: 'string',
        country_region: 'string',
        country_region_name: 'string',
      },
    ],
  },
};

/**
 * AfterShip webhooks: `{ event: "tracking_update", msg: <tracking> }` signed with `aftership-hmac-sha256`
 * = base64(HMAC-SHA256(body, webhook secret)) (AfterShip "Webhook Signature").
 */
const aftership: PushReader = {
  header: 'aftership-hmac-sha256',
  verify: (headers, raw, secret) => sameSecret(header(headers, 'aftership-hmac-sha256'), bodyHmac(raw, secret)),
  shape: AFTERSHIP_PUSH,
  events: (body) => {
    if (!isObject(body) || !isObject(body.msg) || !nonEmpty((body.msg as AftershipTracking).tracking_number)) return undefined;
    const msg = body.msg as AftershipTracking;
    const trackingNumber = (msg.tracking_number as string).trim();
    return [{ trackingNumber, read: (carrier) => parseAftershipResponse({ meta: { code: 200 }, data: msg }, trackingNumber, carrier) }];
  },
};

export const PUSH_READERS: Partial<Record<ProviderName, PushReader>> = { ups, fedex, dhl, aftership };
