import { hide, hours, type SandboxRenderer } from '../../sandbox/kit.ts';
import { localIso, type StepKind } from '../../sandbox/scenarios.ts';

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
  app.get(`${prefix}/suivi/v2/idships/:id`, hide, async (req, reply) => {
    if (!req.headers['x-okapi-key']) return reply.code(401).send({ code: 'UNAUTHORIZED', message: 'The API key is missing or invalid' });
    const id = (req.params as { id: string }).id;
    const { steps } = clock.visibleSteps(id);
    if (steps.length === 0) {
      return reply.code(404).send({ returnCode: 404, returnMessage: "Le numéro de suivi n'est pas trouvé.", lang: 'en_GB', scope: 'open', idShip: id });
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
        ...(final ? {} : { estimDate: localIso(new Date(steps[0].time.getTime() + hours(130)), '+01:00') }),
        event: steps.map((step) => ({ code: LAPOSTE_STEP[step.kind].code, label: LAPOSTE_STEP[step.kind].text, date: localIso(step.time, step.place.offset) })).reverse(),
        contextData: { originCountry: steps[0].place.countryCode, arrivalCountry: 'US' },
      },
    };
  });
};
