/** Carrier codes accepted by the Issuer API (docs/contract.md §5); they follow AfterShip's courier slugs. */
export const CARRIER_CODES = [
  'chronopost-france',
  'dhl',
  'dhl-global-mail',
  'deutsch-post',
  'estafeta',
  'fedex',
  'la-poste-colissimo',
  'nacex',
  'spanish-seur',
  'singapore-post',
  'spain-correos-es',
  'ups',
  'usps-iv-api',
] as const;

export type CarrierCode = (typeof CARRIER_CODES)[number];

export function isCarrierCode(value: unknown): value is CarrierCode {
  return typeof value === 'string' && (CARRIER_CODES as readonly string[]).includes(value);
}
