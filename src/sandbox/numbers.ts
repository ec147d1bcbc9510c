import type { CarrierCode } from '../domain/carriers.ts';
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

/** Valid numbers whose scripted story is the one named, for each carrier the sandbox serves. */
export function sandboxNumbers(serial = '7712345'): { carrier: CarrierCode; scenario: ScenarioName; trackingNumber: string }[] {
  return (Object.keys(STORY_KEYS) as ScenarioName[]).map((scenario) => {
    const body = `${serial.padStart(7, '0').slice(0, 7)}00${STORY_KEYS[scenario]}`;
    return { carrier: 'fedex' as const, scenario, trackingNumber: `${body}${fedexCheckDigit(body)}` };
  });
}
