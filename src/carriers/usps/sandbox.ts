import { hide, type SandboxRenderer, SandboxTokens } from '../../sandbox/kit.ts';
import { localIso, type ParcelClock, type StepKind } from '../../sandbox/scenarios.ts';
import { USPS_MAX_NUMBERS } from './parse.ts';

/**
 * USPS Tracking 3.2 in the sandbox: OAuth with a JSON body, and the scripted parcel stories
 * (src/sandbox/scenarios.ts) rendered as v3r2 answer items (test/fixtures/carriers/usps/).
 */

const USPS_STEP: Record<StepKind, { code: string; text: string; category: string }> = {
  label: { code: 'GX', text: 'Shipping Label Created, USPS Awaiting Item', category: 'Pre-Shipment' },
  pickup: { code: '03', text: 'USPS in possession of item', category: 'Accepted' },
  departed: { code: '10', text: 'Departed USPS Regional Facility', category: 'In Transit' },
  arrived: { code: '07', text: 'Arrived at Post Office', category: 'In Transit' },
  out_for_delivery: { code: 'OF', text: 'Out for Delivery', category: 'Out for Delivery' },
  failed_attempt: { code: '56', text: 'Notice Left (No Authorized Recipient Available)', category: 'Alert' },
  exception: { code: '05', text: 'Undeliverable as Addressed', category: 'Alert' },
  delivered: { code: '01', text: 'Delivered, In/At Mailbox', category: 'Delivered' },
  return_started: { code: '09', text: 'Return to Sender', category: 'Return to Sender' },
  returned: { code: '01', text: 'Delivered, To Original Sender', category: 'Delivered' },
};

export const uspsSandbox: SandboxRenderer = (app, prefix, clock) => {
  const tokens = new SandboxTokens();
  app.post(`${prefix}/oauth2/v3/token`, hide, async (req, reply) => {
    const body = req.body as Record<string, string> | undefined;
    if (body?.grant_type !== 'client_credentials' || !body.client_id || !body.client_secret) {
      return reply.code(401).send({ error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    return { access_token: tokens.issue(), token_type: 'Bearer', expires_in: 28799, scope: 'tracking' };
  });
  // Tracking 3.2: a JSON array of `{trackingNumber}`, one answer item per number, 207 when some failed.
  app.post(`${prefix}/tracking/v3r2/tracking`, hide, async (req, reply) => {
    if (!tokens.valid(req)) return reply.code(401).send({ error: { code: '401', message: 'Unauthorized' } });
    // Whatever the caller sent: a list that is not one, or a number that is not a string, refuses the call.
    const list: unknown[] = Array.isArray(req.body) ? req.body : [];
    const numbers = list.map((t) => (t as { trackingNumber?: unknown } | null)?.trackingNumber);
    if (numbers.length === 0 || numbers.length > USPS_MAX_NUMBERS || !numbers.every((n): n is string => typeof n === 'string' && n !== '')) {
      const text = `Send 1 to ${USPS_MAX_NUMBERS} items, each with a trackingNumber.`;
      return reply.code(400).send({ apiVersion: '/tracking/v3r2', error: { code: '400', message: text, errors: [{ title: text, detail: '', code: '400' }] } });
    }
    const items = numbers.map((n) => trackingItem(n, clock));
    const failed = items.filter((i) => 'error' in i).length;
    // One number USPS cannot answer is a plain 400, as Tracking 3.0 answered it; a mixed list is a 207.
    if (numbers.length === 1 && failed === 1) return reply.code(400).send(items[0]);
    return reply.code(failed > 0 ? 207 : 200).send(items);
  });
};

/** One number's item of a Tracking 3.2 answer: its v3 tracking body, or its error envelope. */
function trackingItem(n: string, clock: ParcelClock) {
  const { steps, estimatedDelivery } = clock.visibleSteps(n);
  if (steps.length === 0) {
    const text = '12: A status update is not yet available on your package. Check back soon.';
    return { trackingNumber: n, statusCode: '400', apiVersion: '/tracking/v3r2', error: { code: '400', message: text, errors: [{ title: text, detail: '', code: '150001' }] } };
  }
  const latest = USPS_STEP[steps[steps.length - 1].kind];
  const eta = localIso(estimatedDelivery, '-05:00').slice(0, 19);
  return {
    trackingNumber: n,
    statusCode: '200',
    destinationCity: 'NEW YORK',
    destinationState: 'NY',
    destinationZIP: '10001',
    mailClass: 'USPS Ground Advantage',
    status: latest.text,
    statusCategory: latest.category,
    statusSummary: latest.text,
    ...(latest.category === 'Delivered' ? {} : { expectedDeliveryTimeStamp: eta }),
    trackingEvents: steps
      .map((step) => {
        const s = USPS_STEP[step.kind];
        return {
          eventType: s.text,
          eventTimestamp: localIso(step.time, step.place.offset).slice(0, 19),
          GMTOffset: step.place.offset,
          eventCountry: null,
          eventCity: step.place.city,
          eventState: step.place.state ?? null,
          eventZIP: step.place.postalCode,
          eventCode: s.code,
        };
      })
      .reverse(),
  };
}
