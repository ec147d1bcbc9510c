import type { ProviderDescriptor } from '../descriptor.ts';
import { UpsProvider } from './client.ts';
import { upsPush } from './push.ts';
import { upsSandbox } from './sandbox.ts';

/** UPS Track API (OAuth with HTTP Basic, one number a call) and Track Alert pushes. */
export const ups: ProviderDescriptor = {
  name: 'ups',
  carriers: { ups: 'https://www.ups.com/track?loc=en_US&tracknum={n}' },
  productionOrigin: 'https://onlinetools.ups.com',
  // UPS publishes no figure: 10 per second.
  defaultRateLimit: { count: 10, perMs: 1_000 },
  create: (config, http) => new UpsProvider(config, http),
  push: upsPush,
  sandbox: upsSandbox,
};
