import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { undiciHttpClient } from '../carriers/http.ts';
import { PROVIDER_NAMES, type ProviderName } from '../carriers/provider.ts';
import { createProvider, DEFAULT_ROUTES } from '../carriers/registry.ts';
import { CARRIER_CODES, type CarrierCode } from '../domain/carriers.ts';
import { decide, newOperation } from '../domain/operation.ts';
import { sandboxNumbers } from './numbers.ts';
import { ParcelClock } from './scenarios.ts';
import { sandboxBaseUrl, startSandbox } from './server.ts';

// A million times faster: a 90-hour parcel life passes in a third of a second of the sandbox's clock.
const SPEED = 1_000_000;
// The sandbox's clock, injected: a story moves it on rather than waiting for the wall clock.
let clockMs = Date.parse('2026-03-02T09:00:00Z');
const T = { notFoundAfterMs: 7 * 86_400_000, expireAfterMs: 30 * 86_400_000, productionTimeoutMs: 1, returnTimeoutMs: 1 };

let app: FastifyInstance;
let origin: string;
const http = undiciHttpClient();

beforeAll(async () => {
  ({ app, url: origin } = await startSandbox({ host: '127.0.0.1', port: 0, speed: SPEED, now: () => clockMs }));
});
afterAll(async () => {
  await app.close();
  await http.close();
});

const provider = (name: ProviderName) =>
  createProvider(name, { baseUrl: sandboxBaseUrl(origin, name), clientId: 'sandbox-id', clientSecret: 'sandbox-secret', apiKey: 'sandbox-key' }, http.http);

/**
 * Polls twice (the first call starts the parcel's clock), the sandbox's clock moved on by a second between
 * them (a million seconds of parcel life at SPEED, far past any story's end), and feeds the answers to the
 * state machine.
 */
async function story(name: ProviderName, carrier: CarrierCode, trackingNumber: string) {
  const p = provider(name);
  const firstAskedAt = clockMs;
  await p.track([{ carrier, trackingNumber }]);
  clockMs += 1000;
  const result = (await p.track([{ carrier, trackingNumber }])).get(trackingNumber);
  const now = new Date(clockMs).toISOString();
  let s = newOperation({ operationId: 'op', issuerId: 'ISSUER0001', cardId: 'c', correlationId: 'x', request: { trackingType: 'SHIPMENT', trackingNumber }, parcel: { carrier, trackingNumber, trackingUrl: 'u' }, now });
  s = decide(s, { kind: 'accept', now }, T).state;
  if (result?.kind === 'found') s = decide(s, { kind: 'carrier-found', snapshot: result.snapshot, now }, T).state;
  return { result, state: s, firstAskedAt };
}

describe.each(PROVIDER_NAMES)('sandbox %s', (name) => {
  // Every carrier this provider serves first, or (AfterShip) every carrier only it serves.
  const carriers = CARRIER_CODES.filter((c) => DEFAULT_ROUTES[c][0] === name);
  // A provider that served no carrier would make the it.each below vanish without a trace.
  it('serves at least one carrier first', () => expect(carriers.length).toBeGreaterThan(0));
  const numbers = sandboxNumbers('4455667', carriers);
  const pick = (carrier: CarrierCode, scenario: string) => numbers.find((n) => n.carrier === carrier && n.scenario === scenario)?.trackingNumber as string;

  it.each(carriers)('%s: delivered in steps, returned to sender as an end, never found', async (carrier) => {
    const delivered = await story(name, carrier, pick(carrier, 'delivered'));
    expect(delivered.result?.kind).toBe('found');
    expect(delivered.state.shipment?.status).toBe('DELIVERED');
    expect(delivered.state.shipment?.checkpoints.length).toBeGreaterThanOrEqual(5);
    expect(delivered.state.open).toBe(false);
    // Dated in the life the sandbox just ran: from the first request for the number to now, not days before.
    for (const c of delivered.state.shipment?.checkpoints ?? []) {
      expect(Date.parse(c.checkpointTime), c.checkpointTime).toBeGreaterThanOrEqual(delivered.firstAskedAt);
      expect(Date.parse(c.checkpointTime), c.checkpointTime).toBeLessThanOrEqual(clockMs);
    }

    const returned = await story(name, carrier, pick(carrier, 'returned'));
    expect(returned.state.shipment?.status).toBe('RETURNED_TO_SENDER');
    expect(returned.state.open).toBe(false);

    const never = await story(name, carrier, pick(carrier, 'never_found'));
    expect(never.result?.kind === 'not_found' || never.state.shipment === undefined).toBe(true);
    expect(never.state.open).toBe(true);

    const attempt = await story(name, carrier, pick(carrier, 'failed_attempt'));
    expect(attempt.state.shipment?.checkpoints.some((c) => c.status === 'FAILED_ATTEMPT' || c.status === 'EXCEPTION')).toBe(true);
    expect(attempt.state.shipment?.status).toBe('DELIVERED');
  });

  it('refuses calls without credentials', async () => {
    const p = createProvider(name, { baseUrl: sandboxBaseUrl(origin, name) }, async (url, init) => {
      // Strip every credential the provider adds.
      const headers = Object.fromEntries(Object.entries(init.headers ?? {}).filter(([k]) => !/authorization|api-key|okapi/i.test(k)));
      return http.http(url, { ...init, headers });
    });
    const carrier = carriers[0];
    const r = (await p.track([{ carrier, trackingNumber: pick(carrier, 'delivered') }])).get(pick(carrier, 'delivered'));
    expect(r?.kind).toBe('error');
  });
});

