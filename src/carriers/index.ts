import type { CarrierCode } from '../domain/carriers.ts';
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
