import { hide, type SandboxRenderer } from '../../sandbox/kit.ts';
import { localIso, type StepKind, type VisibleStep } from '../../sandbox/scenarios.ts';

/**
 * DHL Shipment Tracking – Unified in the sandbox: a `DHL-API-Key` header, and the scripted parcel stories
 * (src/sandbox/scenarios.ts) rendered in the Unified shape (test/fixtures/carriers/dhl/).
 */

const DHL_STEP: Record<StepKind, { statusCode: string; status: string; text: string }> = {
  label: { statusCode: 'pre-transit', status: 'PL', text: 'Shipment information received' },
  pickup: { statusCode: 'transit', status: 'PU', text: 'Shipment picked up' },
  departed: { statusCode: 'transit', status: 'DF', text: 'Departed Facility' },
  arrived: { statusCode: 'transit', status: 'AR', text: 'Arrived at Delivery Facility' },
  out_for_delivery: { statusCode: 'transit', status: 'WC', text: 'With delivery courier' },
  failed_attempt: { statusCode: 'failure', status: 'NH', text: 'Delivery attempted; recipient not home' },
  exception: { statusCode: 'failure', status: 'OH', text: 'Shipment on hold' },
  delivered: { statusCode: 'delivered', status: 'OK', text: 'Delivered' },
  return_started: { statusCode: 'failure', status: 'RT', text: 'Returned to shipper' },
  returned: { statusCode: 'delivered', status: 'OK', text: 'Delivered to the shipper' },
};

function dhlEvent(step: VisibleStep) {
  const s = DHL_STEP[step.kind];
  return {
    timestamp: localIso(step.time, step.place.offset),
    location: { address: { countryCode: step.place.countryCode, postalCode: step.place.postalCode, addressLocality: step.place.city } },
    statusCode: s.statusCode,
    status: s.status,
    description: s.text,
  };
}

export const dhlSandbox: SandboxRenderer = (app, prefix, clock) => {
  app.get(`${prefix}/track/shipments`, hide, async (req, reply) => {
    if (!req.headers['dhl-api-key']) return reply.code(401).send({ title: 'Unauthorized', status: 401, detail: 'Invalid API key' });
    const q = req.query as { trackingNumber?: string; service?: string };
    if (!q.trackingNumber) return reply.code(400).send({ title: 'Bad Request', status: 400, detail: 'trackingNumber is required' });
    const { steps, estimatedDelivery } = clock.visibleSteps(q.trackingNumber);
    if (steps.length === 0) {
      return reply.code(404).type('application/problem+json').send({ title: 'No result found', detail: 'No shipment with given tracking number found.', status: 404 });
    }
    const done = steps.at(-1)?.kind === 'delivered' || steps.at(-1)?.kind === 'returned';
    const first = steps[0].place;
    return {
      shipments: [
        {
          id: q.trackingNumber,
          service: q.service ?? 'express',
          origin: { address: { countryCode: first.countryCode, postalCode: first.postalCode, addressLocality: first.city } },
          destination: { address: { countryCode: 'US', postalCode: '10001', addressLocality: 'NEW YORK' } },
          status: dhlEvent(steps[steps.length - 1]),
          ...(done ? {} : { estimatedTimeOfDelivery: localIso(estimatedDelivery, '-05:00') }),
          events: steps.map(dhlEvent).reverse(),
        },
      ],
    };
  });
};
