import { describe, expect, it } from 'vitest';
import type { Timeouts } from './deadlines.ts';
import { decide, newOperation, type OperationState } from './operation.ts';
import type { CarrierSnapshot, Checkpoint } from './shipment.ts';

const T: Timeouts = { notFoundAfterMs: 7 * 86_400_000, expireAfterMs: 30 * 86_400_000, productionTimeoutMs: 30 * 86_400_000, returnTimeoutMs: 90 * 86_400_000 };
const t0 = '2026-01-01T00:00:00.000Z';
const at = (hours: number) => new Date(Date.parse(t0) + hours * 3_600_000).toISOString();

const candidates = [
  { carrier: 'usps-iv-api' as const, trackingUrl: 'https://usps.example/n' },
  { carrier: 'fedex' as const, trackingUrl: 'https://fedex.example/n' },
];

function shipment(parcelCarrier: 'usps-iv-api' | 'fedex' = 'usps-iv-api', withCandidates = true): OperationState {
  const accepted = newOperation({
    operationId: 'op_1',
    issuerId: 'ISSUER0001',
    cardId: 'card-1',
    correlationId: 'corr-1',
    request: { trackingType: 'SHIPMENT', trackingNumber: '92001901755477000000000013' },
    parcel: {
      carrier: parcelCarrier,
      trackingNumber: '92001901755477000000000013',
      trackingUrl: `https://${parcelCarrier}.example/n`,
      ...(withCandidates ? { candidates } : {}),
    },
    now: t0,
  });
  return decide(accepted, { kind: 'accept', now: t0 }, T).state;
}

const cp = (hours: number, code: string, status: Checkpoint['status']): Checkpoint => ({
  checkpointTime: at(hours),
  city: 'MEMPHIS',
  message: code,
  status,
  raw: { code, description: code },
});
const snap = (status: CarrierSnapshot['status'], checkpoints: Checkpoint[]): CarrierSnapshot => ({
  carrier: 'fedex',
  trackingNumber: '92001901755477000000000013',
  status,
  message: status,
  checkpoints,
});

describe('ambiguous numbers are tried on each candidate carrier', () => {
  it('moves to the next candidate on not-found, without notifying, and comes round again', () => {
    let s = shipment();
    const first = decide(s, { kind: 'carrier-not-found', now: at(1) }, T);
    expect(first.notifications).toEqual([]);
    expect(first.state.parcel).toMatchObject({ carrier: 'fedex', trackingUrl: 'https://fedex.example/n' });
    s = decide(first.state, { kind: 'carrier-not-found', now: at(2) }, T).state;
    expect(s.parcel?.carrier).toBe('usps-iv-api');
  });

  it('sticks with the carrier that knows the number and forgets the other candidates', () => {
    const s = decide(shipment(), { kind: 'carrier-not-found', now: at(1) }, T).state;
    const found = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2) }, T);
    expect(found.state.parcel).toEqual({ carrier: 'fedex', trackingNumber: '92001901755477000000000013', trackingUrl: 'https://fedex.example/n' });
    expect(found.notifications[0].details.shipment).toMatchObject({ carrier: 'fedex', trackingUrl: 'https://fedex.example/n', status: 'IN_TRANSIT' });
    // A later not-found (a flaky carrier) does not move it away.
    expect(decide(found.state, { kind: 'carrier-not-found', now: at(3) }, T).state.parcel?.carrier).toBe('fedex');
  });

  it('still fails TRACKING_NUMBER_NOT_FOUND when no candidate knows the number in time', () => {
    let s = shipment();
    for (const h of [1, 60, 120]) s = decide(s, { kind: 'carrier-not-found', now: at(h) }, T).state;
    const end = decide(s, { kind: 'carrier-not-found', now: at(7 * 24) }, T);
    expect(end.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_NUMBER_NOT_FOUND' });
  });

  it('reads an empty "Pending" answer as the carrier not knowing the number', () => {
    const d = decide(shipment(), { kind: 'carrier-found', snapshot: snap('PENDING', []), now: at(1) }, T);
    expect(d.notifications).toEqual([]);
    expect(d.state.shipment).toBeUndefined();
    expect(d.state.parcel?.carrier).toBe('fedex');
  });
});

