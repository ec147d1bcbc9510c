import type { ShipmentStatus, SubStatus } from '../../domain/shipment.ts';

export interface StatusRow {
  status: ShipmentStatus;
  subStatus?: SubStatus;
}

/**
 * FedEx scan `eventType` / `derivedStatusCode` → normalised status. Codes and their grouping come from
 * the FedEx Track API documentation.
 */
export const FEDEX_STATUSES: Record<string, StatusRow> = {
  // label created, shipment information sent
  OC: { status: 'INFO_RECEIVED' },
  OX: { status: 'INFO_RECEIVED' },
  EP: { status: 'INFO_RECEIVED' },
  MD: { status: 'INFO_RECEIVED' },
  // derivedStatusCode for "Label created" in recorded responses; reached when a scan has no eventType
  IN: { status: 'INFO_RECEIVED' },
  // picked up
  PU: { status: 'IN_TRANSIT' },
  PX: { status: 'IN_TRANSIT' },
  OF: { status: 'IN_TRANSIT' },
  AP: { status: 'IN_TRANSIT' },
  // in transit
  IT: { status: 'IN_TRANSIT' },
  IX: { status: 'IN_TRANSIT' },
  AA: { status: 'IN_TRANSIT' },
  AC: { status: 'IN_TRANSIT' },
  AF: { status: 'IN_TRANSIT' },
  AR: { status: 'IN_TRANSIT' },
  AX: { status: 'IN_TRANSIT' },
  DP: { status: 'IN_TRANSIT' },
  EA: { status: 'IN_TRANSIT' },
  EO: { status: 'IN_TRANSIT' },
  FD: { status: 'IN_TRANSIT' },
  LO: { status: 'IN_TRANSIT' },
  PF: { status: 'IN_TRANSIT' },
  PL: { status: 'IN_TRANSIT' },
  PM: { status: 'IN_TRANSIT' },
  SF: { status: 'IN_TRANSIT' },
  TR: { status: 'IN_TRANSIT' },
  CC: { status: 'IN_TRANSIT' },
  AE: { status: 'IN_TRANSIT' },
  AO: { status: 'IN_TRANSIT' },
  // delays keep the parcel moving, with a reason
  DY: { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  DD: { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  PY: { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  RL: { status: 'IN_TRANSIT', subStatus: 'DELAYED' },
  // out for delivery
  OD: { status: 'OUT_FOR_DELIVERY' },
  AD: { status: 'OUT_FOR_DELIVERY' },
  ED: { status: 'OUT_FOR_DELIVERY' },
  // available for pickup
  HL: { status: 'AVAILABLE_FOR_PICKUP' },
  HP: { status: 'AVAILABLE_FOR_PICKUP' },
  // delivered
  DL: { status: 'DELIVERED' },
  // exceptions; DE ("delivery exception") is a delivery that did not happen, which the hub calls a failed attempt
  DE: { status: 'FAILED_ATTEMPT' },
  SE: { status: 'EXCEPTION' },
  CD: { status: 'EXCEPTION', subStatus: 'CUSTOMS' },
  HA: { status: 'EXCEPTION', subStatus: 'HELD' },
  CA: { status: 'EXCEPTION', subStatus: 'CANCELLED' },
  // return to shipper
  RS: { status: 'RETURNING_TO_SENDER' },
  RT: { status: 'RETURNING_TO_SENDER' },
};

/**
 * FedEx's own exception class, as its `derivedStatusCode` (per scan) or `derivedCode` (latest status)
 * names it. When the `eventType` row reads a normal status (AR "at local facility"), the class decides:
 * the derived code's row replaces it. An `eventType` row that is already adverse (HA held, CA cancelled)
 * says more precisely what went wrong and stays.
 * - Not a class: `exceptionCode`. FedEx fills it on ordinary scans too (A3 "Tendered at FedEx Facility" on
 *   an AF scan, A25 "Package available for clearance" on a pickup, in recorded answers); it only gives a reason.
 * - Not a class: DY / RL (delay, running late). FedEx reports them apart from its exceptions (`delayDetail`),
 *   the parcel keeps moving, and the hub's model says so as IN_TRANSIT with the DELAYED sub-status.
 */
export const FEDEX_EXCEPTION_CLASS: Record<string, { source: string }> = {
  DE: { source: 'FedEx Track API: derivedStatusCode DE "Delivery exception" (recorded answers: DE on scans with exceptionCode 08, A47)' },
  SE: { source: 'FedEx Track API status codes: SE "Shipment exception"' },
  CD: { source: 'FedEx Track API status codes: CD "Clearance delay"' },
};

/** FedEx `exceptionCode`s whose reason we know (delivery exceptions, "DEX" codes). */
export const FEDEX_EXCEPTION_REASONS: Record<string, SubStatus> = {
  '03': 'ADDRESS_ISSUE',
  '07': 'REFUSED',
  '08': 'RECIPIENT_NOT_AVAILABLE',
  '15': 'HELD',
  '17': 'RECIPIENT_NOT_AVAILABLE',
  A52: 'DELAYED',
};
