import { deadline, type OperationState, type Timeouts } from './operation.ts';

export interface PollBounds {
  pollMinIntervalMs: number;
  pollMaxIntervalMs: number;
}

/** Statuses where the next scan is likely within hours: poll at the fastest pace. */
const BUSY = new Set(['OUT_FOR_DELIVERY', 'FAILED_ATTEMPT', 'AVAILABLE_FOR_PICKUP', 'EXCEPTION']);

/**
 * Adaptive polling without extra state: the longer a parcel has been quiet, the longer we wait
 * (a quarter of its quiet time), between the configured bounds.
 */
export function pollIntervalMs(s: OperationState, now: number, b: PollBounds): number {
  if (s.shipment && BUSY.has(s.shipment.status)) return b.pollMinIntervalMs;
  const quietSince = Date.parse(s.lastChangeAt ?? s.startTime);
  const quarter = Math.max(0, now - quietSince) / 4;
  return Math.min(b.pollMaxIntervalMs, Math.max(b.pollMinIntervalMs, quarter));
}

/** When a worker should next look at the operation: its next poll or its deadline, whichever is first. */
export function nextWakeAt(s: OperationState, now: number, b: PollBounds & Timeouts): Date | null {
  if (!s.open) return null;
  const due = deadline(s, b);
  const dueMs = due ? Date.parse(due) : Number.POSITIVE_INFINITY;
  const pollMs = s.parcel ? now + pollIntervalMs(s, now, b) : Number.POSITIVE_INFINITY;
  const at = Math.min(dueMs, pollMs);
  return Number.isFinite(at) ? new Date(at) : null;
}