describe('returns and pushes', () => {
  it('a delivery after the return started is RETURNED_TO_SENDER, and ends the operation', () => {
    const s = shipment('fedex', false);
    const d = decide(
      s,
      { kind: 'carrier-found', snapshot: snap('DELIVERED', [cp(1, 'PU', 'IN_TRANSIT'), cp(30, 'RS', 'RETURNING_TO_SENDER'), cp(60, 'DL', 'DELIVERED')]), now: at(61) },
      T,
    );
    expect(d.state.open).toBe(false);
    expect(d.notifications[0]).toMatchObject({ status: 'SUCCESSFUL', endTime: at(61), details: { shipment: { status: 'RETURNED_TO_SENDER' } } });
  });

  it('a delivery then a return (re-delivery is not a return) stays DELIVERED', () => {
    const d = decide(shipment('fedex', false), { kind: 'carrier-found', snapshot: snap('DELIVERED', [cp(1, 'PU', 'IN_TRANSIT'), cp(2, 'DL', 'DELIVERED')]), now: at(3) }, T);
    expect(d.notifications[0].details.shipment?.status).toBe('DELIVERED');
  });

  it('pushed events arriving out of order are sorted by event time and an older one never rolls the status back', () => {
    let s = shipment('fedex', false);
    s = decide(s, { kind: 'carrier-found', partial: true, snapshot: snap('OUT_FOR_DELIVERY', [cp(26, 'OD', 'OUT_FOR_DELIVERY')]), now: at(26) }, T).state;
    const late = decide(s, { kind: 'carrier-found', partial: true, snapshot: snap('IN_TRANSIT', [cp(8, 'DP', 'IN_TRANSIT')]), now: at(27) }, T);
    const sh = late.notifications[0].details.shipment;
    expect(sh?.status).toBe('OUT_FOR_DELIVERY');
    expect(late.state.shipment?.checkpoints.map((c) => c.raw.code)).toEqual(['DP', 'OD']);
    expect(sh?.lastCheckpoint?.raw.code).toBe('OD');
    // The same push again carries nothing new.
    expect(decide(late.state, { kind: 'carrier-found', partial: true, snapshot: snap('IN_TRANSIT', [cp(8, 'DP', 'IN_TRANSIT')]), now: at(28) }, T).notifications).toEqual([]);
  });
});

describe('expiry while the carrier keeps answering', () => {
  it('the same carrier data polled for 30 quiet days ends TRACKING_EXPIRED', () => {
    const snapshot = snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]);
    let s = decide(shipment('fedex', false), { kind: 'carrier-found', snapshot, now: at(2) }, T).state;
    expect(decide(s, { kind: 'carrier-found', snapshot, now: at(2 + 24 * 29) }, T).notifications).toEqual([]);
    const end = decide(s, { kind: 'carrier-found', snapshot, now: at(2 + 24 * 30) }, T);
    expect(end.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_EXPIRED', details: { shipment: { status: 'EXPIRED' } } });
    s = end.state;
    expect(s.open).toBe(false);
  });
});

