import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/fixtures/carriers/load.ts';
import { DhlProvider } from './dhl/client.ts';
import { LaPosteProvider } from './laposte/client.ts';
import type { HttpClient, HttpResponse } from './provider.ts';
import { UpsProvider } from './ups/client.ts';
import { UspsProvider } from './usps/client.ts';

type Call = { url: string; method: string; headers: Record<string, string>; body?: string };

function scripted(responses: HttpResponse[]) {
  const calls: Call[] = [];
  const http: HttpClient = async (url, init) => {
    calls.push({ url, method: init.method, headers: init.headers ?? {}, body: init.body });
    const next = responses.shift();
    if (!next) throw new Error(`unexpected call ${url}`);
    return next;
  };
  return { http, calls };
}
const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({ status, headers, body: JSON.stringify(body) });
const token = json(200, { access_token: 'tok', expires_in: '14399' });

describe('UpsProvider', () => {
  it('gets a token with HTTP Basic, then calls the details path with transId and transactionSrc', async () => {
    const { http, calls } = scripted([token, json(200, fixture('ups', 'delivered-domestic-local-times.json'))]);
    const p = new UpsProvider({ baseUrl: 'http://ups.test', clientId: 'id', clientSecret: 'secret' }, http);
    const r = await p.track([{ carrier: 'ups', trackingNumber: '1Z999AA10123456784' }]);
    expect(r.get('1Z999AA10123456784')?.kind).toBe('found');
    expect(calls[0]).toMatchObject({ url: 'http://ups.test/security/v1/oauth/token', method: 'POST', body: 'grant_type=client_credentials' });
    expect(calls[0].headers.authorization).toBe(`Basic ${Buffer.from('id:secret').toString('base64')}`);
    expect(calls[1].url).toBe('http://ups.test/api/track/v1/details/1Z999AA10123456784?locale=en_US');
    expect(calls[1].headers).toMatchObject({ authorization: 'Bearer tok', transactionSrc: 'trackhub' });
    expect(calls[1].headers.transId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('renews the token once after a 401 and reads a 404 as not found', async () => {
    const { http, calls } = scripted([token, json(401, {}), token, json(404, { response: { errors: [{ code: '151018', message: 'Invalid tracking number' }] } })]);
    const p = new UpsProvider({ baseUrl: 'http://ups.test', clientId: 'a', clientSecret: 'b' }, http);
    const r = await p.track([{ carrier: 'ups', trackingNumber: '1Z0' }]);
    expect(r.get('1Z0')).toMatchObject({ kind: 'not_found' });
    expect(calls).toHaveLength(4);
  });
});

describe('UspsProvider', () => {
  it('gets a token with a JSON body and posts the number to Tracking 3.2', async () => {
    const { http, calls } = scripted([token, json(200, [fixture('usps', 'alert-notice-left.json')])]);
    const p = new UspsProvider({ baseUrl: 'http://usps.test', clientId: 'id', clientSecret: 'sec' }, http);
    const r = await p.track([{ carrier: 'usps-iv-api', trackingNumber: '9400100000000000000031' }]);
    expect(r.get('9400100000000000000031')?.kind).toBe('found');
    expect(calls[0].url).toBe('http://usps.test/oauth2/v3/token');
    expect(JSON.parse(calls[0].body ?? '')).toEqual({ client_id: 'id', client_secret: 'sec', grant_type: 'client_credentials' });
    expect(calls[1]).toMatchObject({ url: 'http://usps.test/tracking/v3r2/tracking', method: 'POST' });
    expect(JSON.parse(calls[1].body ?? '')).toEqual([{ trackingNumber: '9400100000000000000031' }]);
  });

  it('reads the 400 "no status yet" answer as not found and a 429 as retryable', async () => {
    const { http } = scripted([token, json(400, fixture('usps', 'error-400-no-status-yet.json')), json(429, {}, { 'retry-after': '60' })]);
    const p = new UspsProvider({ baseUrl: 'http://usps.test' }, http);
    expect((await p.track([{ carrier: 'usps-iv-api', trackingNumber: 'A' }])).get('A')).toMatchObject({ kind: 'not_found' });
    expect((await p.track([{ carrier: 'usps-iv-api', trackingNumber: 'B' }])).get('B')).toMatchObject({ kind: 'error', retryable: true, retryAfterMs: 60_000 });
  });
});

describe('DhlProvider', () => {
  it('sends the API key and asks Express for dhl numbers only', async () => {
    const { http, calls } = scripted([json(200, fixture('dhl', 'express-out-for-delivery.json')), json(404, fixture('dhl', 'error-404-no-result.json'))]);
    const p = new DhlProvider({ baseUrl: 'http://dhl.test', apiKey: 'key' }, http);
    const r = await p.track([
      { carrier: 'dhl', trackingNumber: '1234567892' },
      { carrier: 'deutsch-post', trackingNumber: '00340434161234567890' },
    ]);
    expect(calls[0].url).toBe('http://dhl.test/track/shipments?trackingNumber=1234567892&language=en&service=express');
    expect(calls[1].url).toBe('http://dhl.test/track/shipments?trackingNumber=00340434161234567890&language=en');
    expect(calls[0].headers['DHL-API-Key']).toBe('key');
    expect(r.get('1234567892')?.kind).toBe('found');
    expect(r.get('00340434161234567890')?.kind).toBe('not_found');
  });

  it('reads a refused key as a non-retryable error', async () => {
    const { http } = scripted([{ status: 401, headers: {}, body: 'Unauthorized' }]);
    const r = await new DhlProvider({ baseUrl: 'http://dhl.test' }, http).track([{ carrier: 'dhl', trackingNumber: 'x' }]);
    expect(r.get('x')).toMatchObject({ kind: 'error', retryable: false });
  });
});

describe('LaPosteProvider', () => {
  it('sends X-Okapi-Key with lang=en_GB and reads a 404 body as not found', async () => {
    const { http, calls } = scripted([json(404, fixture('laposte', 'error-404-not-found.json'))]);
    const p = new LaPosteProvider({ baseUrl: 'http://lp.test', apiKey: 'okapi' }, http);
    const r = await p.track([{ carrier: 'la-poste-colissimo', trackingNumber: '6A99999999999' }]);
    expect(calls[0].url).toBe('http://lp.test/suivi/v2/idships/6A99999999999?lang=en_GB');
    expect(calls[0].headers['X-Okapi-Key']).toBe('okapi');
    expect(r.get('6A99999999999')).toMatchObject({ kind: 'not_found' });
  });

  it('reports an unreachable API as retryable', async () => {
    const http: HttpClient = async () => {
      throw new Error('ECONNREFUSED');
    };
    const r = await new LaPosteProvider({ baseUrl: 'http://lp.test' }, http).track([{ carrier: 'chronopost-france', trackingNumber: 'x' }]);
    expect(r.get('x')).toMatchObject({ kind: 'error', retryable: true });
  });
});

describe('refused OAuth credentials', () => {
  // RFC 6749 §5.2 error bodies, as the USPS and UPS token endpoints answer a wrong client id or secret.
  const refused = (status: number) => json(status, { error: 'invalid_client', error_description: 'Client authentication failed' });

  it.each([400, 401])('a token endpoint answering %i is a final "credentials refused" error, not a retry', async (status) => {
    const usps = await new UspsProvider({ baseUrl: 'http://usps.test', clientId: 'id', clientSecret: 'wrong' }, scripted([refused(status)]).http).track([
      { carrier: 'usps-iv-api', trackingNumber: '9400100000000000000031' },
    ]);
    expect(usps.get('9400100000000000000031')).toMatchObject({ kind: 'error', retryable: false, message: expect.stringContaining('credentials refused') });
    const ups = await new UpsProvider({ baseUrl: 'http://ups.test', clientId: 'id', clientSecret: 'wrong' }, scripted([refused(status)]).http).track([
      { carrier: 'ups', trackingNumber: '1Z999AA10123456784' },
    ]);
    expect(ups.get('1Z999AA10123456784')).toMatchObject({ kind: 'error', retryable: false });
  });

  it('a token endpoint failing with 5xx stays retryable', async () => {
    const r = await new UspsProvider({ baseUrl: 'http://usps.test', clientId: 'id', clientSecret: 's' }, scripted([json(503, {})]).http).track([
      { carrier: 'usps-iv-api', trackingNumber: '9400100000000000000031' },
    ]);
    expect(r.get('9400100000000000000031')).toMatchObject({ kind: 'error', retryable: true });
  });
});
