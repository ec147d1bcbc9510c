import type { CarrierCode } from '../domain/carriers.ts';
import type { SandboxRenderer } from '../sandbox/kit.ts';
import type { CarrierProvider, HttpClient, ProviderConfig, ProviderName, RateLimit } from './provider.ts';
import type { PushReader } from './push.ts';

/**
 * Everything the hub knows of one provider, exported by its folder's `index.ts` (docs/adding-a-carrier.md).
 * The registry (registry.ts) iterates the list of descriptors; nothing else names a provider.
 */
export interface ProviderDescriptor {
  name: ProviderName;
  /**
   * The carrier codes this provider is the first to ask for, each with its public tracking page: `{n}`
   * stands for the tracking number. AfterShip is asked after the primary for every code, and first for
   * the codes it lists.
   */
  carriers: Partial<Record<CarrierCode, string>>;
  /** The real API's origin, used when no `TRACKHUB_CARRIER_<PROVIDER>_BASE_URL` is configured. */
  productionOrigin: string;
  /** The provider's published call budget, used when no `TRACKHUB_CARRIER_<PROVIDER>_RATE_LIMIT` is configured. */
  defaultRateLimit: RateLimit;
  /** The API client, given an origin without a trailing slash. */
  create: (config: ProviderConfig, http: HttpClient) => CarrierProvider;
  /** How its webhooks are checked and read; absent when the provider pushes nothing the hub accepts. */
  push?: PushReader;
  /** Its API's shape in the built-in sandbox, mounted under `/sandbox/<name>`. */
  sandbox: SandboxRenderer;
}