describe('a carrier that reports the tracking expired (AfterShip "Expired")', () => {
  it('with no checkpoints says nothing: no SUCCESSFUL update, and the not-found deadline still fires', () => {
    const s = shipment('fedex', false);
    let d = decide(s, { kind: 'carrier-found', snapshot: snap('EXPIRED', []), now: at(24) }, T);
    expect(d.notifications).toEqual([]);
    expect(d.state.shipment).toBeUndefined();
    expect(d.state.open).toBe(true);
    expect(d.state.answers).toMatchObject({ unknown: 1 }); // it counts as the carrier saying "unknown"
    for (const h of [90, 150]) d = decide(d.state, { kind: 'carrier-found', snapshot: snap('EXPIRED', []), now: at(h) }, T);
    const end = decide(d.state, { kind: 'carrier-found', snapshot: snap('EXPIRED', []), now: at(7 * 24) }, T);
    expect(end.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_NUMBER_NOT_FOUND' });
    expect(end.state.open).toBe(false);
  });

  it('with a history ends the operation FAILED with TRACKING_EXPIRED, keeping the history', () => {
    let s = shipment('fedex', false);
    s = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2) }, T).state;
    const end = decide(s, { kind: 'carrier-found', snapshot: snap('EXPIRED', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(3) }, T);
    expect(end.notifications).toHaveLength(1);
    expect(end.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_EXPIRED', endTime: at(3), details: { shipment: { status: 'EXPIRED' } } });
    expect(end.state.open).toBe(false);
    expect(end.state.shipment?.checkpoints.map((c) => c.raw.code)).toEqual(['PU']);
  });

  it('also when it is the first answer, or arrives by push', () => {
    const first = decide(shipment('fedex', false), { kind: 'carrier-found', snapshot: snap('EXPIRED', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2) }, T);
    expect(first.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_EXPIRED' });
    const pushed = decide(shipment('fedex', false), { kind: 'carrier-found', partial: true, snapshot: snap('EXPIRED', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2) }, T);
    expect(pushed.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_EXPIRED', details: { shipment: { status: 'EXPIRED' } } });
  });
});

describe('checkpoints at the same instant', () => {
  it('a poll keeps the incoming order for ties, even over an order known before', () => {
    let s = shipment('fedex', false);
    // An earlier answer had them the wrong way round; the carrier's full answer now says OD then DL.
    s = decide(s, { kind: 'carrier-found', snapshot: snap('OUT_FOR_DELIVERY', [cp(5, 'DL', 'DELIVERED'), cp(5, 'OD', 'OUT_FOR_DELIVERY')]), now: at(6) }, T).state;
    const d = decide(s, { kind: 'carrier-found', snapshot: snap('DELIVERED', [cp(5, 'OD', 'OUT_FOR_DELIVERY'), cp(5, 'DL', 'DELIVERED')]), now: at(7) }, T);
    expect(d.state.shipment?.checkpoints.map((c) => c.raw.code)).toEqual(['OD', 'DL']);
    expect(d.notifications[0].details.shipment).toMatchObject({ status: 'DELIVERED', lastCheckpoint: { raw: { code: 'DL' } } });
  });

  it('a push of a new event at a known instant puts it after the known one; repeating a known one reorders nothing', () => {
    let s = shipment('fedex', false);
    s = decide(s, { kind: 'carrier-found', partial: true, snapshot: snap('OUT_FOR_DELIVERY', [cp(5, 'OD', 'OUT_FOR_DELIVERY')]), now: at(6) }, T).state;
    s = decide(s, { kind: 'carrier-found', partial: true, snapshot: snap('DELIVERED', [cp(5, 'DL', 'DELIVERED')]), now: at(7) }, T).state;
    expect(s.shipment?.checkpoints.map((c) => c.raw.code)).toEqual(['OD', 'DL']);
    expect(s.shipment?.status).toBe('DELIVERED');
  });
});

describe('a scanned parcel never goes back to "label created"', () => {
  it('takes an answer saying INFO_RECEIVED after a physical scan as stale: no update, the status stays', () => {
    const s = shipment('fedex', false);
    const inTransit = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'OC', 'INFO_RECEIVED'), cp(5, 'DP', 'IN_TRANSIT')]), now: at(6) }, T);
    expect(inTransit.notifications).toHaveLength(1);
    // The same carrier's story from its start again, re-timed later (a sandbox restarted, a lagging replica).
    const rewound = decide(inTransit.state, { kind: 'carrier-found', snapshot: snap('INFO_RECEIVED', [cp(7, 'OC', 'INFO_RECEIVED')]), now: at(8) }, T);
    expect(rewound.notifications).toEqual([]);
    expect(rewound.state.shipment?.status).toBe('IN_TRANSIT');
    expect(rewound.state.shipment?.checkpoints).toHaveLength(2);
    // Going back within the physical stages is real (a failed delivery returns to the depot): it is sent.
    const outForDelivery = decide(rewound.state, { kind: 'carrier-found', snapshot: snap('OUT_FOR_DELIVERY', [cp(1, 'OC', 'INFO_RECEIVED'), cp(5, 'DP', 'IN_TRANSIT'), cp(9, 'OD', 'OUT_FOR_DELIVERY')]), now: at(9) }, T);
    const backToDepot = decide(outForDelivery.state, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'OC', 'INFO_RECEIVED'), cp(5, 'DP', 'IN_TRANSIT'), cp(9, 'OD', 'OUT_FOR_DELIVERY'), cp(12, 'AR', 'IN_TRANSIT')]), now: at(12) }, T);
    expect(backToDepot.notifications).toHaveLength(1);
    expect(backToDepot.state.shipment?.status).toBe('IN_TRANSIT');
  });
});

