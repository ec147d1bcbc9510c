import type { ProviderDescriptor } from '../descriptor.ts';
import { DhlProvider } from './client.ts';
import { dhlPush } from './push.ts';
import { dhlSandbox } from './sandbox.ts';

/** DHL Shipment Tracking – Unified (an API key, one number a call) and its push subscriptions. */
export const dhl: ProviderDescriptor = {
  name: 'dhl',
  carriers: {
    dhl: 'https://www.dhl.com/en/express/tracking.html?AWB={n}&brand=DHL',
    'deutsch-post': 'https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode={n}',
    'dhl-global-mail': 'https://webtrack.dhlecs.com/?trackingnumber={n}',
  },
  productionOrigin: 'https://api-eu.dhl.com',
  // DHL Unified's default key is reported at one call per 5 s.
  defaultRateLimit: { count: 1, perMs: 5_000 },
  create: (config, http) => new DhlProvider(config, http),
  push: dhlPush,
  sandbox: dhlSandbox,
};
