import type { StatusRow } from '../parse-util.ts';

/** DHL Unified `statusCode`: the coarse, division-neutral category (the DHL Shipment Tracking – Unified API documentation). */
export const DHL_STATUS_CODES: Record<string, StatusRow> = {
  'pre-transit': { status: 'INFO_RECEIVED' },
  transit: { status: 'IN_TRANSIT' },
  delivered: { status: 'DELIVERED' },
  // DHL's own exception class: it decides over an Express type code that reads a normal status (dhlStatusRow).
  failure: { status: 'EXCEPTION', source: 'DHL Shipment Tracking – Unified API: statusCode enum pre-transit / transit / delivered / failure / unknown' },
  // DHL has an event but could not classify it; the parcel is known to be somewhere in the network.
  unknown: { status: 'IN_TRANSIT' },
};

/**
 * DHL Express event `typeCode`s (carriers.md §2.4). The Unified API for `service=express` can put one in
 * the event's `status` field; when it does, it refines the coarse `statusCode`.
 */
export const DHL_EXPRESS_TYPE_CODES: Record<string, StatusRow> = {
  PU: { status: 'IN_TRANSIT' },
  PL: { status: 'IN_TRANSIT' },
  DF: { status: 'IN_TRANSIT' },
  AF: { status: 'IN_TRANSIT' },
  AR: { status: 'IN_TRANSIT' },
  CR: { status: 'IN_TRANSIT' },
  CC: { status: 'IN_TRANSIT', subStatus: 'CUSTOMS' },
  CD: { status: 'EXCEPTION', subStatus: 'CUSTOMS' },
  TD: { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  MD: { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  UD: { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  WC: { status: 'OUT_FOR_DELIVERY' },
  OK: { status: 'DELIVERED' },
  OH: { status: 'EXCEPTION', subStatus: 'HELD' },
  BA: { status: 'FAILED_ATTEMPT', subStatus: 'ADDRESS_ISSUE' },
  NH: { status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  RT: { status: 'RETURNING_TO_SENDER' },
};

/**
 * Under `failure` these phrases refine DHL's class into a finer adverse status (return, failed attempt,
 * customs), which keeps the class. One rule may leave it: "ready for pickup" under failure. Reason: the
 * Unified statusCode enum has no pickup value, so a parcel left at a service point after a failed delivery
 * can only come as `failure`, and what the recipient must do (collect it) is AVAILABLE_FOR_PICKUP, which
 * the hub's model has and an EXCEPTION would hide.
 *
 * `statusCode` is coarse: "transit" covers out-for-delivery and pickup points, and "failure" covers both
 * failed attempts and returns. Divisions other than Express send only text, in the requested language
 * (German for parcel-de), so these phrases refine a coarse code. First match wins; only codes listed in
 * `within` are refined, so a phrase can never turn a delivered event into something else.
 */
export const DHL_TEXT_RULES: { pattern: RegExp; within: string[]; row: StatusRow }[] = [
  { pattern: /return(ed|ing)? to (the )?(sender|shipper)|r(ü|ue)cksendung|zur(ü|ue)ckgesendet|an den absender/i, within: ['transit', 'failure'], row: { status: 'RETURNING_TO_SENDER' } },
  { pattern: /out for delivery|with delivery courier|zustellfahrzeug geladen|in zustellung/i, within: ['transit'], row: { status: 'OUT_FOR_DELIVERY' } },
  { pattern: /ready for (pick ?up|collection)|available for pick ?up|zur abholung bereit|liegt in (der|einer) (filiale|packstation)/i, within: ['transit', 'failure'], row: { status: 'AVAILABLE_FOR_PICKUP' } },
  { pattern: /delivery attempt|could not be delivered|not at home|nicht angetroffen|konnte nicht zugestellt werden/i, within: ['transit', 'failure'], row: { status: 'FAILED_ATTEMPT' } },
  { pattern: /customs|zoll/i, within: ['failure'], row: { status: 'EXCEPTION', subStatus: 'CUSTOMS' } },
];