describe('an answer whose summary lags its own scans', () => {
  it('takes its status from its newest scan past pickup when that is news, rather than dropping it', () => {
    const s = shipment('fedex', false);
    const pickedUp = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'MP', 'INFO_RECEIVED'), cp(2, 'PU', 'IN_TRANSIT')]), now: at(3) }, T);
    // The summary still says "label created", but its activity goes on to delivery.
    const lagging = snap('INFO_RECEIVED', [cp(1, 'MP', 'INFO_RECEIVED'), cp(2, 'PU', 'IN_TRANSIT'), cp(5, 'DP', 'IN_TRANSIT'), cp(8, 'OT', 'OUT_FOR_DELIVERY'), cp(9, 'FS', 'DELIVERED')]);
    const delivered = decide(pickedUp.state, { kind: 'carrier-found', snapshot: lagging, now: at(10) }, T);
    expect(delivered.notifications).toHaveLength(1);
    expect(delivered.state.shipment?.status).toBe('DELIVERED');
    expect(delivered.state.open).toBe(false);
    expect(delivered.state.shipment?.checkpoints).toHaveLength(5);
  });

  it('takes a delivery stamped in the same minute as the scan before it, or listed before a later pre-pickup line, as news', () => {
    const s = shipment('fedex', false);
    const out = decide(s, { kind: 'carrier-found', snapshot: snap('OUT_FOR_DELIVERY', [cp(1, 'PU', 'IN_TRANSIT'), cp(8, 'OT', 'OUT_FOR_DELIVERY')]), now: at(8) }, T);
    const sameMinute = decide(out.state, { kind: 'carrier-found', snapshot: snap('INFO_RECEIVED', [cp(1, 'PU', 'IN_TRANSIT'), cp(8, 'OT', 'OUT_FOR_DELIVERY'), cp(8, 'DL', 'DELIVERED')]), now: at(9) }, T);
    expect(sameMinute.state.shipment?.status).toBe('DELIVERED');
    expect(sameMinute.state.open).toBe(false);
    const late = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT'), cp(3, 'MP', 'INFO_RECEIVED')]), now: at(3) }, T);
    const hidden = decide(late.state, { kind: 'carrier-found', snapshot: snap('INFO_RECEIVED', [cp(1, 'PU', 'IN_TRANSIT'), cp(2, 'DL', 'DELIVERED'), cp(3, 'MP', 'INFO_RECEIVED')]), now: at(4) }, T);
    expect(hidden.state.shipment?.status).toBe('DELIVERED');
  });
});

