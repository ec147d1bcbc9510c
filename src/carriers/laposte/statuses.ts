import type { StatusRow } from '../parse-util.ts';

/**
 * La Poste Suivi v2 event `code` → normalised status. Codes and their v1 meaning from
 * the La Poste Suivi v2 API documentation (after debuss/lapostesuivi). DI2 is "delivered back to the sender" and ND1
 * "undeliverable" per the same table; both were marked unverified there.
 */
export const LAPOSTE_EVENT_CODES: Record<string, StatusRow> = {
  DR1: { status: 'INFO_RECEIVED' },
  PC1: { status: 'IN_TRANSIT' },
  PC2: { status: 'IN_TRANSIT' },
  ET1: { status: 'IN_TRANSIT' },
  ET2: { status: 'IN_TRANSIT' },
  ET3: { status: 'IN_TRANSIT' },
  ET4: { status: 'IN_TRANSIT' },
  EP1: { status: 'IN_TRANSIT' },
  DO1: { status: 'IN_TRANSIT', subStatus: 'CUSTOMS' },
  DO2: { status: 'IN_TRANSIT' },
  DO3: { status: 'EXCEPTION', subStatus: 'CUSTOMS' },
  PB2: { status: 'IN_TRANSIT' },
  AG1: { status: 'AVAILABLE_FOR_PICKUP' },
  MD2: { status: 'OUT_FOR_DELIVERY' },
  DI1: { status: 'DELIVERED' },
  DI2: { status: 'RETURNED_TO_SENDER' },
  RE1: { status: 'RETURNING_TO_SENDER' },
  PB1: { status: 'EXCEPTION' },
  ND1: { status: 'FAILED_ATTEMPT' },
};

/** `returnCode`s that mean "no such parcel" rather than a failed call. */
export const LAPOSTE_NOT_FOUND_CODES = new Set([400, 404]);
