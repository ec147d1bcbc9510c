import { describe, expect, it } from 'vitest';
import { awaitsCarrier, deadline, type Timeouts } from './deadlines.ts';
import { type Decision, decide, newOperation, type OperationState } from './operation.ts';
import { toOperationObject } from './operation-view.ts';
import type { CarrierSnapshot, Checkpoint } from './shipment.ts';

const T: Timeouts = { notFoundAfterMs: 7 * 86_400_000, expireAfterMs: 30 * 86_400_000, productionTimeoutMs: 30 * 86_400_000, returnTimeoutMs: 90 * 86_400_000 };
const t0 = '2026-01-01T00:00:00.000Z';
const at = (hours: number) => new Date(Date.parse(t0) + hours * 3_600_000).toISOString();
/** The carrier asked at each of these hours, answering "unknown" each time; the last decision. */
function unknownAt(s: OperationState, hours: number[]): Decision {
  let d: Decision = { state: s, notifications: [] };
  for (const h of hours) d = decide(d.state, { kind: 'carrier-not-found', now: at(h) }, T);
  return d;
}
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
    const nf = unknownAt(s, [1, 60, 120, 7 * 24]);
    expect(nf.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_NUMBER_NOT_FOUND', endTime: at(7 * 24) });

    const found = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2) }, T).state;
    expect(deadline(found, T)).toBe(at(2 + 30 * 24));
    const again = (hours: number) => decide(found, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(hours) }, T);
    expect(again(2 + 30 * 24 - 1).notifications).toHaveLength(0);
    const expired = again(2 + 30 * 24);
    expect(expired.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_EXPIRED', details: { shipment: { status: 'EXPIRED' } } });
  });

  it('no outcome by the clock alone: a deadline with no answer from the carrier waits for one', () => {
    const s = decide(op('SHIPMENT'), { kind: 'accept', now: t0 }, T).state;
    // Never asked: the not-found deadline passes and nothing happens, however late.
    expect(decide(s, { kind: 'tick', now: at(30 * 24) }, T).state.open).toBe(true);
    expect(awaitsCarrier(s, T, Date.parse(at(7 * 24)))).toBe(true);
    expect(awaitsCarrier(s, T, Date.parse(at(7 * 24 - 1)))).toBe(false);
    // Three "unknown" answers in a row count once: they are not spread over the window.
    const burst = unknownAt(s, [1, 1.5, 2, 7 * 24]);
    expect(burst.state.open).toBe(true);
    expect(burst.state.answers).toMatchObject({ unknown: 2, unknownLastAt: at(7 * 24) });
    // Spread, but none after the deadline: the deadline waits for the next answer.
    const spread = unknownAt(s, [1, 60, 120, 160]);
    expect(decide(spread.state, { kind: 'tick', now: at(8 * 24) }, T).state.open).toBe(true);
    // An answer received after the deadline to a poll sent before it is not "asked after the deadline".
    expect(decide(spread.state, { kind: 'carrier-not-found', now: at(7 * 24 + 0.01), askedAt: at(7 * 24 - 0.01) }, T).state.open).toBe(true);
    expect(decide(spread.state, { kind: 'carrier-not-found', now: at(8 * 24) }, T).notifications[0]).toMatchObject({ errorCode: 'TRACKING_NUMBER_NOT_FOUND' });
    // TRACKHUB_NOT_FOUND_ANSWERS=1: one answer after the deadline is enough.
    const one = { ...T, notFoundAnswers: 1 };
    expect(decide(s, { kind: 'carrier-not-found', now: at(7 * 24) }, one).notifications[0]).toMatchObject({ errorCode: 'TRACKING_NUMBER_NOT_FOUND' });

    // Known and quiet for a month: expiry needs the carrier asked after the deadline, with nothing new.
    const found = decide(s, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2) }, T).state;
    expect(decide(found, { kind: 'tick', now: at(2 + 60 * 24) }, T).state.open).toBe(true);
    const news = decide(found, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT'), cp(700, 'AR', 'IN_TRANSIT')]), now: at(2 + 30 * 24) }, T);
    expect(news.notifications[0]).toMatchObject({ status: 'SUCCESSFUL' }); // news moves the deadline instead
    expect(news.state.open).toBe(true);
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

describe('what the issuer is told', () => {
  const shipment = (s: OperationState) => decide(s, { kind: 'accept', now: t0 }, T).state;
  const found = (s: OperationState, snapshot: CarrierSnapshot, hours: number) => decide(s, { kind: 'carrier-found', snapshot, now: at(hours) }, T);

  it('each failure carries its code and a sentence saying what happened', () => {
    const failures: [string, () => ReturnType<typeof decide>, string][] = [
      ['SUPERSEDED', () => decide(op('SHIPMENT'), { kind: 'supersede', now: at(1) }, T), 'A newer track request for this card and tracking type replaced this operation'],
      ['TRACKING_NUMBER_NOT_FOUND', () => unknownAt(op('SHIPMENT'), [0, 60, 120, 7 * 24]), 'No carrier knew the tracking number in time'],
      ['TRACKING_EXPIRED', () => found(found(op('SHIPMENT'), snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), 2).state, snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), 2 + 30 * 24), 'The carrier sent no update for too long'],
      ['PRODUCTION_TIMEOUT', () => decide(op('PRODUCTION'), { kind: 'tick', now: at(30 * 24) }, T), 'The production site did not report the card shipped in time'],
      ['RETURN_TIMEOUT', () => decide(op('RETURN'), { kind: 'tick', now: at(90 * 24) }, T), 'No return of the card was reported in time'],
    ];
    for (const [errorCode, fail, error] of failures) {
      const n = fail().notifications[0];
      expect(n, errorCode).toMatchObject({ status: 'FAILED', errorCode, error });
      // A failed operation does not claim the card shipped or came back.
      expect(n.details.status, errorCode).toBeUndefined();
    }
  });

  it('an on-demand read of a pending PRODUCTION or RETURN claims nothing yet; a pending SHIPMENT is on its way', () => {
    expect(toOperationObject(op('PRODUCTION')).details.status).toBeUndefined();
    expect(toOperationObject(op('RETURN')).details.status).toBeUndefined();
    expect(toOperationObject(op('SHIPMENT')).details.status).toBe('CARD_SHIPPED');
  });

  it('shows the newest scan as lastCheckpoint, the reason, and the whole history only when asked', () => {
    const s = found(shipment(op('SHIPMENT')), { ...snap('EXCEPTION', [cp(1, 'PU', 'IN_TRANSIT'), cp(2, 'AR', 'IN_TRANSIT'), cp(3, 'CD', 'EXCEPTION')]), subStatus: 'CUSTOMS' }, 4);
    const sh = s.notifications[0].details.shipment;
    expect(sh).toMatchObject({ status: 'EXCEPTION', subStatus: 'CUSTOMS', lastCheckpoint: { raw: { code: 'CD' } } });
    expect(sh?.checkpoints).toBeUndefined();
    expect(toOperationObject(s.state, { withCheckpoints: true }).details.shipment?.checkpoints?.map((c) => c.raw.code)).toEqual(['PU', 'AR', 'CD']);
  });

  it('keeps two scans of the same instant and code made in different cities', () => {
    const paris = cp(1, 'AR', 'IN_TRANSIT');
    const lyon = { ...cp(1, 'AR', 'IN_TRANSIT'), city: 'LYON' };
    const s = found(shipment(op('SHIPMENT')), snap('IN_TRANSIT', [paris, lyon]), 2);
    expect(s.state.shipment?.checkpoints.map((c) => c.city)).toEqual(['PARIS', 'LYON']);
  });

  it('drops the estimated delivery once the parcel is delivered, even when the carrier still sends one', () => {
    const s = found(shipment(op('SHIPMENT')), snap('DELIVERED', [cp(1, 'PU', 'IN_TRANSIT'), cp(5, 'DL', 'DELIVERED')], at(48)), 6);
    expect(s.notifications[0].details.shipment?.status).toBe('DELIVERED');
    expect(s.notifications[0].details.shipment?.estimatedDeliveryDate).toBeUndefined();
    expect(s.state.shipment?.estimatedDeliveryDate).toBeUndefined();
  });

  it("reports as lastUpdatedAt the newest of the carrier's scans and its own update stamp", () => {
    const older = { ...snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT'), cp(5, 'AR', 'IN_TRANSIT')]), lastUpdatedAt: at(3) };
    expect(found(shipment(op('SHIPMENT')), older, 6).notifications[0].details.shipment?.lastUpdatedAt).toBe(at(5));
    const newer = { ...snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), lastUpdatedAt: at(4) };
    expect(found(shipment(op('SHIPMENT')), newer, 6).notifications[0].details.shipment?.lastUpdatedAt).toBe(at(4));
  });
});

