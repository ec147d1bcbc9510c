/**
 * Scripted parcel lives for the carrier sandbox. A script is carrier-neutral; each provider's sandbox
 * renders the visible steps in its own API shape. The number picks the script, so a tester chooses
 * the story by choosing the number (see `trackhub sandbox numbers`).
 */
export type StepKind =
  | 'label'
  | 'pickup'
  | 'departed'
  | 'arrived'
  | 'out_for_delivery'
  | 'failed_attempt'
  | 'exception'
  | 'delivered'
  | 'return_started'
  | 'returned';

export interface Place {
  city: string;
  state?: string;
  postalCode: string;
  countryCode: string;
  countryName: string;
  /** Fixed UTC offset used when rendering local times, e.g. -05:00. */
  offset: string;
}

export interface ScriptStep {
  /** Hours of parcel life after the number was first asked about. */
  atHours: number;
  kind: StepKind;
  place: Place;
}

export type ScenarioName = 'delivered' | 'failed_attempt' | 'exception' | 'returned' | 'quiet' | 'never_found';

const ORIGIN: Place = { city: 'MEMPHIS', state: 'TN', postalCode: '38118', countryCode: 'US', countryName: 'United States', offset: '-06:00' };
const HUB: Place = { city: 'INDIANAPOLIS', state: 'IN', postalCode: '46241', countryCode: 'US', countryName: 'United States', offset: '-05:00' };
const DEST: Place = { city: 'NEW YORK', state: 'NY', postalCode: '10001', countryCode: 'US', countryName: 'United States', offset: '-05:00' };

const FIRST_LEGS: ScriptStep[] = [
  { atHours: 0, kind: 'label', place: ORIGIN },
  { atHours: 2, kind: 'pickup', place: ORIGIN },
  { atHours: 8, kind: 'departed', place: HUB },
  { atHours: 20, kind: 'arrived', place: DEST },
];

export const SCENARIOS: Record<ScenarioName, ScriptStep[]> = {
  delivered: [...FIRST_LEGS, { atHours: 26, kind: 'out_for_delivery', place: DEST }, { atHours: 30, kind: 'delivered', place: DEST }],
  failed_attempt: [
    ...FIRST_LEGS,
    { atHours: 26, kind: 'out_for_delivery', place: DEST },
    { atHours: 28, kind: 'failed_attempt', place: DEST },
    { atHours: 48, kind: 'out_for_delivery', place: DEST },
    { atHours: 50, kind: 'delivered', place: DEST },
  ],
  exception: [
    ...FIRST_LEGS,
    { atHours: 22, kind: 'exception', place: DEST },
    { atHours: 40, kind: 'arrived', place: DEST },
    { atHours: 44, kind: 'out_for_delivery', place: DEST },
    { atHours: 46, kind: 'delivered', place: DEST },
  ],
  returned: [
    ...FIRST_LEGS,
    { atHours: 26, kind: 'out_for_delivery', place: DEST },
    { atHours: 28, kind: 'failed_attempt', place: DEST },
    { atHours: 50, kind: 'return_started', place: DEST },
    { atHours: 90, kind: 'returned', place: ORIGIN },
  ],
  quiet: FIRST_LEGS.slice(0, 2),
  never_found: [],
};

/** The two digits before the check digit choose the story. */
export function scenarioFor(trackingNumber: string): ScenarioName {
  const digits = trackingNumber.replace(/\D/g, '');
  const key = Number(digits.slice(-3, -1) || '0');
  if (key < 60) return 'delivered';
  if (key < 70) return 'failed_attempt';
  if (key < 80) return 'exception';
  if (key < 90) return 'returned';
  if (key < 95) return 'quiet';
  return 'never_found';
}

export interface VisibleStep extends ScriptStep {
  /**
   * The time the carrier prints for the step: when it happened in the sandbox's compressed life of the
   * parcel (the first request for the number, plus the step's hours divided by the speed), rounded up to
   * a whole second as carriers print them; the step shows from that time on (the label at once, dated
   * up to a second after the first answer). So a parcel's scans are never dated before the request that
   * opened it, and follow one another at the pace the tester watches them arrive. At a very high speed
   * several steps share a second; they are listed in their story's order, which the parsers keep.
   */
  time: Date;
}

/** Parcels one sandbox remembers (oldest forgotten first), and the longest number it starts a parcel for. */
const MAX_PARCELS = 100_000;
const MAX_NUMBER_LENGTH = 64;
/** The carrier's estimate: this many hours of parcel life after the story's last step. */
const ESTIMATE_MARGIN_HOURS = 10;

const wholeSecondUp = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000);

/**
 * Parcel clocks start when the sandbox first hears of a number (the hub's first poll, right after the
 * track request); the speed factor compresses hours of parcel life into seconds. State is in memory: a
 * restarted sandbox starts its parcels again.
 */
export class ParcelClock {
  private readonly firstSeen = new Map<string, number>();
  constructor(
    private readonly speed: number,
    private readonly now: () => number = Date.now,
  ) {}

  visibleSteps(trackingNumber: string): { scenario: ScenarioName; steps: VisibleStep[]; remaining: number; estimatedDelivery: Date } {
    const now = this.now();
    // No real carrier has numbers this long: never found, and nothing remembered of it.
    if (trackingNumber.length > MAX_NUMBER_LENGTH) return { scenario: 'never_found', steps: [], remaining: 0, estimatedDelivery: new Date(now) };
    let start = this.firstSeen.get(trackingNumber);
    if (start === undefined) {
      start = now;
      this.firstSeen.set(trackingNumber, start);
      if (this.firstSeen.size > MAX_PARCELS) this.firstSeen.delete(this.firstSeen.keys().next().value as string);
    }
    const at = (h: number) => (start as number) + (h * 3_600_000) / this.speed;
    const scenario = scenarioFor(trackingNumber);
    const script = SCENARIOS[scenario];
    // A step shows once the time printed on it has come, so it is not dated ahead of the answer; but the
    // label shows at once: a number the first request finds unknown would send the hub to the next
    // carrier its format fits (La Poste's and Chronopost's numbers look alike), unlike a real label.
    const steps = script.map((s) => ({ ...s, time: wholeSecondUp(at(s.atHours)) })).filter((s) => s.atHours === 0 || s.time.getTime() <= now);
    const estimatedDelivery = wholeSecondUp(at((script.at(-1)?.atHours ?? 0) + ESTIMATE_MARGIN_HOURS));
    return { scenario, steps, remaining: script.length - steps.length, estimatedDelivery };
  }
}

/** ISO 8601 with the place's fixed offset, the way carriers print local scan times. */
export function localIso(time: Date, offset: string): string {
  const sign = offset.startsWith('-') ? -1 : 1;
  const [h, m] = offset.slice(1).split(':').map(Number);
  const shifted = new Date(time.getTime() + sign * (h * 60 + m) * 60_000);
  return `${shifted.toISOString().slice(0, 19)}${offset}`;
}
