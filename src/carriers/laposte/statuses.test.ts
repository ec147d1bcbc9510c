import { describe, expect, it } from 'vitest';
import type { ShipmentStatus, SubStatus } from '../../domain/shipment.ts';
import { parseLaPosteResponse } from './parse.ts';
import { LAPOSTE_EVENT_CODES } from './statuses.ts';

/** What each La Poste Suivi event code means to an issuer (the La Poste Suivi v2 API documentation). */
const EVENTS: Record<string, [ShipmentStatus, SubStatus?]> = {
  DR1: ['INFO_RECEIVED'],
  PC1: ['IN_TRANSIT'], PC2: ['IN_TRANSIT'], ET1: ['IN_TRANSIT'], ET2: ['IN_TRANSIT'], ET3: ['IN_TRANSIT'], ET4: ['IN_TRANSIT'],
  EP1: ['IN_TRANSIT'], DO1: ['IN_TRANSIT', 'CUSTOMS'], DO2: ['IN_TRANSIT'], DO3: ['EXCEPTION', 'CUSTOMS'], PB2: ['IN_TRANSIT'],
  AG1: ['AVAILABLE_FOR_PICKUP'], MD2: ['OUT_FOR_DELIVERY'], DI1: ['DELIVERED'], DI2: ['RETURNED_TO_SENDER'],
  RE1: ['RETURNING_TO_SENDER'], PB1: ['EXCEPTION'], ND1: ['FAILED_ATTEMPT'],
};

const N = '6A12345678901';

describe('La Poste event codes', () => {
  it.each(Object.entries(EVENTS))('%s is %j', (code, [status, subStatus]) => {
    const r = parseLaPosteResponse({ returnCode: 200, shipment: { idShip: N, event: [{ code, label: 'évènement', date: '2026-01-14T11:20:00+01:00' }] } } as never, N, 'la-poste-colissimo');
    if (r.kind !== 'found') throw new Error(`expected found, got ${JSON.stringify(r)}`);
    expect(r.snapshot.checkpoints[0]).toMatchObject({ status, raw: { code } });
    expect(r.snapshot.checkpoints[0].subStatus).toBe(subStatus);
    expect(r.snapshot.status).toBe(status);
  });

  it.each([104, 400, 404])('returnCode %i means the number is unknown, not that the call failed', (returnCode) => {
    expect(parseLaPosteResponse({ returnCode, returnMessage: 'Numéro invalide' } as never, N, 'la-poste-colissimo')).toMatchObject({ kind: 'not_found' });
  });

  it('returnCode 105, listed without a meaning, is a failed call (retried), not an unknown number', () => {
    expect(parseLaPosteResponse({ returnCode: 105, returnMessage: '?' } as never, N, 'la-poste-colissimo')).toMatchObject({ kind: 'error' });
  });
});

// A code added to the hub's table without a row here would go untested; one dropped from it, unnoticed.
it('checks every code of the hub\'s tables, and no other', () => {
  expect(Object.keys(EVENTS).sort()).toEqual(Object.keys(LAPOSTE_EVENT_CODES).sort());
});
