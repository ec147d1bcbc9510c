import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../test/fixtures/carriers/load.ts';
import { sandboxNumbers } from '../sandbox/numbers.ts';
import { sandboxBaseUrl, startSandbox } from '../sandbox/server.ts';
import { undiciHttpClient } from './http.ts';
import { LaPosteProvider } from './laposte/client.ts';
import type { LaPosteItem } from './laposte/parse.ts';
import type { HttpClient, HttpResponse, TrackRequest } from './provider.ts';
import { UspsProvider } from './usps/client.ts';
import type { UspsTrackingItem } from './usps/parse.ts';

type Call = { url: string; method: string; body?: string };
const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({ status, headers, body: JSON.stringify(body) });
const token = json(200, { access_token: 'tok', expires_in: '14399' });

/** A fake carrier: each call is answered by `answer`, given the call; every call is kept. */
function fake(answer: (call: Call) => HttpResponse) {
  const calls: Call[] = [];
  const http: HttpClient = async (url, init) => {
    const call = { url, method: init.method, body: init.body };
    calls.push(call);
    return answer(call);
  };
  return { http, calls };
}

// ---- USPS Tracking 3.2 -------------------------------------------------------------------------------

const uspsFound = (trackingNumber: string): UspsTrackingItem => ({ ...fixture<UspsTrackingItem>('usps', 'alert-notice-left.json'), trackingNumber, statusCode: '200' });
const uspsNoStatusYet = (trackingNumber: string): UspsTrackingItem => ({ ...fixture<UspsTrackingItem>('usps', 'error-400-no-status-yet.json'), trackingNumber, statusCode: '400' });
const uspsMalformed = (trackingNumber: string): UspsTrackingItem => ({ ...fixture<UspsTrackingItem>('usps', 'error-400-other.json'), trackingNumber, statusCode: '400' });
const usps = (http: HttpClient) => new UspsProvider({ baseUrl: 'http://usps.test', clientId: 'id', clientSecret: 'sec' }, http);
const uspsRequests = (...numbers: string[]): TrackRequest[] => numbers.map((trackingNumber) => ({ carrier: 'usps-iv-api', trackingNumber }));
/** The numbers a Tracking 3.2 call carried. */
const posted = (call: Call) => (JSON.parse(call.body ?? '[]') as { trackingNumber: string }[]).map((t) => t.trackingNumber);

