import { isObject, nonEmpty, type Shape } from '../parse-util.ts';
import { header, type PushReader, sameSecret } from '../push.ts';
import { parseUpsTrackResponse, type UpsTrackResponse } from './parse.ts';

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
export const upsPush: PushReader = {
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
