import type { ProviderDescriptor } from '../descriptor.ts';
import { LaPosteProvider } from './client.ts';
import { laposteSandbox } from './sandbox.ts';

/** La Poste Suivi v2 (an Okapi key, one number a call), for Colissimo and Chronopost; no pushes. */
export const laposte: ProviderDescriptor = {
  name: 'laposte',
  carriers: {
    'la-poste-colissimo': 'https://www.laposte.fr/outils/suivre-vos-envois?code={n}',
    'chronopost-france': 'https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={n}',
  },
  productionOrigin: 'https://api.laposte.fr',
  // La Poste publishes no figure: 10 per second.
  defaultRateLimit: { count: 10, perMs: 1_000 },
  create: (config, http) => new LaPosteProvider(config, http),
  sandbox: laposteSandbox,
};
