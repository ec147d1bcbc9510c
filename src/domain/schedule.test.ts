import { describe, expect, it } from 'vitest';
import { newOperation, type OperationState } from './operation.ts';
import { nextWakeAt, pollIntervalMs } from './schedule.ts';

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
});