describe('whose view of the parcel: providers taking over from one another', () => {
  const base = () => shipment('fedex', false);
  const from = (name: string, preferred: boolean) => ({ name, preferred });
  const answer = (s: OperationState, snapshot: CarrierSnapshot, hours: number, by: { name: string; preferred: boolean }) =>
    decide(s, { kind: 'carrier-found', snapshot, now: at(hours), from: by }, T);

  it('the first provider to know the number holds the parcel', () => {
    const d = answer(base(), snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), 2, from('aftership', false));
    expect(d.state.parcel?.provider).toBe('aftership');
  });

  it('the primary knowing the number again takes over with its own history, replacing the fallback\'s', () => {
    const fallback = answer(base(), snap('IN_TRANSIT', [cp(1, 'Picked up', 'IN_TRANSIT')]), 2, from('aftership', false)).state;
    const primary = answer(fallback, snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT'), cp(3, 'AR', 'IN_TRANSIT')]), 4, from('fedex', true));
    expect(primary.state.parcel?.provider).toBe('fedex');
    expect(primary.state.shipment?.checkpoints.map((c) => c.raw.code)).toEqual(['PU', 'AR']); // no "Picked up" twice
    expect(primary.notifications).toHaveLength(1);
    // Until its view is as recent as the one held, the fallback's stays: nothing is taken back from the issuer.
    const lagging = answer(fallback, snap('PENDING', [cp(0.5, 'OC', 'INFO_RECEIVED')]), 4, from('fedex', true));
    expect(lagging.state.parcel?.provider).toBe('aftership');
    expect(lagging.notifications).toEqual([]);
    expect(lagging.state.answers?.lastAt).toBe(at(4));
  });

  it('the primary as recent but behind in status does not take back what the issuer was told', () => {
    const fallback = answer(base(), snap('OUT_FOR_DELIVERY', [cp(1, 'Picked up', 'IN_TRANSIT'), cp(3, 'Out', 'OUT_FOR_DELIVERY')]), 4, from('aftership', false)).state;
    const behind = answer(fallback, snap('IN_TRANSIT', [cp(3, 'PU', 'IN_TRANSIT')]), 5, from('fedex', true));
    expect(behind.notifications).toEqual([]);
    expect(behind.state.parcel?.provider).toBe('aftership');
    const level = answer(fallback, snap('OUT_FOR_DELIVERY', [cp(1, 'PU', 'IN_TRANSIT'), cp(3, 'OD', 'OUT_FOR_DELIVERY')]), 5, from('fedex', true));
    expect(level.state.parcel?.provider).toBe('fedex');
  });

  it('a fallback asked because the parcel\'s provider failed takes over only with a scan newer than any known', () => {
    const known = answer(base(), snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT'), cp(3, 'AR', 'IN_TRANSIT')]), 4, from('fedex', true)).state;
    const same = answer(known, snap('IN_TRANSIT', [cp(1, 'Picked up', 'IN_TRANSIT'), cp(3, 'Arrived', 'IN_TRANSIT')]), 5, from('aftership', false));
    expect(same.notifications).toEqual([]);
    expect(same.state.parcel?.provider).toBe('fedex');
    const newer = answer(known, snap('OUT_FOR_DELIVERY', [cp(1, 'Picked up', 'IN_TRANSIT'), cp(3, 'Arrived', 'IN_TRANSIT'), cp(5, 'Out', 'OUT_FOR_DELIVERY')]), 6, from('aftership', false));
    expect(newer.state.parcel?.provider).toBe('aftership');
    expect(newer.notifications[0]).toMatchObject({ details: { shipment: { status: 'OUT_FOR_DELIVERY' } } });
    expect(newer.state.shipment?.checkpoints).toHaveLength(3);
  });

  it('a push marks the parcel as pushed and is not an answer to a poll; a poll answer ends a wait', () => {
    const waiting: OperationState = { ...base(), parcel: { ...(base().parcel as NonNullable<OperationState['parcel']>), waitingSince: at(1) } };
    const pushed = decide(waiting, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2), partial: true }, T).state;
    expect(pushed.parcel?.pushedAt).toBe(at(2));
    expect(pushed.answers).toBeUndefined();
    expect(pushed.parcel?.waitingSince).toBe(at(1));
    const polled = decide(pushed, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(3) }, T).state;
    expect(polled.answers?.lastAt).toBe(at(3));
    expect(polled.parcel?.waitingSince).toBeUndefined();
  });
});
