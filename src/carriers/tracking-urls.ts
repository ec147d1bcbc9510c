import type { CarrierCode } from '../domain/carriers.ts';

/**
 * Public tracking page per carrier (the carriers' public tracking pages). Where no deep-link template is confirmed
 * (Correos, SEUR, NACEX, SingPost) the carrier's own lookup page is given without the number rather than
 * a guessed query parameter that might show the wrong parcel or an error page.
 */
const TEMPLATES: Record<CarrierCode, string> = {
  ups: 'https://www.ups.com/track?loc=en_US&tracknum={n}',
  fedex: 'https://www.fedex.com/fedextrack/?trknbr={n}',
  'usps-iv-api': 'https://tools.usps.com/go/TrackConfirmAction?tLabels={n}',
  dhl: 'https://www.dhl.com/en/express/tracking.html?AWB={n}&brand=DHL',
  'dhl-global-mail': 'https://webtrack.dhlecs.com/?trackingnumber={n}',
  'deutsch-post': 'https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode={n}',
  'la-poste-colissimo': 'https://www.laposte.fr/outils/suivre-vos-envois?code={n}',
  'chronopost-france': 'https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={n}',
  estafeta: 'https://cs.estafeta.com/es/Tracking/searchByGet?wayBill={n}&wayBillType=0&isShipmentDetail=True',
  'spain-correos-es': 'https://www.correos.es/es/es/herramientas/localizador',
  'spanish-seur': 'https://www.seur.com/miseur/mis-envios',
  nacex: 'https://www.nacex.es/',
  'singapore-post': 'https://www.singpost.com/track-items',
};

export function trackingUrl(carrier: CarrierCode, trackingNumber: string): string {
  return TEMPLATES[carrier].replace('{n}', encodeURIComponent(trackingNumber.trim()));
}
