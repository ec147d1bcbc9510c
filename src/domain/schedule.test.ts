import { describe, expect, it } from 'vitest';
import { newOperation, type OperationState } from './operation.ts';
import { nextWakeAt, pollIntervalMs, pushIsLive } from './schedule.ts';

const B = { pollMinIntervalMs: 15 * 60_000, pollMaxIntervalMs: 12 * 3_600_000, notFoundAfterMs: 7 * 86_400_000, expireAfterMs: 30 * 86_400_000, productionTimeoutMs: 1, returnTimeoutMs: 1 };
const t0 = Date.parse('2026-03-01T00:00:00Z');
const H = 3_600_000;

function parcel(status?: string, lastChangeHoursAgo = 0, now = t0): OperationState {
  const s = newOperation({
    operationId: 'op',
    issuerId: 'ISSUER0001',
    cardId: 'c',
    correlationId: 'x',
    request: { trackingType: 'SHIPMENT', trackingNumber: '771234500102' },
    parcel: { carrier: 'fedex', trackingNumber: '771234500102', trackingUrl: 'u' },
    now: new Date(now - 100 * H).toISOString(),
  });
  if (!status) return s;
  return {
    ...s,
    lastChangeAt: new Date(now - lastChangeHoursAgo * H).toISOString(),
    shipment: { carrier: 'fedex', trackingNumber: '771234500102', trackingUrl: 'u', status: status as never, message: '', checkpoints: [] },
  };
}

describe('adaptive polling', () => {
  it('polls at the fastest pace while out for delivery, after a failed attempt, or at a pickup point', () => {
    for (const status of ['OUT_FOR_DELIVERY', 'FAILED_ATTEMPT', 'AVAILABLE_FOR_PICKUP', 'EXCEPTION']) {
      expect(pollIntervalMs(parcel(status, 40), t0, B)).toBe(B.pollMinIntervalMs);
    }
  });

  it('polls often just after a change and less and less often while the parcel is quiet, up to the maximum', () => {
    const justMoved = pollIntervalMs(parcel('IN_TRANSIT', 0.1), t0, B);
    const quietFourHours = pollIntervalMs(parcel('IN_TRANSIT', 4), t0, B);
    const quietADay = pollIntervalMs(parcel('IN_TRANSIT', 24), t0, B);
    const quietAWeek = pollIntervalMs(parcel('IN_TRANSIT', 24 * 7), t0, B);
    expect(justMoved).toBe(B.pollMinIntervalMs);
    expect(quietFourHours).toBe(H);
    expect(quietADay).toBe(6 * H);
    expect(quietAWeek).toBe(B.pollMaxIntervalMs);
    expect(justMoved < quietFourHours && quietFourHours < quietADay && quietADay < quietAWeek).toBe(true);
  });

  it('never polls an ended operation, and never sleeps past its deadline', () => {
    expect(nextWakeAt({ ...parcel('DELIVERED', 1), open: false }, t0, B)).toBeNull();
    // Quiet for 29 days 23 h: the poll would be 12 h away, but the expiry deadline is in one hour.
    const nearlyExpired = parcel('IN_TRANSIT', 30 * 24 - 1);
    expect(nextWakeAt(nearlyExpired, t0, B)?.getTime()).toBe(t0 + H);
  });

  it('stretches intervals by how far demand exceeds the budget, within the bounds', () => {
    expect(pollIntervalMs(parcel('IN_TRANSIT', 4), t0, B, 3)).toBe(3 * H);
    expect(pollIntervalMs(parcel('OUT_FOR_DELIVERY', 4), t0, B, 2)).toBe(2 * B.pollMinIntervalMs);
    expect(pollIntervalMs(parcel('IN_TRANSIT', 24), t0, B, 10)).toBe(B.pollMaxIntervalMs);
    expect(pollIntervalMs(parcel('IN_TRANSIT', 4), t0, B, 0.5)).toBe(H); // never shorter than unstretched
  });

  it('while the carrier pushes, polls only as a safety net; when pushes stop, polls again', () => {
    const pushed = (hoursAgo: number): OperationState => {
      const s = parcel('OUT_FOR_DELIVERY', 1);
      return { ...s, parcel: { ...(s.parcel as NonNullable<OperationState['parcel']>), pushedAt: new Date(t0 - hoursAgo * H).toISOString() } };
    };
    const safety = { ...B, pushSafetyIntervalMs: 12 * H };
    expect(pushIsLive(pushed(1), t0, safety)).toBe(true);
    expect(pollIntervalMs(pushed(1), t0, safety)).toBe(12 * H);
    expect(pushIsLive(pushed(13), t0, safety)).toBe(false);
    expect(pollIntervalMs(pushed(13), t0, safety)).toBe(B.pollMinIntervalMs);
  });

  it('past a deadline the carrier has not confirmed, wakes a poll soon instead of looping on the deadline', () => {
    // Known and quiet for 31 days, never asked since: the expiry waits for an answer.
    const quiet = parcel('IN_TRANSIT', 31 * 24);
    expect(nextWakeAt(quiet, t0, B)?.getTime()).toBe(t0 + B.pollMinIntervalMs);
    // Not found yet, one "unknown" counted a day ago: the next one counts 56 h after it (7 d / 3).
    const unknown: OperationState = { ...parcel(), startTime: new Date(t0 - 8 * 24 * H).toISOString(), answers: { lastAt: new Date(t0 - 24 * H).toISOString(), unknown: 1, unknownCountedAt: new Date(t0 - 24 * H).toISOString() } };
    expect(nextWakeAt(unknown, t0, B)?.getTime()).toBe(t0 - 24 * H + (7 * 24 * H) / 3);
  });
});
