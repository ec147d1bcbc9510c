import { isObject, nonEmpty, type Shape } from '../parse-util.ts';
import { bodyHmac, header, type PushReader, sameSecret } from '../push.ts';
import { type AftershipTracking, parseAftershipResponse } from './parse.ts';

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
export const aftershipPush: PushReader = {
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
