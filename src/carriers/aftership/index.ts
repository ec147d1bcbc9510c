import type { ProviderDescriptor } from '../descriptor.ts';
import { AftershipProvider } from './client.ts';
import { aftershipPush } from './push.ts';
import { aftershipSandbox } from './sandbox.ts';

/**
 * AfterShip Tracking API: the fallback for every carrier, and the only route for carriers without a
 * public API. Where no deep-link template is confirmed (Correos, SEUR, NACEX, SingPost) the tracking page
 * is the carrier's own lookup page without the number, rather than a guessed query parameter that might
 * show the wrong parcel or an error page.
 */
export const aftership: ProviderDescriptor = {
  name: 'aftership',
  carriers: {
    estafeta: 'https://cs.estafeta.com/es/Tracking/searchByGet?wayBill={n}&wayBillType=0&isShipmentDetail=True',
    'spain-correos-es': 'https://www.correos.es/es/es/herramientas/localizador',
    'spanish-seur': 'https://www.seur.com/miseur/mis-envios',
    nacex: 'https://www.nacex.es/',
    'singapore-post': 'https://www.singpost.com/track-items',
  },
  productionOrigin: 'https://api.aftership.com',
  // AfterShip allows 10 calls per second.
  defaultRateLimit: { count: 10, perMs: 1_000 },
  create: (config, http) => new AftershipProvider(config, http),
  push: aftershipPush,
  sandbox: aftershipSandbox,
};
