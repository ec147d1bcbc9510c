import { describe, expect, it } from 'vitest';
import { CARRIER_CODES } from '../domain/carriers.ts';
import { createCarrierRouting, detect, servedDetection } from './index.ts';
import type { HttpClient } from './provider.ts';
import { MAX_RETRY_AFTER_MS, PROVIDER_NAMES, type ProviderConfig, type ProviderName, retryAfterMs } from './provider.ts';
import { createProvider, DEFAULT_ROUTES, PROVIDERS, trackingUrl } from './registry.ts';

describe('registry', () => {
  it('lists each provider under its own name, and each carrier code under exactly one provider', () => {
    for (const name of PROVIDER_NAMES) expect(PROVIDERS[name].name).toBe(name);
    for (const code of CARRIER_CODES) {
      const primaries = Object.values(PROVIDERS).filter((d) => (d.carriers as Record<string, string>)[code] !== undefined);
      expect(primaries.map((d) => d.name), code).toHaveLength(1);
    }
    // Only carrier codes appear in the descriptors: a typo there would route nothing.
    const listed = Object.values(PROVIDERS).flatMap((d) => Object.keys(d.carriers));
    expect([...listed].sort()).toEqual([...CARRIER_CODES].sort());
  });

  it('takes the default budgets and origins from the descriptors', () => {
    expect(PROVIDERS.fedex.defaultRateLimit).toEqual({ count: 1400, perMs: 10_000 });
    expect(PROVIDERS.usps.defaultRateLimit).toEqual({ count: 60, perMs: 3_600_000 });
    expect(PROVIDERS.dhl.defaultRateLimit).toEqual({ count: 1, perMs: 5_000 });
    for (const d of Object.values(PROVIDERS)) expect(d.productionOrigin).toMatch(/^https:\/\/[a-z0-9.-]+$/);
    // The providers that push, and so take a webhook secret.
    expect(PROVIDER_NAMES.filter((n) => PROVIDERS[n].push !== undefined)).toEqual(['fedex', 'ups', 'dhl', 'aftership']);
  });

  it('routes every carrier code, with AfterShip as the last resort', () => {
    for (const code of CARRIER_CODES) expect(DEFAULT_ROUTES[code].at(-1)).toBe('aftership');
    expect(DEFAULT_ROUTES.fedex).toEqual(['fedex', 'aftership']);
    expect(DEFAULT_ROUTES['chronopost-france']).toEqual(['laposte', 'aftership']);
    for (const code of ['estafeta', 'nacex', 'spanish-seur', 'singapore-post', 'spain-correos-es'] as const) {
      expect(DEFAULT_ROUTES[code]).toEqual(['aftership']);
    }
  });

  it('routes each code to its configured providers in order, leaving out those not configured', () => {
    const http: HttpClient = async () => ({ status: 503, headers: {}, body: '' });
    const configs = Object.fromEntries(
      PROVIDER_NAMES.map((n) => [n, { baseUrl: 'http://127.0.0.1:9001', apiKey: 'k', usable: n !== 'dhl' }]),
    ) as Record<ProviderName, ProviderConfig & { usable: boolean }>;
    const { providers, routes } = createCarrierRouting(configs, http, { ...DEFAULT_ROUTES, ups: ['aftership', 'ups'], nacex: ['ups', 'aftership'] });
    expect(providers.has('dhl')).toBe(false);
    expect(routes('ups')).toEqual(['aftership', 'ups']);
    expect(routes('nacex')).toEqual(['ups', 'aftership']);
    expect(routes('fedex')).toEqual(['fedex', 'aftership']);
    expect(routes('deutsch-post')).toEqual(['aftership']); // DHL has no credentials here
    expect(createCarrierRouting(configs, http).routes('dhl-global-mail')).toEqual(['aftership']);
  });

  it('gives a public https page for every carrier, with the number in it where a template is known', () => {
    for (const code of CARRIER_CODES) expect(trackingUrl(code, 'AB 12')).toMatch(/^https:\/\//);
    expect(trackingUrl('ups', '1Z5R89390357567127')).toBe('https://www.ups.com/track?loc=en_US&tracknum=1Z5R89390357567127');
    expect(trackingUrl('usps-iv-api', '9400111206206406260787')).toBe('https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111206206406260787');
    expect(trackingUrl('la-poste-colissimo', '6A12345678901')).toBe('https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901');
    expect(trackingUrl('deutsch-post', 'A&B')).toContain('piececode=A%26B');
  });

  it('creates each provider against the configured origin, appending its own paths', async () => {
    const urls: string[] = [];
    const http: HttpClient = async (url) => {
      urls.push(url);
      return { status: 503, headers: {}, body: '' };
    };
    for (const name of PROVIDER_NAMES) {
      const p = createProvider(name, { baseUrl: 'http://127.0.0.1:9001/', apiKey: 'k', clientId: 'i', clientSecret: 's' }, http);
      expect(p.name).toBe(name);
      const r = await p.track([{ carrier: 'ups', trackingNumber: '1Z5R89390357567127' }]);
      expect(r.get('1Z5R89390357567127')?.kind).toBe('error');
    }
    expect(urls).toEqual([
      'http://127.0.0.1:9001/oauth/token',
      'http://127.0.0.1:9001/security/v1/oauth/token',
      'http://127.0.0.1:9001/oauth2/v3/token',
      'http://127.0.0.1:9001/track/shipments?trackingNumber=1Z5R89390357567127&language=en',
      'http://127.0.0.1:9001/suivi/v2/idships/1Z5R89390357567127?lang=en_GB',
      'http://127.0.0.1:9001/tracking/2026-07/trackings',
    ]);
  });
});

describe('detection limited to carriers a configured provider can ask', () => {
  const none: Record<ProviderName, boolean> = { fedex: false, ups: false, usps: false, dhl: false, laposte: false, aftership: false };
  // La Poste and Chronopost both claim a French S10 number.
  const french = 'LA123456785FR';

  it('drops a candidate no configured provider serves, so rotation never lands on it', () => {
    expect(detect(french, {})).toEqual(['la-poste-colissimo', 'chronopost-france']);
    // La Poste configured; Chronopost is routed to AfterShip alone, which is not.
    const routes = { ...DEFAULT_ROUTES, 'chronopost-france': ['aftership'] as ProviderName[] };
    expect(servedDetection({ ...none, laposte: true }, routes)(french, {})).toEqual(['la-poste-colissimo']);
    // AfterShip configured too: both are served again.
    expect(servedDetection({ ...none, laposte: true, aftership: true }, routes)(french, {})).toEqual(['la-poste-colissimo', 'chronopost-france']);
  });

  it('keeps every candidate when none is served (the parcel then waits, counted, for a provider)', () => {
    expect(servedDetection(none, DEFAULT_ROUTES)(french, {})).toEqual(['la-poste-colissimo', 'chronopost-france']);
  });
});

describe('Retry-After', () => {
  it('is obeyed for a day at most; nonsense is ignored', () => {
    const now = Date.parse('2026-05-01T08:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('10000000000', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs('Fri, 01 May 2026 08:01:00 GMT', now)).toBe(60_000);
    expect(retryAfterMs('Sat, 01 May 2100 08:00:00 GMT', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-5', now) ?? 0).toBe(0); // no wait either way
  });
});
