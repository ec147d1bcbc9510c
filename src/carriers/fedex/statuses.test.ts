import { describe, expect, it } from 'vitest';
import type { ShipmentStatus, SubStatus } from '../../domain/shipment.ts';
import { parseFedexTrackResponse } from './parse.ts';
import { FEDEX_EXCEPTION_CLASS, FEDEX_STATUSES } from './statuses.ts';

/**
 * What each FedEx scan means to an issuer (the FedEx Track API documentation). A wrong row is a wrong
 * notification: a DL read as anything else never closes the operation, a return read as transit hides it.
 */
const SCANS: Record<string, [ShipmentStatus, SubStatus?]> = {
  OC: ['INFO_RECEIVED'], OX: ['INFO_RECEIVED'], EP: ['INFO_RECEIVED'], MD: ['INFO_RECEIVED'], IN: ['INFO_RECEIVED'],
  PU: ['IN_TRANSIT'], PX: ['IN_TRANSIT'], OF: ['IN_TRANSIT'], AP: ['IN_TRANSIT'], IT: ['IN_TRANSIT'], IX: ['IN_TRANSIT'],
  AA: ['IN_TRANSIT'], AC: ['IN_TRANSIT'], AF: ['IN_TRANSIT'], AR: ['IN_TRANSIT'], AX: ['IN_TRANSIT'], DP: ['IN_TRANSIT'],
  EA: ['IN_TRANSIT'], EO: ['IN_TRANSIT'], FD: ['IN_TRANSIT'], LO: ['IN_TRANSIT'], PF: ['IN_TRANSIT'], PL: ['IN_TRANSIT'],
  PM: ['IN_TRANSIT'], SF: ['IN_TRANSIT'], TR: ['IN_TRANSIT'], CC: ['IN_TRANSIT'], AE: ['IN_TRANSIT'], AO: ['IN_TRANSIT'],
  DY: ['IN_TRANSIT', 'DELAYED'], DD: ['IN_TRANSIT', 'DELAYED'], PY: ['IN_TRANSIT', 'DELAYED'], RL: ['IN_TRANSIT', 'DELAYED'],
  OD: ['OUT_FOR_DELIVERY'], AD: ['OUT_FOR_DELIVERY'], ED: ['OUT_FOR_DELIVERY'],
  HL: ['AVAILABLE_FOR_PICKUP'], HP: ['AVAILABLE_FOR_PICKUP'],
  DL: ['DELIVERED'],
  DE: ['FAILED_ATTEMPT'], SE: ['EXCEPTION'], CD: ['EXCEPTION', 'CUSTOMS'], HA: ['EXCEPTION', 'HELD'], CA: ['EXCEPTION', 'CANCELLED'],
  RS: ['RETURNING_TO_SENDER'], RT: ['RETURNING_TO_SENDER'],
};

const N = '612345678904';
function scan(event: Record<string, string>) {
  const r = parseFedexTrackResponse(
    { output: { completeTrackResults: [{ trackingNumber: N, trackResults: [{ scanEvents: [{ date: '2026-03-03T10:00:00-05:00', eventDescription: 'scan', ...event }] }] }] } },
    [N],
  ).get(N);
  if (r?.kind !== 'found') throw new Error(`expected found, got ${JSON.stringify(r)}`);
  return r.snapshot;
}

describe('FedEx scan codes', () => {
  it.each(Object.entries(SCANS))('%s is %j', (code, [status, subStatus]) => {
    const s = scan({ eventType: code });
    expect(s.checkpoints[0]).toMatchObject({ status, raw: { code } });
    expect(s.checkpoints[0].subStatus).toBe(subStatus);
    expect(s.status).toBe(status);
  });

  it('reads the derived status code when a scan has no event type', () => {
    expect(scan({ derivedStatusCode: 'DL' }).checkpoints[0].status).toBe('DELIVERED');
  });

  it.each([
    ['03', 'ADDRESS_ISSUE'],
    ['07', 'REFUSED'],
    ['08', 'RECIPIENT_NOT_AVAILABLE'],
    ['15', 'HELD'],
    ['17', 'RECIPIENT_NOT_AVAILABLE'],
    ['A52', 'DELAYED'],
  ])('a delivery exception %s gives the reason %s', (exceptionCode, reason) => {
    expect(scan({ eventType: 'DE', exceptionCode }).checkpoints[0]).toMatchObject({ status: 'FAILED_ATTEMPT', subStatus: reason });
  });
});

describe('FedEx precedence: its derived exception class against the event type', () => {
  it.each([
    ['AR', 'SE', 'EXCEPTION', undefined],
    ['IT', 'DE', 'FAILED_ATTEMPT', undefined],
    ['OD', 'CD', 'EXCEPTION', 'CUSTOMS'],
  ])('a %s scan that FedEx derives as %s is %s', (eventType, derivedStatusCode, status, subStatus) => {
    const c = scan({ eventType, derivedStatusCode }).checkpoints[0];
    expect(c).toMatchObject({ status, raw: { code: eventType } });
    expect(c.subStatus).toBe(subStatus);
  });

  it('keeps an event type that already names what went wrong, and the exception code reason', () => {
    expect(scan({ eventType: 'HA', derivedStatusCode: 'SE' }).checkpoints[0]).toMatchObject({ status: 'EXCEPTION', subStatus: 'HELD' });
    expect(scan({ eventType: 'AR', derivedStatusCode: 'DE', exceptionCode: '08' }).checkpoints[0]).toMatchObject({ status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' });
  });

  it('a derived code outside the class never overrules the finer event type (HP derived IT, DY derived DY)', () => {
    expect(scan({ eventType: 'HP', derivedStatusCode: 'IT' }).checkpoints[0].status).toBe('AVAILABLE_FOR_PICKUP');
    expect(scan({ eventType: 'AF', derivedStatusCode: 'IT', exceptionCode: 'A3' }).checkpoints[0].status).toBe('IN_TRANSIT');
    expect(scan({ eventType: 'AR', derivedStatusCode: 'DY' }).checkpoints[0]).toMatchObject({ status: 'IN_TRANSIT' });
  });

  it('the latest status follows the same rule', () => {
    const r = parseFedexTrackResponse(
      { output: { completeTrackResults: [{ trackingNumber: N, trackResults: [{ latestStatusDetail: { code: 'AR', derivedCode: 'SE', statusByLocale: 'Shipment exception' }, scanEvents: [] }] }] } },
      [N],
    ).get(N);
    expect(r).toMatchObject({ kind: 'found', snapshot: { status: 'EXCEPTION' } });
  });

  it('every class code has a row and a source', () => {
    for (const [code, rule] of Object.entries(FEDEX_EXCEPTION_CLASS)) {
      expect(Object.hasOwn(FEDEX_STATUSES, code)).toBe(true);
      expect(rule.source).toMatch(/FedEx/);
    }
  });
});

// A code added to the hub's table without a row here would go untested; one dropped from it, unnoticed.
it('checks every code of the hub\'s tables, and no other', () => {
  expect(Object.keys(SCANS).sort()).toEqual(Object.keys(FEDEX_STATUSES).sort());
});
