import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/fixtures/carriers/load.ts';
import { unknownCount } from '../../../test/fixtures/carriers/unknown-count.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { type LaPosteResponse, parseLaPosteResponse } from './parse.ts';
import { LAPOSTE_EVENT_CODES } from './statuses.ts';

const parse = (file: string, n: string, carrier: 'la-poste-colissimo' | 'chronopost-france' = 'la-poste-colissimo') =>
  parseLaPosteResponse(fixture<LaPosteResponse>('laposte', file), n, carrier);
function found(r: TrackResult) {
  if (r.kind !== 'found') throw new Error(`expected found, got ${JSON.stringify(r)}`);
  return r.snapshot;
}

describe('parseLaPosteResponse', () => {
  it('reads the array answer of /idships, turning the newest-first events around', () => {
    const s = found(parse('idships-delivered-array.json', '6A12345678901'));
    expect(s.status).toBe('DELIVERED');
    expect(s.checkpoints.map((c) => c.raw.code)).toEqual(['DR1', 'PC1', 'ET1', 'MD2', 'DI1']);
    expect(s.checkpoints.at(-1)?.checkpointTime).toBe('2026-01-14T10:20:00.000Z');
    expect(s.lastUpdatedAt).toBe('2026-01-14T10:20:00.000Z');
    expect(s.estimatedDeliveryDate).toBeUndefined();
    expect(s.checkpoints.at(-1)?.raw.description).toBe('Votre colis est livré.');
  });

  it('reads a single-object answer for Chronopost, reports an unknown code and reads its local time as French', async () => {
    const before = await unknownCount('laposte', 'ZZ9');
    const s = found(parse('idship-pickup-point-object.json', 'XY746876977FR', 'chronopost-france'));
    expect(await unknownCount('laposte', 'ZZ9')).toBe(before + 1);
    expect(s.carrier).toBe('chronopost-france');
    expect(s.status).toBe('AVAILABLE_FOR_PICKUP');
    const unknown = s.checkpoints.find((c) => c.raw.code === 'ZZ9');
    expect(unknown).toMatchObject({ status: 'IN_TRANSIT', checkpointTime: '2026-02-11T08:00:00.000Z' });
    expect(s.checkpoints.find((c) => c.raw.code === 'DO1')?.subStatus).toBe('CUSTOMS');
    expect(s.estimatedDeliveryDate).toBe('2026-02-12T23:00:00.000Z');
  });

  it('reads an empty event list as pending', () => {
    expect(found(parse('no-events.json', '8L00000000017'))).toMatchObject({ status: 'PENDING', checkpoints: [] });
  });

  it('reads returnCode 400 and 404 in the body as not found', () => {
    expect(parse('error-400-invalid-number.json', 'NOTANUMBER')).toMatchObject({ kind: 'not_found', message: expect.stringMatching(/^400/) });
    expect(parse('error-404-not-found.json', '6A99999999999')).toMatchObject({ kind: 'not_found' });
  });

  it('reads other return codes as errors, retryable only for server trouble', () => {
    expect(parseLaPosteResponse({ returnCode: 401, returnMessage: 'no key' }, 'x', 'la-poste-colissimo')).toMatchObject({ kind: 'error', retryable: false });
    expect(parseLaPosteResponse({ returnCode: 503 }, 'x', 'la-poste-colissimo')).toMatchObject({ kind: 'error', retryable: true });
  });

  it('answers not found when the array holds only other numbers', () => {
    const body = fixture<LaPosteResponse>('laposte', 'idships-delivered-array.json');
    const two = [...(body as unknown[]), ...(body as unknown[])] as LaPosteResponse;
    expect(parseLaPosteResponse(two, '6A00000000000', 'la-poste-colissimo').kind).toBe('not_found');
  });
});

describe('La Poste status table', () => {
  it.each(Object.entries(LAPOSTE_EVENT_CODES))('event code %s maps to its row', (code, row) => {
    const s = found(parseLaPosteResponse({ returnCode: 200, shipment: { idShip: 'x', event: [{ code, label: 'l', date: '2026-01-01T10:00:00+01:00' }] } }, 'x', 'la-poste-colissimo'));
    expect(s.checkpoints[0].status).toBe(row.status);
    expect(s.checkpoints[0].subStatus).toBe(row.subStatus);
    expect(s.status).toBe(row.status);
  });
});
