import type { CarrierCode } from '../domain/carriers.ts';
import { FedexProvider, fedexTrackingUrl } from './fedex/client.ts';
import type { CarrierProvider, HttpClient, ProviderConfig, ProviderName } from './provider.ts';

// The foundation wires FedEx only; the carrier registry replaces this module with every provider.
export function detect(trackingNumber: string): CarrierCode[] {
  return /^\d{12}$|^\d{15}$/.test(trackingNumber) ? ['fedex'] : [];
}

export function trackingUrl(carrier: CarrierCode, trackingNumber: string): string {
  return carrier === 'fedex' ? fedexTrackingUrl(trackingNumber) : '';
}

export function route(carrier: CarrierCode): ProviderName | undefined {
  return carrier === 'fedex' ? 'fedex' : undefined;
}

export function createProviders(configs: Record<ProviderName, ProviderConfig>, http: HttpClient): Map<ProviderName, CarrierProvider> {
  return new Map<ProviderName, CarrierProvider>([['fedex', new FedexProvider(configs.fedex, http)]]);
}