describe('sandbox numbers', () => {
  it('cover every carrier code and story; detection names the carrier unless the row says to send it', async () => {
    const { detectCarriers } = await import('../carriers/detect.ts');
    const { scenarioFor } = await import('./scenarios.ts');
    const rows = sandboxNumbers(undefined, CARRIER_CODES);
    expect(rows).toHaveLength(CARRIER_CODES.length * 6);
    for (const r of rows) {
      expect(scenarioFor(r.trackingNumber), r.trackingNumber).toBe(r.scenario);
      expect(r.trackingNumber).toMatch(/^[A-Za-z0-9]{4,40}$/);
      if (r.detected) expect(detectCarriers(r.trackingNumber)[0], r.trackingNumber).toBe(r.carrier);
    }
    // Only carriers without a usable number format need the carrier field.
    expect([...new Set(rows.filter((r) => !r.detected).map((r) => r.carrier))].sort()).toEqual(['chronopost-france', 'nacex', 'spanish-seur']);
  });
});

describe('the parcel clock', () => {
  it('dates the steps from the first request for the number, at the sandbox speed, in whole seconds', () => {
    // An hour of parcel life a second; the first request comes 0.4 s into a second.
    let now = Date.parse('2026-03-02T09:00:00.400Z');
    const clock = new ParcelClock(3600, () => now);
    const first = clock.visibleSteps('7712345000'); // a 'delivered' story: label at 0 h, pickup at 2 h, … delivered at 30 h
    expect(first.scenario).toBe('delivered');
    // The label shows at once (the number is known from the first request), printed at the next whole second.
    expect(first.steps.map((s) => [s.kind, s.time.toISOString()])).toEqual([['label', '2026-03-02T09:00:01.000Z']]);
    now += 2_599; // 09:00:02.999: the pickup happened at 09:00:02.4 but is printed 09:00:03, not yet come
    expect(clock.visibleSteps('7712345000').steps).toHaveLength(1);
    now += 1;
    expect(clock.visibleSteps('7712345000').steps.map((s) => s.time.toISOString())).toEqual(['2026-03-02T09:00:01.000Z', '2026-03-02T09:00:03.000Z']);
    now += 60_000;
    const done = clock.visibleSteps('7712345000');
    expect(done.remaining).toBe(0);
    expect(done.steps.at(-1)).toMatchObject({ kind: 'delivered', time: new Date('2026-03-02T09:00:31.000Z') });
    // The estimate: ten hours of parcel life after the story's last step.
    expect(done.estimatedDelivery.toISOString()).toBe('2026-03-02T09:00:41.000Z');
  });
});

describe('the sandbox under hostile input', () => {
  it('starts no parcel for a number longer than any real one', () => {
    const clock = new ParcelClock(1000, () => clockMs);
    expect(clock.visibleSteps('7'.repeat(65))).toMatchObject({ scenario: 'never_found', steps: [] });
  });

  it('answers wrongly shaped bodies with 400, not 500, and stores nothing for them', async () => {
    const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
      app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
    for (const body of [{ tracking_number: {}, slug: [] }, { tracking_number: 'x'.repeat(65), slug: 'fedex' }, { tracking_number: 5, slug: 'fedex' }]) {
      const res = await post('/sandbox/aftership/tracking/2026-07/trackings', body, { 'as-api-key': 'k' });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    const token = (await app.inject({ method: 'POST', url: '/sandbox/fedex/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials&client_id=a&client_secret=b' })).json().access_token;
    for (const body of [{ trackingInfo: 'x' }, { trackingInfo: [null] }, { trackingInfo: [{ trackingNumberInfo: { trackingNumber: 5 } }] }]) {
      const res = await post('/sandbox/fedex/track/v1/trackingnumbers', body, { authorization: `Bearer ${token}` });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('sandbox numbers for many parcels', () => {
  it('gives every serial its own numbers, each telling its story, and says what detection alone would pick', async () => {
    const { scenarioFor } = await import('./scenarios.ts');
    const { ALL_CARRIERS } = await import('./numbers.ts');
    const rows = Array.from({ length: 50 }, (_, i) => sandboxNumbers(String(7_712_345 + i), ALL_CARRIERS)).flat();
    expect(new Set(rows.map((r) => r.trackingNumber)).size).toBe(rows.length);
    for (const r of rows) expect(scenarioFor(r.trackingNumber), r.trackingNumber).toBe(r.scenario);
    const chrono = rows.find((r) => r.carrier === 'chronopost-france' && r.detectedAs);
    expect(chrono?.detectedAs).toBe('la-poste-colissimo');
    expect(rows.filter((r) => r.detected).every((r) => r.detectedAs === undefined)).toBe(true);
  });
});