describe('USPS batching (Tracking 3.2)', () => {
  it('carries several numbers in one call and gives each its own item, whatever the order of the answer', async () => {
    const { http, calls } = fake((c) => (c.url.endsWith('/token') ? token : json(200, posted(c).reverse().map(uspsFound))));
    const r = await usps(http).track(uspsRequests('9400100000000000000031', '9400100000000000000048', '9400100000000000000055'));
    expect(calls.filter((c) => c.url.endsWith('/tracking/v3r2/tracking'))).toHaveLength(1);
    expect(posted(calls[1])).toEqual(['9400100000000000000031', '9400100000000000000048', '9400100000000000000055']);
    for (const n of ['9400100000000000000031', '9400100000000000000048', '9400100000000000000055']) {
      const got = r.get(n);
      expect(got?.kind).toBe('found');
      if (got?.kind === 'found') expect(got.snapshot.trackingNumber).toBe(n);
    }
  });

  it('reads a 207: the unknown number is not found, the malformed one an error, the others found', async () => {
    const { http } = fake((c) =>
      c.url.endsWith('/token') ? token : json(207, [uspsFound('9400100000000000000031'), uspsNoStatusYet('9400100000000000000048'), uspsMalformed('BAD1'), uspsFound('9400100000000000000055')]),
    );
    const r = await usps(http).track(uspsRequests('9400100000000000000031', '9400100000000000000048', 'BAD1', '9400100000000000000055'));
    expect(r.get('9400100000000000000031')?.kind).toBe('found');
    expect(r.get('9400100000000000000048')).toMatchObject({ kind: 'not_found' });
    expect(r.get('BAD1')).toMatchObject({ kind: 'error', retryable: false, message: expect.stringContaining('150002') });
    expect(r.get('9400100000000000000055')?.kind).toBe('found');
  });

  it('an item whose own status is 404 is not found, even with an error code it does not list', async () => {
    const gone = { ...uspsMalformed('9400100000000000000048'), statusCode: '404' };
    const { http } = fake((c) => (c.url.endsWith('/token') ? token : json(207, [uspsFound('9400100000000000000031'), gone])));
    const r = await usps(http).track(uspsRequests('9400100000000000000031', '9400100000000000000048'));
    expect(r.get('9400100000000000000048')).toMatchObject({ kind: 'not_found' });
    expect(r.get('9400100000000000000031')?.kind).toBe('found');
  });

  it('one number answered with a 404 array is not found, whatever the error code', async () => {
    const { http } = fake((c) => (c.url.endsWith('/token') ? token : json(404, [{ ...uspsMalformed('9400100000000000000048'), statusCode: undefined }])));
    const r = await usps(http).track(uspsRequests('9400100000000000000048'));
    expect(r.get('9400100000000000000048')).toMatchObject({ kind: 'not_found' });
  });

  it('a number the answer leaves out is an error to retry, never not found', async () => {
    const { http } = fake((c) => (c.url.endsWith('/token') ? token : json(200, [uspsFound('9400100000000000000031')])));
    const r = await usps(http).track(uspsRequests('9400100000000000000031', '9400100000000000000048'));
    expect(r.get('9400100000000000000031')?.kind).toBe('found');
    expect(r.get('9400100000000000000048')).toMatchObject({ kind: 'error', retryable: true });
  });

  it('a whole-call failure is the same error for every number: 503 retryable, a bare 400 final', async () => {
    const unavailable = fake((c) => (c.url.endsWith('/token') ? token : json(503, {}, { 'retry-after': '30' })));
    const r = await usps(unavailable.http).track(uspsRequests('A1', 'B2', 'C3'));
    for (const n of ['A1', 'B2', 'C3']) expect(r.get(n)).toMatchObject({ kind: 'error', retryable: true, retryAfterMs: 30_000 });

    const refused = fake((c) => (c.url.endsWith('/token') ? token : json(400, { apiVersion: '/tracking/v3r2', error: { code: '400', message: 'Invalid request body' } })));
    const r2 = await usps(refused.http).track(uspsRequests('A1', 'B2'));
    for (const n of ['A1', 'B2']) expect(r2.get(n)).toMatchObject({ kind: 'error', retryable: false, message: expect.stringContaining('Invalid request body') });
  });

  it('never sends more than 35 numbers in one call', async () => {
    const { http, calls } = fake((c) => (c.url.endsWith('/token') ? token : json(200, posted(c).map(uspsFound))));
    const numbers = Array.from({ length: 80 }, (_, i) => `94001000000000000${String(i).padStart(5, '0')}`);
    const p = usps(http);
    expect(p.maxBatch).toBe(35);
    const r = await p.track(uspsRequests(...numbers));
    const sizes = calls.filter((c) => c.url.endsWith('/tracking/v3r2/tracking')).map((c) => posted(c).length);
    expect(sizes).toEqual([35, 35, 10]);
    expect([...r.keys()].sort()).toEqual([...numbers].sort());
    expect([...r.values()].every((x) => x.kind === 'found')).toBe(true);
  });
});

// ---- La Poste Suivi v2 -------------------------------------------------------------------------------

