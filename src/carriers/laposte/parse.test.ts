import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/fixtures/carriers/load.ts';
import { unknownCount } from '../../../test/fixtures/carriers/unknown-count.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { type LaPosteResponse, parseLaPosteResponse } from './parse.ts';
import { LAPOSTE_EVENT_CODES, LAPOSTE_EXCEPTION_FAMILIES, LAPOSTE_FAMILY_EXEMPT, laposteRow } from './statuses.ts';
import { withTimeline } from './timeline.ts';

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

  it('maps timeline stages into checkpoints with their country, without repeating what the events say', () => {
    const s = found(parse('idship-timeline-stages.json', '6A23456789012'));
    expect(s.checkpoints.map((c) => c.raw.code)).toEqual(['DR1', 'PC1', 'ET1', 'ET3', 'timeline-2']);
    // Stage 1 is the PC1 event (same instant): no second checkpoint, the event gains its country.
    expect(s.checkpoints[1]).toMatchObject({ raw: { code: 'PC1' }, countryCode: 'FR', message: 'Votre colis a été déposé dans un point postal.' });
    // Stage 2 has no event: its own checkpoint, its country, its long label, the status of the event before it.
    expect(s.checkpoints[4]).toMatchObject({
      checkpointTime: '2026-05-06T13:30:00.000Z',
      countryCode: 'DE',
      status: 'IN_TRANSIT',
      message: "Votre colis a quitté la France et poursuit sa route vers l'Allemagne.",
    });
    // Undated and unreached stages (3, 4, 5) add nothing; events without a stage have no country.
    expect(s.checkpoints.filter((c) => c.countryCode).map((c) => c.raw.code)).toEqual(['PC1', 'timeline-2']);
    expect(s).toMatchObject({ status: 'IN_TRANSIT', message: 'Votre colis est arrivé dans le pays de destination.', lastUpdatedAt: '2026-05-06T13:30:00.000Z' });
  });

  it('gives the delivery its country from the delivered stage at the same instant, adding no checkpoint', () => {
    const s = found(parse('idships-delivered-array.json', '6A12345678901'));
    expect(s.checkpoints).toHaveLength(5);
    expect(s.checkpoints.at(-1)).toMatchObject({ raw: { code: 'DI1' }, countryCode: 'FR', status: 'DELIVERED' });
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

describe('La Poste timeline stages', () => {
  const event = (checkpointTime: string, status: 'IN_TRANSIT' | 'AVAILABLE_FOR_PICKUP' | 'EXCEPTION') => ({ checkpointTime, status, message: 'e', raw: { code: 'X', description: 'e' } });

  it('a stage no event covers repeats the status of the event before it, never moving the parcel on by itself', () => {
    const out = withTimeline([event('2026-01-01T10:00:00.000Z', 'AVAILABLE_FOR_PICKUP')], [{ id: 5, shortLabel: 'Livré', date: '2026-01-02T10:00:00Z', country: 'fr', status: true }], 'FR');
    expect(out.at(-1)).toMatchObject({ raw: { code: 'timeline-5' }, status: 'AVAILABLE_FOR_PICKUP', countryCode: 'FR', message: 'Livré' });
  });

  it('a stage before every event, or with no events at all, reads IN_TRANSIT', () => {
    const out = withTimeline([event('2026-01-02T10:00:00.000Z', 'EXCEPTION')], [{ id: 1, shortLabel: 'Pris en charge', date: '2026-01-01T10:00:00Z', status: true }], 'FR');
    expect(out.map((c) => c.status)).toEqual(['IN_TRANSIT', 'EXCEPTION']);
    expect(withTimeline([], [{ id: 2, date: '2026-01-01T10:00:00+01:00' }], 'FR')).toMatchObject([{ status: 'IN_TRANSIT', checkpointTime: '2026-01-01T09:00:00.000Z', message: '' }]);
  });

  it('reads bad timelines as nothing, and at most 20 stages', () => {
    for (const bad of [undefined, null, 'x', 5, {}, [null, 'x', 3, [], { date: 'not a date' }, { date: '2026-02-30T10:00:00Z' }]]) expect(withTimeline([], bad, 'FR')).toEqual([]);
    const many = Array.from({ length: 500 }, (_, i) => ({ id: i, date: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() }));
    expect(withTimeline([], many, 'FR')).toHaveLength(20);
  });

  it('a parcel with timeline stages only reads IN_TRANSIT, with its newest stage as last update', () => {
    const s = found(parseLaPosteResponse({ returnCode: 200, shipment: { idShip: 'x', event: [], timeline: [{ id: 1, date: '2026-01-01T10:00:00+01:00', country: 'FR', status: true }] } }, 'x', 'la-poste-colissimo'));
    expect(s).toMatchObject({ status: 'IN_TRANSIT', lastUpdatedAt: '2026-01-01T09:00:00.000Z', checkpoints: [{ countryCode: 'FR' }] });
  });
});

describe('La Poste precedence: the code family against the table', () => {
  it.each([
    ['PB3', 'EXCEPTION'],
    ['PB9', 'EXCEPTION'],
    ['ND2', 'FAILED_ATTEMPT'],
  ])('an unlisted code %s of an exception family is %s, not the IN_TRANSIT fallback', (code, status) => {
    expect(laposteRow(code, 'undocumented').status).toBe(status);
    expect(laposteRow('ZZ8', 'undocumented').status).toBe('IN_TRANSIT');
  });

  it('every table code of an exception family is adverse, or exempt with its reason', () => {
    for (const [code, row] of Object.entries(LAPOSTE_EVENT_CODES)) {
      if (!Object.hasOwn(LAPOSTE_EXCEPTION_FAMILIES, code.slice(0, 2))) continue;
      if (Object.hasOwn(LAPOSTE_FAMILY_EXEMPT, code)) expect(LAPOSTE_FAMILY_EXEMPT[code].reason.length).toBeGreaterThan(10);
      else expect(['EXCEPTION', 'FAILED_ATTEMPT']).toContain(row.status);
    }
    expect(laposteRow('PB2').status).toBe('IN_TRANSIT');
    for (const family of Object.values(LAPOSTE_EXCEPTION_FAMILIES)) expect(family.source).toMatch(/La Poste/);
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
