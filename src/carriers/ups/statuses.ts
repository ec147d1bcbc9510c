import type { StatusRow } from '../parse-util.ts';

/**
 * UPS activity `status.code` (2 characters). Rows come from the UPS Tracking API documentation (OT, FS, F4, SR)
 * and from codes seen in recorded UPS Track API responses (MP, PU, OR, AR, DP, YP, XD, RZ, BB, DA).
 */
export const UPS_ACTIVITY_CODES: Record<string, StatusRow> = {
  MP: { status: 'INFO_RECEIVED' },
  PU: { status: 'IN_TRANSIT' },
  XD: { status: 'IN_TRANSIT' },
  OR: { status: 'IN_TRANSIT' },
  AR: { status: 'IN_TRANSIT' },
  DP: { status: 'IN_TRANSIT' },
  YP: { status: 'IN_TRANSIT' },
  DA: { status: 'IN_TRANSIT' },
  SR: { status: 'IN_TRANSIT' },
  BB: { status: 'EXCEPTION', subStatus: 'CUSTOMS' },
  RZ: { status: 'EXCEPTION', subStatus: 'CUSTOMS' },
  OT: { status: 'OUT_FOR_DELIVERY' },
  FS: { status: 'DELIVERED' },
  F4: { status: 'DELIVERED' },
};

/**
 * UPS 3-digit simplified `statusCode`. It is more telling than the 2-letter code for customs events (the
 * same RZ code is sent for "pending release" as 012 and for "released" as 014), so it is read first.
 * 003/005/011/021 per carriers.md §2.1; 012/014/038/058/092 from recorded responses.
 */
export const UPS_STATUS_CODES: Record<string, StatusRow> = {
  '003': { status: 'INFO_RECEIVED' },
  '005': { status: 'IN_TRANSIT' },
  '011': { status: 'DELIVERED' },
  '012': { status: 'EXCEPTION', subStatus: 'CUSTOMS' },
  '014': { status: 'IN_TRANSIT' },
  '021': { status: 'OUT_FOR_DELIVERY' },
  '038': { status: 'IN_TRANSIT' },
  '058': { status: 'EXCEPTION', subStatus: 'CUSTOMS' },
  '092': { status: 'IN_TRANSIT', subStatus: 'CUSTOMS' },
};

/**
 * UPS `status.type` letter: the coarse category used when neither code is in a table. `D` covers
 * "loaded on vehicle / out for delivery / delivered", so an unknown D code is treated as out for delivery:
 * claiming delivery on a guess would end tracking too early.
 */
export const UPS_TYPES: Record<string, StatusRow> = {
  M: { status: 'INFO_RECEIVED' },
  MV: { status: 'EXCEPTION', subStatus: 'CANCELLED' },
  P: { status: 'IN_TRANSIT' },
  I: { status: 'IN_TRANSIT' },
  U: { status: 'IN_TRANSIT' },
  X: { status: 'EXCEPTION' },
  D: { status: 'OUT_FOR_DELIVERY' },
  // "Returned to shipper" type of the legacy UPS tracking vocabulary; the final delivery back to the
  // shipper comes as a D scan, which the state machine then reads as RETURNED_TO_SENDER.
  RS: { status: 'RETURNING_TO_SENDER' },
};

/** Response codes meaning "this number is unknown to UPS" rather than "the call failed". */
export const UPS_NOT_FOUND_CODES = new Set(['TW0001', 'TV1002']);
