import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hide, type SandboxRenderer } from '../../sandbox/kit.ts';
import { localIso, type StepKind } from '../../sandbox/scenarios.ts';
import { AFTERSHIP_API_VERSION } from './client.ts';

/**
 * The sandbox of the AfterShip Tracking API 2026-07: trackings registered with POST /trackings, then
 * read by id or by number, rendering the scripted parcel stories (src/sandbox/scenarios.ts) in AfterShip's shape,
 * behind an `as-api-key` header like the real API.
 */

/** Trackings one sandbox remembers. */
const MAX_TRACKINGS = 100_000;
/** Longest tracking number or slug a sandbox tracking takes (real ones are under 40 characters). */
const MAX_FIELD_LENGTH = 64;

const AFTERSHIP_STEP: Record<StepKind, { tag: string; subtag: string; text: string }> = {
  label: { tag: 'InfoReceived', subtag: 'InfoReceived_001', text: 'Shipment information received' },
  pickup: { tag: 'InTransit', subtag: 'InTransit_002', text: 'Picked up' },
  departed: { tag: 'InTransit', subtag: 'InTransit_007', text: 'Departed facility' },
  arrived: { tag: 'InTransit', subtag: 'InTransit_003', text: 'Arrival scan' },
  out_for_delivery: { tag: 'OutForDelivery', subtag: 'OutForDelivery_001', text: 'Out for delivery' },
  failed_attempt: { tag: 'AttemptFail', subtag: 'AttemptFail_002', text: 'Customer not available' },
  exception: { tag: 'Exception', subtag: 'Exception_002', text: 'Incorrect address' },
  delivered: { tag: 'Delivered', subtag: 'Delivered_001', text: 'Delivered' },
  return_started: { tag: 'Exception', subtag: 'Exception_010', text: 'Returning to sender' },
  returned: { tag: 'Exception', subtag: 'Exception_011', text: 'Returned to sender' },
};

const ISO3: Record<string, string> = { US: 'USA', FR: 'FRA', DE: 'DEU', ES: 'ESP', SG: 'SGP', MX: 'MEX' };

export const aftershipSandbox: SandboxRenderer = (app, prefix, clock) => {
  const root = `${prefix}/tracking/${AFTERSHIP_API_VERSION}`;
  // id → tracking registered with POST /trackings; bounded, oldest first out (the ids come from callers)
  const byId = new Map<string, { id: string; tracking_number: string; slug: string; created_at: string }>();
  const idOf = (n: string, slug: string) => [...byId.values()].find((t) => t.tracking_number === n && t.slug === slug);
  const meta = (code: number, message: string, type: string) => ({ code, message, type });

  const render = (t: { id: string; tracking_number: string; slug: string; created_at: string }) => {
    const { steps, estimatedDelivery } = clock.visibleSteps(t.tracking_number);
    const latest = steps.at(-1);
    const s = latest ? AFTERSHIP_STEP[latest.kind] : undefined;
    const done = latest?.kind === 'delivered' || latest?.kind === 'returned';
    return {
      ...t,
      tag: s?.tag ?? 'Pending',
      subtag: s?.subtag ?? 'Pending_001',
      subtag_message: s?.text ?? 'Pending',
      destination_country_region: 'USA',
      ...(steps.length && !done
        ? { courier_estimated_delivery_date: { estimated_delivery_date: localIso(estimatedDelivery, '-05:00').slice(0, 10) } }
        : {}),
      checkpoints: steps.map((step) => ({
        checkpoint_time: localIso(step.time, step.place.offset),
        message: AFTERSHIP_STEP[step.kind].text,
        tag: AFTERSHIP_STEP[step.kind].tag,
        subtag: AFTERSHIP_STEP[step.kind].subtag,
        raw_tag: AFTERSHIP_STEP[step.kind].subtag,
        city: step.place.city,
        state: step.place.state ?? null,
        zip: step.place.postalCode,
        country_region: ISO3[step.place.countryCode] ?? null,
        country_region_name: step.place.countryName,
      })),
    };
  };
  const authorised = (req: FastifyRequest, reply: FastifyReply) => {
    if (req.headers['as-api-key']) return true;
    void reply.code(401).send({ meta: meta(401, 'Invalid API key.', 'Unauthorized'), data: {} });
    return false;
  };

  app.post(`${root}/trackings`, hide, async (req, reply) => {
    if (!authorised(req, reply)) return reply;
    const body = req.body as { tracking_number?: unknown; slug?: unknown } | undefined;
    const fits = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_FIELD_LENGTH;
    if (!fits(body?.tracking_number) || !fits(body?.slug)) return reply.code(400).send({ meta: meta(4007, 'tracking_number is required.', 'BadRequest'), data: {} });
    const known = idOf(body.tracking_number, body.slug);
    if (known) return reply.code(400).send({ meta: meta(4003, 'Tracking already exists.', 'BadRequest'), data: { tracking: known } });
    const t = { id: randomBytes(16).toString('hex'), tracking_number: body.tracking_number, slug: body.slug, created_at: new Date().toISOString() };
    byId.set(t.id, t);
    if (byId.size > MAX_TRACKINGS) byId.delete(byId.keys().next().value as string);
    return reply.code(201).send({ meta: meta(201, 'Created', 'Created'), data: render(t) });
  });
  app.get(`${root}/trackings/:id`, hide, async (req, reply) => {
    if (!authorised(req, reply)) return reply;
    const t = byId.get((req.params as { id: string }).id);
    if (!t) return reply.code(404).send({ meta: meta(4004, 'Tracking does not exist.', 'NotFound'), data: {} });
    return { meta: meta(200, 'OK', 'OK'), data: render(t) };
  });
  app.get(`${root}/trackings`, hide, async (req, reply) => {
    if (!authorised(req, reply)) return reply;
    const q = req.query as { tracking_numbers?: string; slug?: string };
    const t = q.tracking_numbers && q.slug ? idOf(q.tracking_numbers, q.slug) : undefined;
    return { meta: meta(200, 'OK', 'OK'), data: { trackings: t ? [render(t)] : [] } };
  });
};
