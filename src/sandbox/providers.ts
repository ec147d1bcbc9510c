import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { registerAftership } from './aftership.ts';
import { localIso, type ParcelClock, type Place, type StepKind, type VisibleStep } from './scenarios.ts';

/**
 * The sandbox for UPS, USPS, DHL Unified and La Poste Suivi v2 (AfterShip: aftership.ts): each renders the same scripted
 * parcel stories (scenarios.ts) in its own API shape, behind the same kind of credentials as the real API.
 * The shapes follow the fixtures in test/fixtures/carriers/<provider>/ (see their READMEs for the docs).
 */

const hide = { schema: { hide: true } };
const hours = (ms: number) => ms * 3_600_000;

/** Bearer tokens issued by one sandbox token endpoint. */
class Tokens {
  private readonly issued = new Set<string>();
  issue(): string {
    const token = randomBytes(24).toString('base64url');
    this.issued.add(token);
    return token;
  }
  valid(req: FastifyRequest): boolean {
    const token = req.headers.authorization?.replace(/^Bearer /i, '');
    return Boolean(token && this.issued.has(token));
  }
}

/** `YYYYMMDD` and `HHMMSS` of the local wall clock at the place (UPS style). */
function upsDateTime(time: Date, place: Place): { date: string; time: string } {
  const iso = localIso(time, place.offset);
  return { date: iso.slice(0, 10).replace(/-/g, ''), time: iso.slice(11, 19).replace(/:/g, '') };
}

// ---------------------------------------------------------------- UPS Track API

const UPS_STEP: Record<StepKind, { type: string; code?: string; statusCode?: string; text: string }> = {
  label: { type: 'M', code: 'MP', statusCode: '003', text: 'Shipper created a label, UPS has not received the package yet.' },
  pickup: { type: 'P', code: 'PU', statusCode: '038', text: 'Pickup Scan' },
  departed: { type: 'I', code: 'DP', statusCode: '005', text: 'Departed from Facility' },
  arrived: { type: 'I', code: 'AR', statusCode: '005', text: 'Arrived at Facility' },
  out_for_delivery: { type: 'I', code: 'OT', statusCode: '021', text: 'Out For Delivery Today' },
  // Exceptions are sent with type X; the 2-letter codes of these two are not in our table, so none is given.
  failed_attempt: { type: 'X', text: 'The receiver was not available for delivery. We will make a second attempt the next business day.' },
  exception: { type: 'X', text: 'The address is incorrect. We are attempting to obtain a corrected address.' },
  delivered: { type: 'D', code: 'FS', statusCode: '011', text: 'DELIVERED' },
  return_started: { type: 'RS', text: 'Returned to shipper' },
  returned: { type: 'D', code: 'FS', statusCode: '011', text: 'DELIVERED' },
};

function upsActivity(step: VisibleStep) {
  const s = UPS_STEP[step.kind];
  return {
    location: { address: { city: step.place.city, stateProvince: step.place.state ?? '', postalCode: step.place.postalCode, countryCode: step.place.countryCode, country: step.place.countryCode } },
    status: { type: s.type, description: s.text, ...(s.code ? { code: s.code } : {}), ...(s.statusCode ? { statusCode: s.statusCode } : {}) },
    ...upsDateTime(step.time, step.place),
  };
}

