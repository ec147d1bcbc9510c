import { CARRIER_CODES, type CarrierCode } from '../domain/carriers.ts';
import { aftership } from './aftership/index.ts';
import type { ProviderDescriptor } from './descriptor.ts';
import { dhl } from './dhl/index.ts';
import { fedex } from './fedex/index.ts';
import { laposte } from './laposte/index.ts';
import type { CarrierProvider, HttpClient, ProviderConfig, ProviderName } from './provider.ts';
import { ups } from './ups/index.ts';
import { usps } from './usps/index.ts';

/**
 * Every provider the hub can ask, one folder each. Adding one means a folder with its descriptor, its name
 * in PROVIDER_NAMES and an entry here (docs/adding-a-carrier.md); the type makes the list complete.
 */
export const PROVIDERS = { fedex, ups, usps, dhl, laposte, aftership } as const satisfies Record<ProviderName, ProviderDescriptor>;

/** Asked after the primary for every carrier code, since it serves them all (docs/contract.md §5). */
export const FALLBACK_PROVIDER: ProviderName = 'aftership';

const DESCRIPTORS: readonly ProviderDescriptor[] = Object.values(PROVIDERS);

/** The provider whose descriptor lists the code; the registry test checks each code has exactly one. */
function primaryOf(code: CarrierCode): ProviderDescriptor | undefined {
  return DESCRIPTORS.find((d) => d.carriers[code] !== undefined);
}

/** Which providers to ask for each carrier, primary first, then the fallback (TRACKHUB_CARRIER_ROUTES overrides). */
export const DEFAULT_ROUTES = Object.fromEntries(
  CARRIER_CODES.map((code) => {
    const primary = primaryOf(code)?.name ?? FALLBACK_PROVIDER;
    return [code, primary === FALLBACK_PROVIDER ? [FALLBACK_PROVIDER] : [primary, FALLBACK_PROVIDER]];
  }),
) as Record<CarrierCode, ProviderName[]>;

/** Each code's tracking-page template, from the provider that serves it first (read once, used per request). */
const TRACKING_PAGES = new Map(CARRIER_CODES.map((code) => [code, primaryOf(code)?.carriers[code] ?? ''] as const));

/** The carrier's public tracking page for a number (the page of the carrier, whichever provider answers). */
export function trackingUrl(carrier: CarrierCode, trackingNumber: string): string {
  const template = TRACKING_PAGES.get(carrier) ?? '';
  return template.replace('{n}', encodeURIComponent(trackingNumber.trim()));
}

export function createProvider(name: ProviderName, config: ProviderConfig, http: HttpClient): CarrierProvider {
  const descriptor = PROVIDERS[name];
  return descriptor.create({ ...config, baseUrl: (config.baseUrl || descriptor.productionOrigin).replace(/\/+$/, '') }, http);
}