const lpFound = (idShip: string): LaPosteItem => {
  const item = fixture<LaPosteItem[]>('laposte', 'idships-delivered-array.json')[0];
  return { ...item, shipment: { ...item.shipment, idShip } };
};
const lpNotFound = (idShip: string): LaPosteItem => ({ ...fixture<LaPosteItem>('laposte', 'error-404-not-found.json'), idShip });
const laposte = (http: HttpClient) => new LaPosteProvider({ baseUrl: 'http://lp.test', apiKey: 'okapi' }, http);
const lpRequests = (...numbers: string[]): TrackRequest[] => numbers.map((trackingNumber) => ({ carrier: 'la-poste-colissimo', trackingNumber }));
/** The ids a Suivi v2 call named in its path. */
const named = (call: Call) => new URL(call.url).pathname.split('/idships/')[1].split(',').map(decodeURIComponent);

describe('La Poste batching (Suivi v2)', () => {
  it('names several ids in one path and gives each its own item', async () => {
    const { http, calls } = fake((c) => json(200, named(c).reverse().map(lpFound)));
    const r = await laposte(http).track(lpRequests('6A12345678901', '6A12345678918', '6A12345678925'));
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe('http://lp.test/suivi/v2/idships/6A12345678901,6A12345678918,6A12345678925?lang=en_GB');
    for (const n of ['6A12345678901', '6A12345678918', '6A12345678925']) {
      const got = r.get(n);
      expect(got?.kind).toBe('found');
      if (got?.kind === 'found') expect(got.snapshot.trackingNumber).toBe(n);
    }
  });

  it('reads a 207: the unknown id is not found, an item failing on La Poste’s side an error, the others found', async () => {
    const busy: LaPosteItem = { returnCode: 504, returnMessage: 'Service momentanément indisponible', idShip: '6A12345678925' };
    const { http } = fake(() => json(207, [lpFound('6A12345678901'), lpNotFound('6A99999999999'), busy]));
    const r = await laposte(http).track(lpRequests('6A12345678901', '6A99999999999', '6A12345678925'));
    expect(r.get('6A12345678901')?.kind).toBe('found');
    expect(r.get('6A99999999999')).toMatchObject({ kind: 'not_found' });
    expect(r.get('6A12345678925')).toMatchObject({ kind: 'error', retryable: true, message: expect.stringContaining('504') });
  });

  it('an id the answer leaves out is an error to retry, never not found', async () => {
    const { http } = fake(() => json(200, [lpFound('6A12345678901')]));
    const r = await laposte(http).track(lpRequests('6A12345678901', '6A12345678918'));
    expect(r.get('6A12345678901')?.kind).toBe('found');
    expect(r.get('6A12345678918')).toMatchObject({ kind: 'error', retryable: true });
  });

  it('a whole-call failure is the same error for every id: unreachable retryable, a bare 400 naming none final', async () => {
    const down = await laposte(async () => {
      throw new Error('ECONNRESET');
    }).track(lpRequests('6A12345678901', '6A12345678918'));
    for (const n of ['6A12345678901', '6A12345678918']) expect(down.get(n)).toMatchObject({ kind: 'error', retryable: true });

    const { http } = fake(() => json(400, { returnCode: 400, returnMessage: 'Requête invalide', lang: 'fr_FR', scope: 'open' }));
    const r = await laposte(http).track(lpRequests('6A12345678901', '6A12345678918'));
    for (const n of ['6A12345678901', '6A12345678918']) expect(r.get(n)).toMatchObject({ kind: 'error', retryable: false, message: expect.stringContaining('400') });
  });

  it('a bare error object naming one id is about that id only', async () => {
    const { http } = fake(() => json(400, fixture('laposte', 'error-400-invalid-number.json')));
    const r = await laposte(http).track(lpRequests('NOTANUMBER', '6A12345678901'));
    expect(r.get('NOTANUMBER')).toMatchObject({ kind: 'not_found' });
    expect(r.get('6A12345678901')).toMatchObject({ kind: 'error', retryable: true });
  });

  it('never names more than 10 ids in one call, and encodes each id on its own', async () => {
    const { http, calls } = fake((c) => json(200, named(c).map(lpFound)));
    const numbers = Array.from({ length: 23 }, (_, i) => `6A1234567${String(i).padStart(4, '0')}`);
    const p = laposte(http);
    expect(p.maxBatch).toBe(10);
    const r = await p.track(lpRequests(...numbers, 'A,B'));
    expect(calls.map((c) => named(c).length)).toEqual([10, 10, 4]);
    // A comma inside a number is sent as %2C: it cannot become a second id.
    expect(calls[2].url).toContain('A%2CB');
    expect(r.size).toBe(24);
  });
});

