import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CarrierCode } from '../domain/carriers.ts';
import type { TrackResult } from '../domain/shipment.ts';
import { parseAftershipResponse, type AftershipTracking } from './aftership/parse.ts';
import { parseDhlTrackResponse, type DhlTrackResponse } from './dhl/parse.ts';
import { parseFedexTrackResponse, type FedexTrackResponse } from './fedex/parse.ts';
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
  /** The events of a JSON body, or undefined when the body is not this provider's push shape. */
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

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

/**
 * UPS Track Alert (UPSTrackAlert.yaml, `webhooks.TrackingEvent`): one flat event per POST, with the
 * `credential` header carrying the opaque string the hub gave in its subscription's `destination`.
 */
const ups: PushReader = {
  header: 'credential',
  verify: (headers, _raw, secret) => sameSecret(header(headers, 'credential'), secret),
  events: (body) => {
    if (!isObject(body) || !str(body.trackingNumber) || !isObject(body.activityStatus)) return undefined;
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
                ...(str(e.scheduledDeliveryDate) ? { deliveryDate: [{ type: 'SDD', date: e.scheduledDeliveryDate }] } : {}),
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

/**
 * FedEx Advanced Integrated Visibility: signed with `fdx-signature` = base64(HMAC-SHA256(body, security
 * token)) ("Advanced Integrated Visibility Validation Process"). FedEx publishes no sample body; we read
 * the Track API's shapes, either a whole `output.completeTrackResults` or single track results, which is
 * what the AIV pages describe (the same tracking data pushed). Unverified against a live push.
 */
const fedex: PushReader = {
  header: 'fdx-signature',
  verify: (headers, raw, secret) => sameSecret(header(headers, 'fdx-signature'), bodyHmac(raw, secret)),
  events: (body) => {
    if (!isObject(body)) return undefined;
    const wrapped = body as FedexTrackResponse & { trackResults?: unknown[]; trackingNumberInfo?: { trackingNumber?: string } };
    let results: { trackingNumber: string; trackResults: unknown[] }[];
    if (isObject(wrapped.output) && Array.isArray((wrapped.output as { completeTrackResults?: unknown }).completeTrackResults)) {
      results = ((wrapped.output as { completeTrackResults: { trackingNumber?: string; trackResults?: unknown[] }[] }).completeTrackResults ?? [])
        .filter((r) => str(r.trackingNumber))
        .map((r) => ({ trackingNumber: r.trackingNumber as string, trackResults: r.trackResults ?? [] }));
    } else {
      const list = Array.isArray(wrapped.trackResults) ? wrapped.trackResults : [wrapped];
      results = list
        .filter(isObject)
        .map((r) => ({ trackingNumber: str((r as { trackingNumberInfo?: { trackingNumber?: unknown } }).trackingNumberInfo?.trackingNumber) ?? '', trackResults: [r] }))
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

/**
 * DHL Shipment Tracking – Unified Push: the subscription names the header and token DHL must send
 * (`hook.authentication = { type: "ApiKeyAuthentication", header: "dhl-webhook-token", token: <secret> }`);
 * the body carries `shipments[]` in the Unified tracking shape.
 */
const dhl: PushReader = {
  header: 'dhl-webhook-token',
  verify: (headers, _raw, secret) => sameSecret(header(headers, 'dhl-webhook-token'), secret),
  events: (body) => {
    if (!isObject(body) || !Array.isArray(body.shipments)) return undefined;
    const shipments = (body as DhlTrackResponse).shipments?.filter((s) => isObject(s) && str(String(s.id ?? ''))) ?? [];
    if (shipments.length === 0) return undefined;
    return shipments.map((s) => {
      const trackingNumber = String(s.id).trim();
      return { trackingNumber, read: (carrier) => parseDhlTrackResponse({ shipments: [s] }, trackingNumber, carrier) };
    });
  },
};

/**
 * AfterShip webhooks: `{ event: "tracking_update", msg: <tracking> }` signed with `aftership-hmac-sha256`
 * = base64(HMAC-SHA256(body, webhook secret)) (AfterShip "Webhook Signature").
 */
const aftership: PushReader = {
  header: 'aftership-hmac-sha256',
  verify: (headers, raw, secret) => sameSecret(header(headers, 'aftership-hmac-sha256'), bodyHmac(raw, secret)),
  events: (body) => {
    if (!isObject(body) || !isObject(body.msg) || !str((body.msg as AftershipTracking).tracking_number)) return undefined;
    const msg = body.msg as AftershipTracking;
    const trackingNumber = (msg.tracking_number as string).trim();
    return [{ trackingNumber, read: (carrier) => parseAftershipResponse({ meta: { code: 200 }, data: msg }, trackingNumber, carrier) }];
  },
};

export const PUSH_READERS: Partial<Record<ProviderName, PushReader>> = { ups, fedex, dhl, aftership };