describe('returns to the sender', () => {
  const shipped = (snapshot: CarrierSnapshot) => decide(decide(op('SHIPMENT'), { kind: 'accept', now: t0 }, T).state, { kind: 'carrier-found', snapshot, now: at(200) }, T);

  it('a parcel on its way back is not yet back: the operation stays open', () => {
    const d = shipped(snap('RETURNING_TO_SENDER', [cp(1, 'PU', 'IN_TRANSIT'), cp(50, 'RS', 'RETURNING_TO_SENDER')]));
    expect(d.state.shipment?.status).toBe('RETURNING_TO_SENDER');
    expect(d.state.open).toBe(true);
  });

  it('a delivery after the return began is the return reaching the sender, even when the return is the first scan', () => {
    for (const checkpoints of [
      [cp(1, 'RS', 'RETURNING_TO_SENDER'), cp(90, 'DL', 'DELIVERED')],
      [cp(1, 'PU', 'IN_TRANSIT'), cp(50, 'RS', 'RETURNING_TO_SENDER'), cp(90, 'DL', 'DELIVERED')],
      // the carrier says delivered but lists no delivery scan
      [cp(1, 'PU', 'IN_TRANSIT'), cp(50, 'RS', 'RETURNING_TO_SENDER')],
    ]) {
      const d = shipped(snap('DELIVERED', checkpoints));
      expect(d.state.shipment?.status, checkpoints.map((c) => c.raw.code).join()).toBe('RETURNED_TO_SENDER');
      expect(d.state.open).toBe(false);
    }
  });

  it('a return scan after the delivery leaves the delivery a delivery', () => {
    const d = shipped(snap('DELIVERED', [cp(1, 'DL', 'DELIVERED'), cp(50, 'RS', 'RETURNING_TO_SENDER')]));
    expect(d.state.shipment?.status).toBe('DELIVERED');
  });

  it('RETURN of a return parcel the issuer named completes when that parcel is delivered, and only then', () => {
    const named = op('RETURN', { trackingNumber: parcel.trackingNumber });
    expect(decide(named, { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2) }, T).notifications).toHaveLength(0);
    const back = decide(named, { kind: 'carrier-found', snapshot: snap('DELIVERED', [cp(1, 'PU', 'IN_TRANSIT'), cp(20, 'DL', 'DELIVERED')]), now: at(21) }, T);
    expect(back.notifications[0]).toMatchObject({ status: 'SUCCESSFUL', endTime: at(21), details: { trackingType: 'RETURN', status: 'CARD_RETURNED' } });
    expect(back.state.open).toBe(false);
  });

  it("RETURN following the card's own shipment is not completed by the delivery to the cardholder", () => {
    const own = op('RETURN');
    const d = decide(own, { kind: 'carrier-found', snapshot: snap('DELIVERED', [cp(1, 'PU', 'IN_TRANSIT'), cp(20, 'DL', 'DELIVERED')]), now: at(21) }, T);
    expect(d.notifications).toHaveLength(0);
    expect(d.state.open).toBe(true);
  });

  it('RETURN completes on the site reporting CARD_RETURNED, and ignores CARD_SHIPPED; a SHIPMENT ignores both', () => {
    const r = op('RETURN');
    expect(decide(r, { kind: 'site-event', event: { type: 'CARD_SHIPPED', occurredAt: at(1) }, now: at(1) }, T).notifications).toHaveLength(0);
    const back = decide(r, { kind: 'site-event', event: { type: 'CARD_RETURNED', occurredAt: at(2), siteId: 'LONDON' }, now: at(2) }, T);
    expect(back.notifications[0]).toMatchObject({ status: 'SUCCESSFUL', details: { trackingType: 'RETURN', status: 'CARD_RETURNED', productionSite: 'LONDON' } });
    for (const type of ['CARD_SHIPPED', 'CARD_RETURNED'] as const) {
      expect(decide(op('SHIPMENT'), { kind: 'site-event', event: { type, occurredAt: at(1), siteId: 'LONDON' }, now: at(1) }, T).notifications).toHaveLength(0);
    }
  });

  it('a PRODUCTION request that named no site shows the site whose report completed it', () => {
    const d = decide(op('PRODUCTION'), { kind: 'site-event', event: { type: 'CARD_SHIPPED', occurredAt: at(1), siteId: 'MADRID' }, now: at(1) }, T);
    expect(d.notifications[0].details.productionSite).toBe('MADRID');
  });
});

