import { PROVIDER_NAMES, type ProviderConfig, type ProviderName, type RateLimit } from './provider.ts';
import { createProvider, PROVIDERS } from './registry.ts';

/**
 * What the operators' carrier view (GET /admin/v1/carriers) may know of a provider's configuration:
 * whether it runs, its budget, how many numbers one call carries, and whether a webhook secret is set.
 * Never a credential or a secret itself: the routes get this instead of the carriers' configuration.
 */
export interface ProviderSettings {
  /** Credentials (or an explicit origin, or the sandbox) configured: the poller asks it. */
  usable: boolean;
  rateLimit: RateLimit;
  /** Tracking numbers one API call carries (the client's maxBatch). */
  maxBatch: number;
  /** A webhook secret is set and the provider has a push reader: POST /carriers/v1/{provider}/webhook takes pushes. */
  webhookConfigured: boolean;
}

/** A client is built only to read its maxBatch; it is never asked anything. */
const neverCalled = () => Promise.reject(new Error('not for calls'));

/** The settings of every provider, from the configurations the hub hands the poller (src/hub.ts providerConfigs). */
export function providerSettings(
  configs: Record<ProviderName, ProviderConfig & { usable: boolean }>,
): Record<ProviderName, ProviderSettings> {
  const out = {} as Record<ProviderName, ProviderSettings>;
  for (const name of PROVIDER_NAMES) {
    const c = configs[name];
    out[name] = {
      usable: c.usable,
      // The hub always sets one (the configured budget, else the sandbox's or the provider's published one).
      rateLimit: c.rateLimit ?? PROVIDERS[name].defaultRateLimit,
      maxBatch: createProvider(name, { baseUrl: 'http://127.0.0.1' }, neverCalled).maxBatch,
      // As the webhook route decides it: a reader and a secret (carrier-webhooks.ts).
      webhookConfigured: Boolean(c.webhookSecret) && PROVIDERS[name].push !== undefined,
    };
  }
  return out;
}
