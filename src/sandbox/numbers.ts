import { detectCarriers } from '../carriers/detect.ts';
import { CARRIER_CODES, type CarrierCode } from '../domain/carriers.ts';
import type { ScenarioName } from './scenarios.ts';

const STORY_KEYS: Record<ScenarioName, string> = {
  delivered: '10',
  failed_attempt: '61',
  exception: '72',
  returned: '83',
  quiet: '91',
  never_found: '97',
};

/** FedEx Express 12-digit check digit: weights 3,1,7 from the left, mod 11, mod 10. */
export function fedexCheckDigit(body11: string): number {
  const weights = [3, 1, 7];
  let sum = 0;
  for (let i = 0; i < 11; i++) sum += Number(body11[i]) * weights[i % 3];
  return (sum % 11) % 10;
}

/**
 * Number shapes per carrier: `key` is the two story digits, `d` the check digit (tried 0–9 until detection
 * names the carrier). The story digits always sit just before the last digit (scenarios.ts).
 */
const SHAPES: Record<CarrierCode, (serial: string, key: string, d: number) => string> = {
  fedex: (serial, key) => {
    const body = `${serial}00${key}`;
    return `${body}${fedexCheckDigit(body)}`;
  },
  ups: (serial, key, d) => `1Z999AA101${serial.slice(2)}${key}${d}`,
  'usps-iv-api': (serial, key, d) => `940010000${serial}000${key}${d}`,
  dhl: (serial, key, d) => `${serial}${key}${d}`,
  'deutsch-post': (serial, key, d) => `RR${serial.slice(1)}${key}${d}DE`,
  'dhl-global-mail': (serial, key, d) => `GM${serial}0000000${key}${d}`,
  'la-poste-colissimo': (serial, key, d) => `CP${serial.slice(1)}${key}${d}FR`,
  'chronopost-france': (serial, key, d) => `XY${serial.slice(1)}${key}${d}FR`,
  estafeta: (serial, key, d) => `1${serial}00000000000${key}${d}`,
  nacex: (serial, key, d) => `NX${serial}${key}${d}`,
  'spanish-seur': (serial, key, d) => `SE${serial}${key}${d}`,
  'singapore-post': (serial, key, d) => `RS${serial.slice(1)}${key}${d}SG`,
  'spain-correos-es': (serial, key, d) => `PQ${serial.slice(1)}${key}${d}ES`,
};

export interface SandboxNumber {
  carrier: CarrierCode;
  scenario: ScenarioName;
  trackingNumber: string;
  /** True when detection alone names this carrier first; otherwise the request must give `carrier`. */
  detected: boolean;
  /** What detection alone picks instead, when `detected` is false (undefined: no rule fits). */
  detectedAs?: CarrierCode;
}

/** Tracking numbers whose scripted story is the one named, for every carrier code (or only those given). */
export function sandboxNumbers(serial = '7712345', carriers: readonly CarrierCode[] = ['fedex']): SandboxNumber[] {
  const s = serial.replace(/\D/g, '').padStart(7, '0').slice(0, 7);
  return carriers.flatMap((carrier) =>
    (Object.keys(STORY_KEYS) as ScenarioName[]).map((scenario) => {
      const make = (d: number) => SHAPES[carrier](s, STORY_KEYS[scenario], d);
      for (let d = 0; d <= 9; d++) {
        if (detectCarriers(make(d))[0] === carrier) return { carrier, scenario, trackingNumber: make(d), detected: true };
      }
      const detectedAs = detectCarriers(make(0))[0];
      return { carrier, scenario, trackingNumber: make(0), detected: false, ...(detectedAs ? { detectedAs } : {}) };
    }),
  );
}

export const ALL_CARRIERS = CARRIER_CODES;