// ---- the sandbox answers the multi-number shapes -----------------------------------------------------

describe('the sandbox answers several numbers in one call', () => {
  const SPEED = 1_000_000;
  let clockMs = Date.parse('2026-03-02T09:00:00Z');
  let app: FastifyInstance;
  let origin: string;
  const undici = undiciHttpClient();
  beforeAll(async () => {
    ({ app, url: origin } = await startSandbox({ host: '127.0.0.1', port: 0, speed: SPEED, now: () => clockMs }));
  });
  afterAll(async () => {
    await app.close();
    await undici.close();
  });
  /** The real HTTP client, counting the tracking calls (token calls aside). */
  const counted = () => {
    const calls: string[] = [];
    const http: HttpClient = (url, init) => {
      if (!/token/.test(url)) calls.push(url);
      return undici.http(url, init);
    };
    return { http, calls };
  };

  it.each([
    ['usps', 'usps-iv-api'],
    ['laposte', 'la-poste-colissimo'],
  ] as const)('%s: ten numbers (delivered, returned, never found…) in one call each poll, each with its own story', async (name, carrier) => {
    const rows = [...sandboxNumbers('5566778', [carrier]), ...sandboxNumbers('5566779', [carrier])].slice(0, 10);
    const requests = rows.map((row) => ({ carrier, trackingNumber: row.trackingNumber }));
    const { http, calls } = counted();
    const config = { baseUrl: sandboxBaseUrl(origin, name), clientId: 'sandbox-id', clientSecret: 'sandbox-secret', apiKey: 'sandbox-key' };
    const p = name === 'usps' ? new UspsProvider(config, http) : new LaPosteProvider(config, http);
    await p.track(requests);
    clockMs += 1000;
    const r = await p.track(requests);
    expect(calls).toHaveLength(2);
    for (const row of rows) {
      const got = r.get(row.trackingNumber);
      expect(got?.kind, `${row.trackingNumber} (${row.scenario})`).toBe(row.scenario === 'never_found' ? 'not_found' : 'found');
      if (got?.kind === 'found') expect(got.snapshot.trackingNumber).toBe(row.trackingNumber);
      if (row.scenario === 'delivered' && got?.kind === 'found') expect(got.snapshot.status).toBe('DELIVERED');
    }
  });

  it('refuses more numbers than the carrier takes with a 400, not a 500', async () => {
    const ids = Array.from({ length: 11 }, (_, i) => `6A1234567${String(i).padStart(4, '0')}`).join(',');
    const lp = await app.inject({ method: 'GET', url: `/sandbox/laposte/suivi/v2/idships/${ids}`, headers: { 'x-okapi-key': 'k' } });
    expect(lp.statusCode).toBe(400);
    const form = 'grant_type=client_credentials&client_id=a&client_secret=b';
    const tok = (await app.inject({ method: 'POST', url: '/sandbox/usps/oauth2/v3/token', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(Object.fromEntries(new URLSearchParams(form))) })).json().access_token;
    const post = (body: unknown) =>
      app.inject({ method: 'POST', url: '/sandbox/usps/tracking/v3r2/tracking', headers: { 'content-type': 'application/json', authorization: `Bearer ${tok}` }, payload: JSON.stringify(body) });
    for (const body of [Array.from({ length: 36 }, (_, i) => ({ trackingNumber: `9400${i}` })), [], [{ trackingNumber: 5 }], [null], { trackingNumber: '9400' }]) {
      expect((await post(body)).statusCode, JSON.stringify(body).slice(0, 60)).toBe(400);
    }
  });
});
