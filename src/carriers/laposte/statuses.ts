import { ADVERSE_STATUSES, lookupStatus, type StatusRow } from '../parse-util.ts';

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

/**
 * La Poste's own exception class: the two letters of a v2 code name its family, and the PB ("problème")
 * and ND ("non distribuable") families are La Poste's v1 status ERREUR (the La Poste Suivi v2 API
 * documentation's v1 ↔ v2 table, as debuss/lapostesuivi gives it). A code of these families is adverse
 * even when this table has no row for it yet (PB3 would otherwise fall back to IN_TRANSIT).
 */
export const LAPOSTE_EXCEPTION_FAMILIES: Record<string, StatusRow & { source: string }> = {
  PB: { status: 'EXCEPTION', source: 'La Poste Suivi v2 code family PB (v1 status ERREUR)' },
  ND: { status: 'FAILED_ATTEMPT', source: 'La Poste Suivi v2 code family ND (v1 status ERREUR, "undeliverable")' },
};

/** Codes of an exception family whose row is not adverse, with the reason the family does not decide. */
export const LAPOSTE_FAMILY_EXEMPT: Record<string, { reason: string }> = {
  PB2: { reason: 'PB2 is "problem resolved" (La Poste Suivi v2 code table): the parcel is moving again' },
};

/** The row for an event code: the table's, unless La Poste's family says exception and the row does not. */
export function laposteRow(code: string | undefined, description?: string): StatusRow {
  const row = lookupStatus('laposte', LAPOSTE_EVENT_CODES, code, { status: 'IN_TRANSIT' }, description);
  const family = code ? code.slice(0, 2) : '';
  if (!code || !Object.hasOwn(LAPOSTE_EXCEPTION_FAMILIES, family) || Object.hasOwn(LAPOSTE_FAMILY_EXEMPT, code)) return row;
  return ADVERSE_STATUSES.has(row.status) ? row : LAPOSTE_EXCEPTION_FAMILIES[family];
}

/**
 * `returnCode`s that mean "no such parcel" rather than a failed call. 104 is the code La Poste's Suivi v2
 * OpenAPI document gives its 404 answer ("Unknown or Invalid idShip": "votre suivi n'est pas encore
 * disponible", tracking not available yet). 105 is listed in the same enum without a meaning: not read as
 * "unknown" until one is documented.
 */
export const LAPOSTE_NOT_FOUND_CODES = new Set([104, 400, 404]);
