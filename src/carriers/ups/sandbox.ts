import { hide, type SandboxRenderer, SandboxTokens } from '../../sandbox/kit.ts';
import { localIso, type Place, type StepKind, type VisibleStep } from '../../sandbox/scenarios.ts';

/**
 * The UPS Track API in the sandbox: OAuth with HTTP Basic, Track Alert subscriptions, and the scripted
 * parcel stories (src/sandbox/scenarios.ts) rendered in the Track API's shape (test/fixtures/carriers/ups/).
 */

/** `YYYYMMDD` and `HHMMSS` of the local wall clock at the place (UPS style). */
function upsDateTime(time: Date, place: Place): { date: string; time: string } {
  const iso = localIso(time, place.offset);
  return { date: iso.slice(0, 10).replace(/-/g, ''), time: iso.slice(11, 19).replace(/:/g, '') };
}

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

export const upsSandbox: SandboxRenderer = (app, prefix, clock) => {
  const tokens = new SandboxTokens();
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
    const { steps, estimatedDelivery } = clock.visibleSteps(n);
    if (steps.length === 0) {
      return { trackResponse: { shipment: [{ inquiryNumber: n, warnings: [{ code: 'TW0001', message: 'Tracking Information Not Found' }] }] } };
    }
    const latest = UPS_STEP[steps[steps.length - 1].kind];
    const done = steps.at(-1)?.kind === 'delivered' || steps.at(-1)?.kind === 'returned';
    const eta = upsDateTime(estimatedDelivery, steps[0].place);
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
};
