import { describe, expect, it } from 'vitest';
import { deadline, decide, newOperation, type OperationState, type Timeouts } from './operation.ts';
import type { CarrierSnapshot, Checkpoint } from './shipment.ts';

const T: Timeouts = { notFoundAfterMs: 7 * 86_400_000, expireAfterMs: 30 * 86_400_000, productionTimeoutMs: 30 * 86_400_000, returnTimeoutMs: 90 * 86_400_000 };
const t0 = '2026-01-01T00:00:00.000Z';
const at = (hours: number) => new Date(Date.parse(t0) + hours * 3_600_000).toISOString();
const parcel = { carrier: 'fedex' as const, trackingNumber: '123456789012', trackingUrl: 'https://fedex.example/123456789012' };

function op(trackingType: 'SHIPMENT' | 'PRODUCTION' | 'RETURN', extra: Partial<OperationState['request']> = {}): OperationState {
  return newOperation({
    operationId: 'op_1',
    issuerId: 'ISSUER0001',
    cardId: 'card-1',
    correlationId: 'corr-1',
    request: { trackingType, ...extra },
    parcel: trackingType === 'PRODUCTION' ? undefined : parcel,
    now: t0,
  });
}

const cp = (hours: number, code: string, status: Checkpoint['status']): Checkpoint => ({
  checkpointTime: at(hours),
  city: 'PARIS',
  countryName: 'France',
  message: code,
  status,
  raw: { code, description: code },
});
const snap = (status: CarrierSnapshot['status'], checkpoints: Checkpoint[], edd?: string): CarrierSnapshot => ({
  carrier: 'fedex',
  trackingNumber: parcel.trackingNumber,
  status,
  message: status,
  checkpoints,
  ...(edd ? { estimatedDeliveryDate: edd } : {}),
});

describe('SHIPMENT', () => {
  it('sends PENDING on acceptance, one SUCCESSFUL per change, nothing for the same data, and ends at DELIVERED', () => {
    let s = op('SHIPMENT');
    const accepted = decide(s, { kind: 'accept', now: t0 }, T);
    expect(accepted.notifications).toHaveLength(1);
    expect(accepted.notifications[0]).toMatchObject({ status: 'PENDING', sequenceNumber: 1, details: { status: 'CARD_SHIPPED', trackingType: 'SHIPMENT' } });
    expect(accepted.notifications[0].details.shipment).toBeUndefined();
    s = accepted.state;

    const first = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')], at(48)), now: at(2) }, T);
    expect(first.notifications[0]).toMatchObject({ status: 'SUCCESSFUL', sequenceNumber: 2, details: { shipment: { status: 'IN_TRANSIT', estimatedDeliveryDate: at(48), lastUpdatedAt: at(1), trackingUrl: parcel.trackingUrl } } });
    expect(first.notifications[0].details.shipment?.checkpoints).toBeUndefined();
    s = first.state;

    const same = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')], at(48)), now: at(3) }, T);
    expect(same.notifications).toHaveLength(0);

    const eddMoved = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')], at(72)), now: at(4) }, T);
    expect(eddMoved.notifications).toHaveLength(1);
    s = eddMoved.state;

    const done = decide(s, { kind: 'carrier-found', snapshot: snap('DELIVERED', [cp(1, 'PU', 'IN_TRANSIT'), cp(30, 'DL', 'DELIVERED')]), now: at(31) }, T);
    expect(done.notifications[0]).toMatchObject({ status: 'SUCCESSFUL', sequenceNumber: 4, endTime: at(31), details: { shipment: { status: 'DELIVERED' } } });
    expect(done.state.open).toBe(false);
    expect(decide(done.state, { kind: 'tick', now: at(10_000) }, T).notifications).toHaveLength(0);
  });

  it('merges out-of-order checkpoints oldest first and keeps the carrier raw codes', () => {
    let s = decide(op('SHIPMENT'), { kind: 'accept', now: t0 }, T).state;
    s = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(5, 'AR', 'IN_TRANSIT')]), now: at(6) }, T).state;
    const late = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(2, 'PU', 'IN_TRANSIT')]), now: at(7) }, T);
    expect(late.state.shipment?.checkpoints.map((c) => c.raw.code)).toEqual(['PU', 'AR']);
    expect(late.state.shipment?.lastUpdatedAt).toBe(at(5));
  });

  it('fails TRACKING_NUMBER_NOT_FOUND only after the deadline, and TRACKING_EXPIRED after a quiet month', () => {
    const s = decide(op('SHIPMENT'), { kind: 'accept', now: t0 }, T).state;
    expect(decide(s, { kind: 'carrier-not-found', now: at(24) }, T).notifications).toHaveLength(0);
    const nf = decide(s, { kind: 'carrier-not-found', now: at(7 * 24) }, T);
    expect(nf.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_NUMBER_NOT_FOUND', endTime: at(7 * 24) });

    const found = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2) }, T).state;
    expect(deadline(found, T)).toBe(at(2 + 30 * 24));
    expect(decide(found, { kind: 'tick', now: at(2 + 30 * 24 - 1) }, T).notifications).toHaveLength(0);
    const expired = decide(found, { kind: 'tick', now: at(2 + 30 * 24) }, T);
    expect(expired.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_EXPIRED', details: { shipment: { status: 'EXPIRED' } } });
  });

  it('SUPERSEDED ends the operation with FAILED', () => {
    const s = decide(op('SHIPMENT'), { kind: 'accept', now: t0 }, T).state;
    const d = decide(s, { kind: 'supersede', now: at(1) }, T);
    expect(d.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'SUPERSEDED', sequenceNumber: 2 });
    expect(d.state.open).toBe(false);
  });
});