function registerUps(app: FastifyInstance, prefix: string, clock: ParcelClock): void {
  const tokens = new Tokens();
  app.post(`${prefix}/security/v1/oauth/token`, hide, async (req, reply) => {
    const basic = req.headers.authorization?.match(/^Basic (.+)$/)?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
    if (!id || !secret || (req.body as Record<string, string> | undefined)?.grant_type !== 'client_credentials') {
      return reply.code(401).send({ response: { errors: [{ code: '10401', message: 'ClientId is Invalid' }] } });
    }
    return { token_type: 'Bearer', issued_at: String(Date.now()), client_id: id, access_token: tokens.issue(), expires_in: '14399', status: 'approved' };
  });
  // Track Alert subscriptions are accepted for well-formed 1Z numbers; the sandbox does not push.
  app.post(`${prefix}/api/track/v1/subscription/standard/package`, hide, async (req, reply) => {
    if (!tokens.valid(req)) return reply.code(401).send({ response: { errors: [{ code: 'UJ0001', message: 'Invalid token or token is not present.' }] } });
    const list = (req.body as { trackingNumberList?: unknown } | undefined)?.trackingNumberList;
    if (!Array.isArray(list) || list.length === 0) return reply.code(400).send({ response: { errors: [{ code: 'VSS200', message: 'Tracking Number List is required.' }] } });
    const valid = list.filter((n): n is string => typeof n === 'string' && /^1Z[0-9A-Z]{16}$/.test(n));
    return { validTrackingNumbers: valid, invalidTrackingNumbers: list.filter((n) => !valid.includes(n as string)) };
  });
  app.get(`${prefix}/api/track/v1/details/:inquiryNumber`, hide, async (req, reply) => {
    if (!tokens.valid(req)) return reply.code(401).send({ response: { errors: [{ code: '250002', message: 'Invalid Authentication Information.' }] } });
    const n = (req.params as { inquiryNumber: string }).inquiryNumber;
    const { steps } = clock.visibleSteps(n);
    if (steps.length === 0) {
      return { trackResponse: { shipment: [{ inquiryNumber: n, warnings: [{ code: 'TW0001', message: 'Tracking Information Not Found' }] }] } };
    }
    const latest = UPS_STEP[steps[steps.length - 1].kind];
    const done = steps.at(-1)?.kind === 'delivered' || steps.at(-1)?.kind === 'returned';
    const eta = upsDateTime(new Date(steps[0].time.getTime() + hours(130)), steps[0].place);
    return {
      trackResponse: {
        shipment: [
          {
            inquiryNumber: n,
            package: [
              {
                trackingNumber: n,
                deliveryDate: done ? [] : [{ type: 'SDD', date: eta.date }],
                activity: steps.map(upsActivity).reverse(),
                currentStatus: { type: latest.type, code: latest.statusCode ?? '', description: latest.text, simplifiedTextDescription: latest.text },
                packageCount: 1,
              },
            ],
          },
        ],
      },
    };
  });
}

// ---------------------------------------------------------------- USPS Tracking v3

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

function registerUsps(app: FastifyInstance, prefix: string, clock: ParcelClock): void {
  const tokens = new Tokens();
  app.post(`${prefix}/oauth2/v3/token`, hide, async (req, reply) => {
    const body = req.body as Record<string, string> | undefined;
    if (body?.grant_type !== 'client_credentials' || !body.client_id || !body.client_secret) {
      return reply.code(401).send({ error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    return { access_token: tokens.issue(), token_type: 'Bearer', expires_in: 28799, scope: 'tracking' };
  });
  app.get(`${prefix}/tracking/v3/tracking/:trackingNumber`, hide, async (req, reply) => {
    if (!tokens.valid(req)) return reply.code(401).send({ error: { code: '401', message: 'Unauthorized' } });
    const n = (req.params as { trackingNumber: string }).trackingNumber;
    const { steps } = clock.visibleSteps(n);
    if (steps.length === 0) {
      const text = '12: A status update is not yet available on your package. Check back soon.';
      return reply.code(400).send({ apiVersion: '/tracking/v3', error: { code: '400', message: text, errors: [{ title: text, detail: '', code: '150001' }] } });
    }
    const latest = USPS_STEP[steps[steps.length - 1].kind];
    const eta = localIso(new Date(steps[0].time.getTime() + hours(130)), '-05:00').slice(0, 19);
    return {
      trackingNumber: n,
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
  });
}

// ---------------------------------------------------------------- DHL Shipment Tracking – Unified

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

function registerDhl(app: FastifyInstance, prefix: string, clock: ParcelClock): void {
  app.get(`${prefix}/track/shipments`, hide, async (req, reply) => {
    if (!req.headers['dhl-api-key']) return reply.code(401).send({ title: 'Unauthorized', status: 401, detail: 'Invalid API key' });
    const q = req.query as { trackingNumber?: string; service?: string };
    if (!q.trackingNumber) return reply.code(400).send({ title: 'Bad Request', status: 400, detail: 'trackingNumber is required' });
    const { steps } = clock.visibleSteps(q.trackingNumber);
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
          ...(done ? {} : { estimatedTimeOfDelivery: localIso(new Date(steps[0].time.getTime() + hours(130)), '-05:00') }),
          events: steps.map(dhlEvent).reverse(),
        },
      ],
    };
  });
}

// ---------------------------------------------------------------- La Poste Suivi v2

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

function registerLaPoste(app: FastifyInstance, prefix: string, clock: ParcelClock): void {
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
}

export function registerOtherSandboxes(app: FastifyInstance, prefixOf: (provider: string) => string, clock: ParcelClock): void {
  registerUps(app, prefixOf('ups'), clock);
  registerUsps(app, prefixOf('usps'), clock);
  registerDhl(app, prefixOf('dhl'), clock);
  registerLaPoste(app, prefixOf('laposte'), clock);
  registerAftership(app, prefixOf('aftership'), clock);
}
