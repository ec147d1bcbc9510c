import { awaitsCarrier, deadline, nextCountedUnknownAt, type Timeouts } from './deadlines.ts';
import type { OperationState } from './operation.ts';

export interface PollBounds {
  pollMinIntervalMs: number;
  pollMaxIntervalMs: number;
  /** While a parcel's carrier pushes its scans, polling is only a safety net at this pace (TRACKHUB_PUSH_SAFETY_POLL). */
  pushSafetyIntervalMs?: number;
}

/** The safety-net poll of a parcel whose carrier pushes, when none is configured. */
export const DEFAULT_PUSH_SAFETY_INTERVAL_MS = 12 * 3_600_000;

/** Statuses where the next scan is likely within hours: poll at the fastest pace. */
const BUSY = new Set(['OUT_FOR_DELIVERY', 'FAILED_ATTEMPT', 'AVAILABLE_FOR_PICKUP', 'EXCEPTION']);

/** Whether the parcel's carrier has pushed within the safety-net interval: then pushes, not polls, bring its news. */
export function pushIsLive(s: OperationState, now: number, b: PollBounds): boolean {
  const at = s.parcel?.pushedAt;
  return at !== undefined && now - Date.parse(at) < (b.pushSafetyIntervalMs ?? DEFAULT_PUSH_SAFETY_INTERVAL_MS);
}

/**
 * Adaptive polling without extra state: the longer a parcel has been quiet, the longer we wait (a quarter
 * of its quiet time), between the configured bounds. `stretch` (≥ 1) is how far a provider's demand
 * exceeds its budget: intervals grow by it, still within the bounds. A parcel whose carrier pushes is
 * polled only as a safety net.
 */
export function pollIntervalMs(s: OperationState, now: number, b: PollBounds, stretch = 1): number {
  const quietSince = Date.parse(s.lastChangeAt ?? s.startTime);
  const base = s.shipment && BUSY.has(s.shipment.status) ? b.pollMinIntervalMs : Math.max(b.pollMinIntervalMs, Math.max(0, now - quietSince) / 4);
  const interval = Math.min(b.pollMaxIntervalMs, base * Math.max(1, stretch));
  return pushIsLive(s, now, b) ? Math.max(interval, b.pushSafetyIntervalMs ?? DEFAULT_PUSH_SAFETY_INTERVAL_MS) : interval;
}

/**
 * When a worker should next look at the operation: its next poll or its deadline, whichever is first. A
 * deadline reached wakes a poll (the carrier's answer decides, not the clock). Past it, a SHIPMENT that
 * still waits for its carrier's word is asked at the fastest pace, or, while it needs more "unknown"
 * answers, when the next one would count.
 */
export function nextWakeAt(s: OperationState, now: number, b: PollBounds & Timeouts, stretch = 1): Date | null {
  if (!s.open) return null;
  if (s.parcel && awaitsCarrier(s, b, now)) {
    const counted = s.shipment ? undefined : nextCountedUnknownAt(s, b);
    return new Date(Math.max(now + b.pollMinIntervalMs, counted ?? 0));
  }
  const due = deadline(s, b);
  const dueMs = due ? Date.parse(due) : Number.POSITIVE_INFINITY;
  const pollMs = s.parcel ? now + pollIntervalMs(s, now, b, stretch) : Number.POSITIVE_INFINITY;
  const at = Math.min(dueMs, pollMs);
  return Number.isFinite(at) ? new Date(at) : null;
}
