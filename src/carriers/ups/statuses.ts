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
  // "at the clearing agency awaiting final release": IN_TRANSIT as a code alone; sent with type X it is an
  // EXCEPTION (UPS_TYPE_DECIDES), and this row then gives the reason.
  '092': { status: 'IN_TRANSIT', subStatus: 'CUSTOMS', source: 'recorded UPS Track API answer (customs hold, Belgium to Australia)' },
};

/**
 * UPS `status.type` letter: the coarse category, used when neither code is in a table. `D` covers
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

/**
 * The type letters that decide over the code tables: UPS's own class of the event wins over our reading
 * of its code. The other letters only name a coarse stage (D, I, M, P, U: the code is finer and decides;
 * the letter is the fallback above). RS is not here: it is in no current UPS document (Tracking.yaml and
 * UPSTrackAlert.yaml list D, I, M, MV, U, X), and an unverified letter must not overrule a code.
 */
export const UPS_TYPE_DECIDES: Record<string, StatusRow & { source: string }> = {
  X: {
    status: 'EXCEPTION',
    source: 'UPS Track Alert FAQ (UPS-API/api-documentation, UPSTrackAlert.yaml): "X = exception information (something out of the normal happened to your package)"',
  },
  MV: { status: 'EXCEPTION', subStatus: 'CANCELLED', source: 'UPSTrackAlert.yaml, activityStatus.type: MV "Manifest Void" (the label was voided)' },
};

/**
 * Codes that end an exception though UPS sends them with type X: here the code table decides. Reading a
 * release as EXCEPTION would report the parcel held at the moment it was let go.
 */
export const UPS_EXCEPTION_RESOLUTIONS: Record<string, { source: string }> = {
  SR: { source: 'UPS Tracking.yaml example: type X, code SR, "Your package was released by the customs agency."' },
  '014': {
    source:
      'recorded UPS Track API answers: every 014 sent with type X is a step out of customs ("released by the government agency", ' +
      '"UPS has received the information needed to submit your package for clearance", "Your package is on the way")',
  },
};

/** Response codes meaning "this number is unknown to UPS" rather than "the call failed". */
export const UPS_NOT_FOUND_CODES = new Set(['TW0001', 'TV1002']);
