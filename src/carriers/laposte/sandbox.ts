import { hide, type SandboxRenderer } from '../../sandbox/kit.ts';
import { localIso, type ParcelClock, type StepKind } from '../../sandbox/scenarios.ts';
import { LAPOSTE_MAX_IDS } from './parse.ts';

/**
 * La Poste Suivi v2 in the sandbox: an `X-Okapi-Key` header, and the scripted parcel stories
 * (src/sandbox/scenarios.ts) rendered in the Suivi v2 shape (test/fixtures/carriers/laposte/).
 */

const LAPOSTE_STEP: Record<StepKind, { code: string; text: string }> = {
  label: { code: 'DR1', text: 'Your parcel is ready to be sent.' },
  pickup: { code: 'PC1', text: 'Your parcel has been taken in charge by La Poste.' },
  departed: { code: 'ET1', text: 'Your parcel is being processed.' },
  arrived: { code: 'ET3', text: 'Your parcel has arrived at its delivery site.' },
  out_for_delivery: { code: 'MD2', text: 'Your parcel is out for delivery.' },
  failed_attempt: { code: 'ND1', text: 'We could not deliver your parcel: the recipient was absent.' },
  exception: { code: 'PB1', text: 'Your parcel has a problem: the address is incomplete.' },
  delivered: { code: 'DI1', text: 'Your parcel has been delivered.' },
  return_started: { code: 'RE1', text: 'Your parcel is being returned to the sender.' },
  returned: { code: 'DI2', text: 'Your parcel has been delivered back to the sender.' },
};

export const laposteSandbox: SandboxRenderer = (app, prefix, clock) => {
  // `/idships/{id}` answers one object; `/idships/{id1,…,id10}` an array of them, 207 when their codes differ.
  // A wildcard, not `:ids`: ten ids with their commas are longer than a route parameter may be (100 characters).
  app.get(`${prefix}/suivi/v2/idships/*`, hide, async (req, reply) => {
    if (!req.headers['x-okapi-key']) return reply.code(401).send({ code: 'UNAUTHORIZED', message: 'The API key is missing or invalid' });
    const ids = (req.params as { '*': string })['*'].split(',');
    if (ids.length > LAPOSTE_MAX_IDS || ids.some((id) => id === '')) {
      return reply.code(400).send({ returnCode: 400, returnMessage: `Between 1 and ${LAPOSTE_MAX_IDS} identifiers, comma separated.`, lang: 'en_GB', scope: 'open' });
    }
    const items = ids.map((id) => shipmentItem(id, clock));
    if (ids.length === 1) return reply.code(items[0].returnCode).send(items[0]);
    return reply.code(items.every((i) => i.returnCode === 200) ? 200 : 207).send(items);
  });
};

function shipmentItem(id: string, clock: ParcelClock) {
  const { steps, estimatedDelivery } = clock.visibleSteps(id);
  if (steps.length === 0) {
    return { returnCode: 404, returnMessage: "Le numéro de suivi n'est pas trouvé.", lang: 'en_GB', scope: 'open', idShip: id };
  }
  const final = steps.at(-1)?.kind === 'delivered' || steps.at(-1)?.kind === 'returned';
  return {
    lang: 'en_GB',
    scope: 'open',
    returnCode: 200,
    shipment: {
      idShip: id,
      product: 'colissimo',
      isFinal: final,
      entryDate: localIso(steps[0].time, steps[0].place.offset),
      ...(final ? {} : { estimDate: localIso(estimatedDelivery, '+01:00') }),
      event: steps.map((step) => ({ code: LAPOSTE_STEP[step.kind].code, label: LAPOSTE_STEP[step.kind].text, date: localIso(step.time, step.place.offset) })).reverse(),
      contextData: { originCountry: steps[0].place.countryCode, arrivalCountry: 'US' },
    },
  };
}
