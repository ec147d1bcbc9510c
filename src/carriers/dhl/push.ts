import { isObject, nonEmpty, type Shape } from '../parse-util.ts';
import { header, type PushReader, sameSecret } from '../push.ts';
import { type DhlTrackResponse, parseDhlTrackResponse } from './parse.ts';

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
export const dhlPush: PushReader = {
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
