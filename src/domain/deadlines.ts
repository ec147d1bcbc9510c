import type { OperationState } from './operation.ts';

/**
 * When an operation's time is up, and what its carrier must have said before a SHIPMENT may fail: the
 * deadlines and the evidence rules the state machine (operation.ts) and the schedule (schedule.ts) share.
 */

/**
 * No outcome by the clock alone: a parcel fails only on what its carrier said when asked. Pushes are not
 * asking (a push that brings nothing new says nothing of the parcel's other scans).
 */
export interface CarrierAnswers {
  /** The newest poll a carrier answered, whatever it said. */
  lastAt: string;
  /** "Unknown" answers counted toward TRACKING_NUMBER_NOT_FOUND: one per stretch of the window at most. */
  unknown: number;
  /** When the newest counted "unknown" came. */
  unknownCountedAt?: string;
  /** When the newest "unknown" came, counted or not. */
  unknownLastAt?: string;
}

/** How many "unknown" answers, spread over the not-found window, TRACKING_NUMBER_NOT_FOUND needs by default. */
export const DEFAULT_NOT_FOUND_ANSWERS = 3;

export interface Timeouts {
  notFoundAfterMs: number;
  /** "Unknown" answers needed, one of them after the window ended (TRACKHUB_NOT_FOUND_ANSWERS). */
  notFoundAnswers?: number;
  expireAfterMs: number;
  productionTimeoutMs: number;
  returnTimeoutMs: number;
}

/** When the operation times out if nothing happens, or undefined when closed. */
export function deadline(s: OperationState, t: Timeouts): string | undefined {
  if (!s.open) return undefined;
  const at = (from: string, ms: number) => new Date(Date.parse(from) + ms).toISOString();
  switch (s.trackingType) {
    case 'PRODUCTION':
      return at(s.startTime, t.productionTimeoutMs);
    case 'RETURN':
      return at(s.startTime, t.returnTimeoutMs);
    case 'SHIPMENT':
      return s.shipment ? at(s.lastChangeAt ?? s.startTime, t.expireAfterMs) : at(s.startTime, t.notFoundAfterMs);
  }
}

function notFoundAnswers(t: Timeouts): number {
  return Math.max(1, t.notFoundAnswers ?? DEFAULT_NOT_FOUND_ANSWERS);
}

/**
 * A polled answer, recorded before the state machine reads it: an "unknown" counts toward
 * TRACKING_NUMBER_NOT_FOUND when it comes at least a 1/N-th of the window after the last counted one, so
 * the N answers are spread over the window rather than N polls in a row. The poll waits no more.
 */
export function recordAnswer(s: OperationState, now: string, unknown: boolean, t: Timeouts): OperationState {
  const answers: CarrierAnswers = { ...(s.answers ?? { unknown: 0 }), lastAt: now };
  if (unknown) {
    answers.unknownLastAt = now;
    const spacing = t.notFoundAfterMs / notFoundAnswers(t);
    if (!answers.unknownCountedAt || Date.parse(now) - Date.parse(answers.unknownCountedAt) >= spacing) {
      answers.unknown += 1;
      answers.unknownCountedAt = now;
    }
  }
  const parcel = s.parcel ? { ...s.parcel } : undefined;
  if (parcel) delete parcel.waitingSince;
  return { ...s, answers, ...(parcel ? { parcel } : {}) };
}

/**
 * Past its deadline, a SHIPMENT still waits for its carrier's word: for TRACKING_NUMBER_NOT_FOUND, N
 * "unknown" answers spread over the window and one of them after it ended; for TRACKING_EXPIRED, an
 * answer after the deadline (it showed nothing new, or the deadline would have moved). A deadline that
 * comes while the carrier cannot be asked (budget, breaker, outage) waits until it can.
 */
export function awaitsCarrier(s: OperationState, t: Timeouts, now: number): boolean {
  const due = deadline(s, t);
  if (!due || s.trackingType !== 'SHIPMENT' || now < Date.parse(due)) return false;
  return !carrierConfirms(s, due, t);
}

export function carrierConfirms(s: OperationState, due: string, t: Timeouts): boolean {
  const a = s.answers;
  if (!a) return false;
  if (!s.shipment) return a.unknown >= notFoundAnswers(t) && (a.unknownLastAt ?? '') >= due;
  return a.lastAt >= due;
}

/** When an "unknown" answer would next count (TRACKING_NUMBER_NOT_FOUND's spread); undefined when any answer would do. */
export function nextCountedUnknownAt(s: OperationState, t: Timeouts): number | undefined {
  const a = s.answers;
  if (!a?.unknownCountedAt || a.unknown >= notFoundAnswers(t)) return undefined;
  return Date.parse(a.unknownCountedAt) + t.notFoundAfterMs / notFoundAnswers(t);
}
