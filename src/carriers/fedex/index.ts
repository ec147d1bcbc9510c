import type { ProviderDescriptor } from '../descriptor.ts';
import { FedexProvider } from './client.ts';
import { fedexPush } from './push.ts';
import { fedexSandbox } from './sandbox.ts';

/** FedEx Track API (OAuth client credentials, 30 numbers a call) and Advanced Integrated Visibility pushes. */
export const fedex: ProviderDescriptor = {
  name: 'fedex',
  carriers: { fedex: 'https://www.fedex.com/fedextrack/?trknbr={n}' },
  productionOrigin: 'https://apis.fedex.com',
  // FedEx publishes 1,400 calls per 10 s per project.
  defaultRateLimit: { count: 1400, perMs: 10_000 },
  create: (config, http) => new FedexProvider(config, http),
  push: fedexPush,
  sandbox: fedexSandbox,
};
