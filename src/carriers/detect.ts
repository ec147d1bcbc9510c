import type { CarrierCode } from '../domain/carriers.ts';

/**
 * Tracking-number formats and check digits (the carriers' published tracking-number formats, checked against the test numbers
 * of jkeen/tracking_number_data). Detection only proposes candidates: numeric formats collide, so the
 * result is ranked and a live lookup has the last word.
 */

const digitsOf = (s: string): number[] => [...s].map(Number);

/** GS1 mod 10: from the rightmost data digit leftwards, weights 3,1,3,… */
function gs1Check(data: string): number {
  let sum = 0;
  const d = digitsOf(data);
  for (let i = d.length - 1, w = 3; i >= 0; i--, w = w === 3 ? 1 : 3) sum += d[i] * w;
  return (10 - (sum % 10)) % 10;
}

const gs1Valid = (full: string): boolean => gs1Check(full.slice(0, -1)) === Number(full.at(-1));

/** UPS 1Z: letters count as (char code − 3) mod 10, every second character doubled. */
function ups1zValid(n: string): boolean {
  const body = n.slice(2, 17);
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    const v = /\d/.test(c) ? Number(c) : (c.charCodeAt(0) - 3) % 10;
    sum += i % 2 === 1 ? v * 2 : v;
  }
  return (10 - (sum % 10)) % 10 === Number(n[17]);
}

/**
 * UPS waybill (handwritten / Worldwide Services waybills): a letter of A H J K T V, 9 serial digits, a
 * check digit by the 1Z mod 10 (odd positions doubled). UPS publishes no format; this one is
 * jkeen/tracking_number_data's "UPS Waybill" (couriers/ups.json, v2.0.0), built from real trackable labels
 * (its issues #26, #59, #75), and checked here against its valid and invalid test numbers.
 */
function upsWaybillValid(n: string): boolean {
  const sum = digitsOf(n.slice(1, 10)).reduce((acc, d, i) => acc + (i % 2 === 1 ? d * 2 : d), 0);
  return (10 - (sum % 10)) % 10 === Number(n[10]);
}

/** FedEx Express 12: weights 3,1,7 repeating over 11 digits, then mod 11, then mod 10. */
function fedex12Valid(n: string): boolean {
  const w = [3, 1, 7];
  const sum = digitsOf(n.slice(0, 11)).reduce((acc, d, i) => acc + d * w[i % 3], 0);
  return (sum % 11) % 10 === Number(n[11]);
}

/** UPU S10: weights 8,6,4,2,3,5,9,7 over the 8 serial digits; 11 − (Σ mod 11), with 10 → 0 and 11 → 5. */
function s10Valid(n: string): boolean {
  const w = [8, 6, 4, 2, 3, 5, 9, 7];
  const sum = digitsOf(n.slice(2, 10)).reduce((acc, d, i) => acc + d * w[i], 0);
  const r = 11 - (sum % 11);
  return (r === 10 ? 0 : r === 11 ? 5 : r) === Number(n[10]);
}

/** DHL Express: the 9-digit serial mod 7 is the check digit. */
const dhlExpressValid = (n: string): boolean => Number(n.slice(0, 9)) % 7 === Number(n[9]);

/** S10 country suffix → the postal operator among the hub's carriers (carriers.md §6). */
const S10_OPERATORS: Record<string, CarrierCode[]> = {
  // Chronopost issues S10-shaped numbers ending FR too; La Poste's API answers for both.
  FR: ['la-poste-colissimo', 'chronopost-france'],
  DE: ['deutsch-post'],
  ES: ['spain-correos-es'],
  SG: ['singapore-post'],
  US: ['usps-iv-api'],
};

/** Where each carrier is the domestic choice; a request's country raises these in the ranking. */
const HOME_COUNTRY: Partial<Record<CarrierCode, string>> = {
  ups: 'US', fedex: 'US', 'usps-iv-api': 'US', 'dhl-global-mail': 'US', 'deutsch-post': 'DE', dhl: 'DE',
  'la-poste-colissimo': 'FR', 'chronopost-france': 'FR', estafeta: 'MX', nacex: 'ES', 'spanish-seur': 'ES',
  'spain-correos-es': 'ES', 'singapore-post': 'SG',
};

const POSTAL_OPERATOR: Record<string, CarrierCode> = {
  FR: 'la-poste-colissimo', DE: 'deutsch-post', ES: 'spain-correos-es', SG: 'singapore-post', US: 'usps-iv-api',
};

