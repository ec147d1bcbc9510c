import type { CarrierCode } from '../domain/carriers.ts';
import { detectCarriers } from './detect.ts';
import type { CarrierProvider, HttpClient, ProviderConfig, ProviderName } from './provider.ts';
import { createProvider, DEFAULT_ROUTES } from './registry.ts';

export { detectCarriers as detect } from './detect.ts';
export { trackingUrl } from './registry.ts';

export interface CarrierRouting {
  providers: Map<ProviderName, CarrierProvider>;
  /** The providers to ask for a carrier, in configured order, leaving out those not configured here. */
  routes: (carrier: CarrierCode) => ProviderName[];
}

/**
 * Builds the providers that can actually be reached (credentials or a base URL configured, or the
 * sandbox standing in) and routes each carrier to them in the configured order (TRACKHUB_CARRIER_ROUTES).
 */
export function createCarrierRouting(
  configs: Record<ProviderName, ProviderConfig & { usable: boolean }>,
  http: HttpClient,
  routes: Record<CarrierCode, ProviderName[]> = DEFAULT_ROUTES,
): CarrierRouting {
  const providers = new Map<ProviderName, CarrierProvider>();
  for (const [name, cfg] of Object.entries(configs) as [ProviderName, ProviderConfig & { usable: boolean }][]) {
    if (cfg.usable) providers.set(name, createProvider(name, cfg, http));
  }
  return { providers, routes: (carrier) => routes[carrier].filter((p) => providers.has(p)) };
}

/**
 * Detection limited to the carriers some configured provider can ask: an ambiguous number moves from
 * candidate to candidate on each "not found", and a candidate nobody can ask would leave it unasked for
 * good. When no candidate is served, all are kept (the parcel then waits, counted, for a provider).
 */
export function servedDetection(
  usable: Record<ProviderName, boolean>,
  routes: Record<CarrierCode, ProviderName[]> = DEFAULT_ROUTES,
): typeof detectCarriers {
  return (trackingNumber, hints) => {
    const all = detectCarriers(trackingNumber, hints);
    const served = all.filter((c) => routes[c].some((p) => usable[p]));
    return served.length > 0 ? served : all;
  };
}