describe('PRODUCTION and RETURN', () => {
  it('PRODUCTION says nothing until CARD_SHIPPED, then exactly one SUCCESSFUL', () => {
    const s = op('PRODUCTION', { productionSite: 'LONDON' });
    expect(decide(s, { kind: 'accept', now: t0 }, T).notifications).toHaveLength(0);
    expect(decide(s, { kind: 'site-event', event: { type: 'CARD_RETURNED', occurredAt: at(1) }, now: at(1) }, T).notifications).toHaveLength(0);
    const shipped = decide(s, { kind: 'site-event', event: { type: 'CARD_SHIPPED', occurredAt: at(1) }, now: at(1) }, T);
    expect(shipped.notifications).toEqual([expect.objectContaining({ status: 'SUCCESSFUL', sequenceNumber: 1, details: { trackingType: 'PRODUCTION', productionSite: 'LONDON', status: 'CARD_SHIPPED' } })]);
    expect(decide(shipped.state, { kind: 'site-event', event: { type: 'CARD_SHIPPED', occurredAt: at(2) }, now: at(2) }, T).notifications).toHaveLength(0);
  });

  it('times out PRODUCTION after 30 days and RETURN after 90', () => {
    expect(decide(op('PRODUCTION'), { kind: 'tick', now: at(30 * 24 - 1) }, T).notifications).toHaveLength(0);
    expect(decide(op('PRODUCTION'), { kind: 'tick', now: at(30 * 24) }, T).notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'PRODUCTION_TIMEOUT' });
    const r = decide(op('RETURN'), { kind: 'tick', now: at(90 * 24) }, T).notifications[0];
    expect(r).toMatchObject({ status: 'FAILED', errorCode: 'RETURN_TIMEOUT' });
    expect(r.details.status).toBeUndefined();
  });

  it('RETURN completes when the carrier reports the parcel back at the sender', () => {
    const s = op('RETURN');
    expect(decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', []), now: at(1) }, T).notifications).toHaveLength(0);
    const back = decide(s, { kind: 'carrier-found', snapshot: snap('RETURNED_TO_SENDER', []), now: at(2) }, T);
    expect(back.notifications[0]).toMatchObject({ status: 'SUCCESSFUL', details: { status: 'CARD_RETURNED' } });
  });

  it('a carrier that keeps answering does not hold the RETURN deadline off', () => {
    const s = op('RETURN');
    expect(decide(s, { kind: 'carrier-found', snapshot: snap('RETURNING_TO_SENDER', []), now: at(90 * 24 - 1) }, T).notifications).toHaveLength(0);
    const late = decide(s, { kind: 'carrier-found', snapshot: snap('RETURNING_TO_SENDER', []), now: at(90 * 24) }, T);
    expect(late.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'RETURN_TIMEOUT' });
  });

  it('unchanged carrier data past the expiry deadline ends a SHIPMENT with TRACKING_EXPIRED', () => {
    const first = decide(op('SHIPMENT'), { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(1) }, T);
    const same = snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]);
    expect(decide(first.state, { kind: 'carrier-found', snapshot: same, now: at(2) }, T).notifications).toHaveLength(0);
    const expired = decide(first.state, { kind: 'carrier-found', snapshot: same, now: at(1 + 30 * 24) }, T);
    expect(expired.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_EXPIRED' });
  });
});
