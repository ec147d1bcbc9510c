import type { ProviderDescriptor } from '../descriptor.ts';
import { UspsProvider } from './client.ts';
import { uspsSandbox } from './sandbox.ts';

/** USPS Tracking 3.0 (OAuth with a JSON body, one number a call); its pushes are not read. */
export const usps: ProviderDescriptor = {
  name: 'usps',
  carriers: { 'usps-iv-api': 'https://tools.usps.com/go/TrackConfirmAction?tLabels={n}' },
  productionOrigin: 'https://apis.usps.com',
  // USPS v3 apps start at 60 calls an hour.
  defaultRateLimit: { count: 60, perMs: 3_600_000 },
  create: (config, http) => new UspsProvider(config, http),
  sandbox: uspsSandbox,
};
