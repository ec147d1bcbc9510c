import type { CarrierCode } from '../domain/carriers.ts';
import { AftershipProvider } from './aftership/client.ts';
import { DhlProvider } from './dhl/client.ts';
import { FedexProvider } from './fedex/client.ts';
import { LaPosteProvider } from './laposte/client.ts';
import type { CarrierProvider, HttpClient, ProviderConfig, ProviderName } from './provider.ts';
import { UpsProvider } from './ups/client.ts';
import { UspsProvider } from './usps/client.ts';

export { trackingUrl } from './tracking-urls.ts';

/**
 * Which providers to ask for each carrier, primary first. AfterShip is the fallback everywhere and the
 * only route for carriers without a public API (docs/contract.md §5).
 */
export const DEFAULT_ROUTES: Record<CarrierCode, ProviderName[]> = {
  fedex: ['fedex', 'aftership'],
  ups: ['ups', 'aftership'],
  'usps-iv-api': ['usps', 'aftership'],
  dhl: ['dhl', 'aftership'],
  'deutsch-post': ['dhl', 'aftership'],
  'dhl-global-mail': ['dhl', 'aftership'],
  'la-poste-colissimo': ['laposte', 'aftership'],
  'chronopost-france': ['laposte', 'aftership'],
  estafeta: ['aftership'],
  nacex: ['aftership'],
  'spanish-seur': ['aftership'],
  'singapore-post': ['aftership'],
  'spain-correos-es': ['aftership'],
};

/** Real production origins, used when configuration gives no base URL. */
export const PRODUCTION_ORIGINS: Record<ProviderName, string> = {
  fedex: 'https://apis.fedex.com',
  ups: 'https://onlinetools.ups.com',
  usps: 'https://apis.usps.com',
  dhl: 'https://api-eu.dhl.com',
  laposte: 'https://api.laposte.fr',
  aftership: 'https://api.aftership.com',
};

export function createProvider(name: ProviderName, config: ProviderConfig, http: HttpClient): CarrierProvider {
  const cfg: ProviderConfig = { ...config, baseUrl: (config.baseUrl || PRODUCTION_ORIGINS[name]).replace(/\/+$/, '') };
  switch (name) {
    case 'fedex':
      return new FedexProvider(cfg, http);
    case 'ups':
      return new UpsProvider(cfg, http);
    case 'usps':
      return new UspsProvider(cfg, http);
    case 'dhl':
      return new DhlProvider(cfg, http);
    case 'laposte':
      return new LaPosteProvider(cfg, http);
    case 'aftership':
      return new AftershipProvider(cfg, http);
  }
}
