import type { CarrierCode } from '../domain/carriers.ts';
import type { CarrierProvider, HttpClient, ProviderConfig, ProviderName } from './provider.ts';
import { createProvider, DEFAULT_ROUTES } from './registry.ts';

export { detectCarriers as detect } from './detect.ts';
export { trackingUrl } from './tracking-urls.ts';

export interface CarrierRouting {
  providers: Map<ProviderName, CarrierProvider>;
  /** The provider that serves a carrier: the first of its routes that is configured here. */
  route: (carrier: CarrierCode) => ProviderName | undefined;
}

/**
 * Builds the providers that can actually be reached (credentials or a base URL configured, or the
 * sandbox standing in) and routes each carrier to the first of them in DEFAULT_ROUTES order.
 */
export function createCarrierRouting(
  configs: Record<ProviderName, ProviderConfig & { usable: boolean }>,
  http: HttpClient,
): CarrierRouting {
  const providers = new Map<ProviderName, CarrierProvider>();
  for (const [name, cfg] of Object.entries(configs) as [ProviderName, ProviderConfig & { usable: boolean }][]) {
    if (cfg.usable) providers.set(name, createProvider(name, cfg, http));
  }
  return { providers, route: (carrier) => DEFAULT_ROUTES[carrier].find((p) => providers.has(p)) };
}