describe('what never changes an operation', () => {
  it('a second acceptance of a SHIPMENT says nothing more', () => {
    const once = decide(op('SHIPMENT'), { kind: 'accept', now: t0 }, T);
    expect(decide(once.state, { kind: 'accept', now: at(1) }, T).notifications).toHaveLength(0);
  });

  it('a closed operation has no deadline', () => {
    const closed = decide(op('PRODUCTION'), { kind: 'supersede', now: at(1) }, T).state;
    expect(deadline(closed, T)).toBeUndefined();
  });

  it('"not found" from a carrier that already knew the number changes nothing, but past the expiry deadline it is the carrier asked with nothing new', () => {
    const known = decide(op('SHIPMENT'), { kind: 'carrier-found', snapshot: snap('IN_TRANSIT', [cp(1, 'PU', 'IN_TRANSIT')]), now: at(2) }, T).state;
    const early = decide(known, { kind: 'carrier-not-found', now: at(2 + 29 * 24) }, T);
    expect(early.notifications).toHaveLength(0);
    expect(early.state.shipment).toEqual(known.shipment);
    const late = decide(known, { kind: 'carrier-not-found', now: at(2 + 31 * 24) }, T);
    expect(late.notifications[0]).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_EXPIRED' });
  });

  it('"not found" for a number with a single carrier keeps asking that carrier until the deadline', () => {
    const s = op('SHIPMENT');
    const d = decide(s, { kind: 'carrier-not-found', now: at(24) }, T);
    expect(d.notifications).toHaveLength(0);
    expect(d.state.parcel).toEqual(parcel);
  });
});