interface Candidate {
  carrier: CarrierCode;
  /**
   * 100: format and check digit agree; 90–99: the same evidence, ranked below the rule's first choice;
   * 50: format only (no published check digit). Hints add at most 30, so they reorder candidates of
   * like evidence but never lift a format-only match above a verified check digit.
   */
  score: number;
}

function usps(n: string): boolean {
  // An optional routing prefix, 420 + ZIP5 or ZIP+4, precedes the package code on IMpb labels.
  const inner = [n, ...[8, 12].filter((k) => n.startsWith('420') && n.length > k).map((k) => n.slice(k))];
  return inner.some(
    (c) =>
      (/^9[1-5]\d{20}$/.test(c) || /^9[1-5]\d{24}$/.test(c) ? gs1Valid(c) : false) ||
      // Legacy 20-digit codes: checked as printed, or with the implied "91" application identifier.
      (/^\d{20}$/.test(c) && !c.startsWith('9') && (gs1Valid(c) || gs1Valid(`91${c}`))),
  );
}

function rawCandidates(n: string, hintCountry?: string): Candidate[] {
  const out: Candidate[] = [];
  const add = (carrier: CarrierCode, score = 100) => out.push({ carrier, score });

  if (/^1Z[0-9A-Z]{16}$/.test(n) && ups1zValid(n)) add('ups');
  if (/^[AHJKTV]\d{10}$/.test(n) && upsWaybillValid(n)) add('ups');

  if (/^[A-Z]{2}\d{9}[A-Z]{2}$/.test(n) && s10Valid(n)) {
    const operators = S10_OPERATORS[n.slice(11)];
    if (operators) for (const [i, c] of operators.entries()) add(c, 100 - i);
    // Items are trackable at the destination operator too; the request's country says which that is.
    const local = hintCountry ? POSTAL_OPERATOR[hintCountry] : undefined;
    if (local && !operators?.includes(local)) add(local, 90);
  }

  if (/^\d+$/.test(n)) {
    if (n.length === 12 && fedex12Valid(n)) add('fedex');
    if (n.length === 15 && gs1Valid(n)) add('fedex');
    // FedEx SSCC-18: "00" + 15 digits + a GS1 mod-10 check (the carriers' published tracking-number formats).
    if (/^00\d{16}$/.test(n) && gs1Valid(n)) add('fedex');
    if (n.length === 10 && dhlExpressValid(n)) add('dhl');
    // FedEx Ground 96: the check covers only the 14-digit shipper + package id before it.
    if (/^96\d{20}$/.test(n) && gs1Valid(n.slice(7))) add('fedex');
    if (usps(n)) add('usps-iv-api');
    // SmartPost labels are IMpb codes handed to USPS; 20-digit forms omit the "92" identifier.
    if ((/^92\d{20}$/.test(n) && gs1Valid(n)) || (/^\d{20}$/.test(n) && !n.startsWith('92') && gs1Valid(`92${n}`))) {
      add('fedex', 99);
    }
    if (/^\d{22}$/.test(n) && !n.startsWith('9')) add('estafeta', 50);
  }

  // DHL eCommerce: prefix and length only, no check digit exists.
  if (/^(GM|LX|RX|UV|CN|SG|TH|IN|HK|MY)[0-9A-Z]{10,39}$/.test(n)) add('dhl-global-mail', 50);
  // Colissimo domestic: a digit, a letter, 11 digits (e.g. 6A…, 8L…); no check digit is published.
  if (/^\d[A-Z]\d{11}$/.test(n)) add('la-poste-colissimo', 50);
  return out;
}

export function detectCarriers(
  trackingNumber: string,
  hints: { countryCode?: string; siteCarriers?: CarrierCode[] } = {},
): CarrierCode[] {
  const n = trackingNumber.toUpperCase().replace(/[\s-]/g, '');
  if (!/^[0-9A-Z]{8,40}$/.test(n)) return [];
  const country = hints.countryCode?.toUpperCase();
  const best = new Map<CarrierCode, number>();
  for (const c of rawCandidates(n, country)) {
    let score = c.score;
    if (country && HOME_COUNTRY[c.carrier] === country) score += 10;
    if (hints.siteCarriers?.includes(c.carrier)) score += 20;
    best.set(c.carrier, Math.max(best.get(c.carrier) ?? -Infinity, score));
  }
  // Stable sort keeps rule order among equal scores.
  return [...best.entries()].sort((a, b) => b[1] - a[1]).map(([carrier]) => carrier);
}
