import type { StatusRow } from '../parse-util.ts';

/**
 * USPS `eventCode` → normalised status. Codes and meanings from the USPS Tracking 3.0 API documentation (the Web Tools
 * event codes the v3 API still returns); A1, AD, T1 and TL were seen in recorded v3 responses.
 */
export const USPS_EVENT_CODES: Record<string, StatusRow> = {
  // label and acceptance
  MA: { status: 'INFO_RECEIVED' },
  GX: { status: 'INFO_RECEIVED' },
  '03': { status: 'IN_TRANSIT' },
  TM: { status: 'IN_TRANSIT' },
  PA: { status: 'IN_TRANSIT' },
  // a shipping partner holds the parcel before USPS does
  '80': { status: 'IN_TRANSIT' },
  '81': { status: 'IN_TRANSIT' },
  '82': { status: 'IN_TRANSIT' },
  // moving through the network
  '06': { status: 'IN_TRANSIT' },
  '07': { status: 'IN_TRANSIT' },
  '10': { status: 'IN_TRANSIT' },
  PC: { status: 'IN_TRANSIT' },
  EF: { status: 'IN_TRANSIT' },
  SF: { status: 'IN_TRANSIT' },
  A1: { status: 'IN_TRANSIT' },
  AD: { status: 'IN_TRANSIT' },
  T1: { status: 'IN_TRANSIT' },
  TL: { status: 'IN_TRANSIT' },
  DX: { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  '08': { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  '15': { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  '71': { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  // last mile
  OF: { status: 'OUT_FOR_DELIVERY' },
  '14': { status: 'AVAILABLE_FOR_PICKUP' },
  '16': { status: 'AVAILABLE_FOR_PICKUP' },
  '01': { status: 'DELIVERED' },
  '17': { status: 'DELIVERED' },
  '43': { status: 'DELIVERED' },
  // attempts
  '02': { status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  '30': { status: 'FAILED_ATTEMPT', subStatus: 'ADDRESS_ISSUE' },
  '51': { status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  '52': { status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  '53': { status: 'FAILED_ATTEMPT', subStatus: 'ADDRESS_ISSUE' },
  '54': { status: 'FAILED_ATTEMPT', subStatus: 'ADDRESS_ISSUE' },
  '55': { status: 'FAILED_ATTEMPT', subStatus: 'ADDRESS_ISSUE' },
  '56': { status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  // exceptions
  '04': { status: 'EXCEPTION', subStatus: 'REFUSED' },
  '05': { status: 'EXCEPTION', subStatus: 'ADDRESS_ISSUE' },
  '11': { status: 'EXCEPTION', subStatus: 'LOST' },
  // on the way back to the sender, with the reason USPS gives
  '09': { status: 'RETURNING_TO_SENDER' },
  '21': { status: 'RETURNING_TO_SENDER', subStatus: 'ADDRESS_ISSUE' },
  '22': { status: 'RETURNING_TO_SENDER', subStatus: 'ADDRESS_ISSUE' },
  '23': { status: 'RETURNING_TO_SENDER', subStatus: 'ADDRESS_ISSUE' },
  '24': { status: 'RETURNING_TO_SENDER', subStatus: 'ADDRESS_ISSUE' },
  '25': { status: 'RETURNING_TO_SENDER', subStatus: 'ADDRESS_ISSUE' },
  '26': { status: 'RETURNING_TO_SENDER', subStatus: 'ADDRESS_ISSUE' },
  '27': { status: 'RETURNING_TO_SENDER', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  '28': { status: 'RETURNING_TO_SENDER', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  '29': { status: 'RETURNING_TO_SENDER' },
  '31': { status: 'RETURNING_TO_SENDER', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  '44': { status: 'RETURNING_TO_SENDER' },
};

/** USPS `statusCategory`: the coarse category, used when the newest event's code is not in the table. */
export const USPS_STATUS_CATEGORIES: Record<string, StatusRow> = {
  'Pre-Shipment': { status: 'INFO_RECEIVED' },
  Accepted: { status: 'IN_TRANSIT' },
  'In Transit': { status: 'IN_TRANSIT' },
  'Moving Through Network': { status: 'IN_TRANSIT' },
  'Out for Delivery': { status: 'OUT_FOR_DELIVERY' },
  'Available for Pickup': { status: 'AVAILABLE_FOR_PICKUP' },
  Delivered: { status: 'DELIVERED' },
  'Delivered to Agent': { status: 'DELIVERED' },
  Alert: { status: 'EXCEPTION' },
  'Return to Sender': { status: 'RETURNING_TO_SENDER' },
};

/** v3 error codes that mean "USPS has nothing for this number (yet)". */
export const USPS_NOT_FOUND_CODES = new Set(['150001']);
