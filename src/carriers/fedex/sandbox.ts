import { randomBytes } from 'node:crypto';
import { hide, type SandboxRenderer, SandboxTokens } from '../../sandbox/kit.ts';
import { localIso, type ParcelClock, type StepKind, type VisibleStep } from '../../sandbox/scenarios.ts';

/** FedEx scan codes and texts for each scripted step, as the Track API prints them. */
const FEDEX_STEP: Record<StepKind, { code: string; derived: string; text: string; exceptionCode?: string; exceptionText?: string }> = {
  label: { code: 'OC', derived: 'IN', text: 'Shipment information sent to FedEx' },
  pickup: { code: 'PU', derived: 'PU', text: 'Picked up' },
  departed: { code: 'DP', derived: 'IT', text: 'Departed FedEx hub' },
  arrived: { code: 'AR', derived: 'IT', text: 'At local FedEx facility' },
  out_for_delivery: { code: 'OD', derived: 'OD', text: 'On FedEx vehicle for delivery' },
  failed_attempt: { code: 'DE', derived: 'DE', text: 'Delivery exception', exceptionCode: '08', exceptionText: 'Customer not available or business closed' },
  exception: { code: 'SE', derived: 'SE', text: 'Shipment exception', exceptionCode: '03', exceptionText: 'Incorrect address' },
  delivered: { code: 'DL', derived: 'DL', text: 'Delivered' },
  return_started: { code: 'RS', derived: 'RS', text: 'Return to shipper' },
  // Back at the shipper's door: FedEx prints a delivery scan; the hub reads it as RETURNED_TO_SENDER.
  returned: { code: 'DL', derived: 'DL', text: 'Delivered to shipper' },
};

function scanEvent(step: VisibleStep) {
  const s = FEDEX_STEP[step.kind];
  return {
    date: localIso(step.time, step.place.offset),
    eventType: s.code,
    eventDescription: s.text,
    exceptionCode: s.exceptionCode ?? '',
    exceptionDescription: s.exceptionText ?? '',
    scanLocation: {
      streetLines: [''],
      city: step.place.city,
      stateOrProvinceCode: step.place.state,
      postalCode: step.place.postalCode,
      countryCode: step.place.countryCode,
      residential: false,
      countryName: step.place.countryName,
    },
    derivedStatusCode: s.derived,
    derivedStatus: s.text,
  };
}

function trackResult(trackingNumber: string, clock: ParcelClock) {
  const { scenario, steps, estimatedDelivery: eta } = clock.visibleSteps(trackingNumber);
  if (scenario === 'never_found' || steps.length === 0) {
    return {
      trackingNumberInfo: { trackingNumber, trackingNumberUniqueId: '', carrierCode: '' },
      error: {
        code: 'TRACKING.TRACKINGNUMBER.NOTFOUND',
        message: "The tracking number you entered can't be found right now. Please check the number with the shipper or try again later.",
      },
    };
  }
  const latest = steps[steps.length - 1];
  const s = FEDEX_STEP[latest.kind];
  const delivered = latest.kind === 'delivered' || latest.kind === 'returned';
  return {
    trackingNumberInfo: { trackingNumber, trackingNumberUniqueId: `12029~${trackingNumber}~FDEG`, carrierCode: 'FDXE' },
    latestStatusDetail: {
      code: s.code,
      derivedCode: s.derived,
      statusByLocale: s.text,
      description: s.text,
      scanLocation: { city: latest.place.city, stateOrProvinceCode: latest.place.state, countryCode: latest.place.countryCode, residential: false, countryName: latest.place.countryName },
      ...(s.exceptionCode ? { ancillaryDetails: [{ reason: s.exceptionCode, reasonDescription: s.exceptionText }] } : {}),
    },
    dateAndTimes: [
      ...(delivered ? [{ type: 'ACTUAL_DELIVERY', dateTime: localIso(latest.time, latest.place.offset) }] : [{ type: 'ESTIMATED_DELIVERY', dateTime: localIso(eta, '-05:00') }]),
      { type: 'SHIP', dateTime: localIso(steps[0].time, steps[0].place.offset) },
    ],
    serviceDetail: { type: 'FEDEX_GROUND', description: 'FedEx Ground', shortDescription: 'FG' },
    // FedEx lists scans newest first.
    scanEvents: steps.map(scanEvent).reverse(),
  };
}

/** FedEx Track API shape: `POST /oauth/token`, `POST /track/v1/trackingnumbers`. */
export const fedexSandbox: SandboxRenderer = (app, prefix, clock) => {
  const tokens = new SandboxTokens();

  app.post(`${prefix}/oauth/token`, hide, async (req, reply) => {
    const form = req.body as Record<string, string> | undefined;
    if (form?.grant_type !== 'client_credentials' || !form.client_id || !form.client_secret) {
      return reply.code(401).send({ errors: [{ code: 'NOT.AUTHORIZED.ERROR', message: 'The given client credentials were not valid.' }] });
    }
    return { access_token: tokens.issue(), token_type: 'bearer', expires_in: 3599, scope: 'CXS' };
  });

  app.post(`${prefix}/track/v1/trackingnumbers`, hide, async (req, reply) => {
    if (!tokens.valid(req)) {
      return reply.code(401).send({ transactionId: randomBytes(8).toString('hex'), errors: [{ code: 'NOT.AUTHORIZED.ERROR', message: 'The given JWT is invalid. Please modify your request and try again.' }] });
    }
    // Whatever the caller sent: a list that is not one, or a number that is not a string, is "no number".
    const body = req.body as { trackingInfo?: unknown } | undefined;
    const list: unknown[] = Array.isArray(body?.trackingInfo) ? body.trackingInfo : [];
    const numbers = list.map((t) => {
      const n = (t as { trackingNumberInfo?: { trackingNumber?: unknown } } | null)?.trackingNumberInfo?.trackingNumber;
      return typeof n === 'string' ? n : '';
    });
    if (numbers.length === 0 || numbers.some((n) => n === '')) {
      return reply.code(400).send({ transactionId: randomBytes(8).toString('hex'), errors: [{ code: 'TRACKING.TRACKINGNUMBER.EMPTY', message: 'Please provide tracking number.' }] });
    }
    if (numbers.length > 30) {
      return reply.code(400).send({ transactionId: randomBytes(8).toString('hex'), errors: [{ code: 'TRACKING.TRACKINGNUMBER.LIMITEXCEEDED', message: 'Up to 30 tracking numbers per request.' }] });
    }
    return {
      transactionId: randomBytes(8).toString('hex'),
      output: { completeTrackResults: numbers.map((n) => ({ trackingNumber: n, trackResults: [trackResult(n, clock)] })) },
    };
  });
};
