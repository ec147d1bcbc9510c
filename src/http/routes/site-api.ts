import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { CARRIER_CODES } from '../../domain/carriers.ts';
import { ApiError, type ErrorCode } from '../../domain/errors.ts';
import { type SiteEventInput, validateSiteEvent } from '../../sites/events.ts';
import { ingestEvents } from '../../sites/ingest.ts';
import { refuseRepeatedCredential } from '../admin-auth.ts';
import type { RouteDeps } from '../app.ts';
import { siteEventLimits } from '../limits.ts';
import { isJson, JSON_ONLY, utf8BodyParser } from '../media-types.ts';
import { errorResponses, oneOf } from '../schemas.ts';

export const MAX_EVENTS_PER_CALL = 1000;
const SITE_BODY_LIMIT = 4 * 1024 * 1024;
const SiteParams = Type.Object({ siteId: Type.String() });
const SiteEvent = Type.Object(
  {
    eventId: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,128}$', description: 'unique per site; a resend with the same eventId is a duplicate' }),
    issuerId: Type.String({ pattern: '^[A-Za-z0-9_-]{10}$' }),
    cardId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,48}$' }),
    type: Type.Union([Type.Literal('CARD_SHIPPED'), Type.Literal('CARD_RETURNED')]),
    occurredAt: Type.String({ description: 'ISO 8601 date-time with offset' }),
    carrier: Type.Optional(oneOf(CARRIER_CODES)),
    trackingNumber: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{4,40}$' })),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

export const SiteEventsBody = Type.Object({ events: Type.Array(SiteEvent, { minItems: 1, maxItems: MAX_EVENTS_PER_CALL }) }, { additionalProperties: false });

export const SiteEventsResult = Type.Object({
  accepted: Type.Integer({ description: 'new events stored' }),
  duplicates: Type.Integer({ description: 'events whose eventId this site had already sent' }),
  rejected: Type.Array(Type.Object({ index: Type.Integer(), errorCode: Type.String(), error: Type.String() }), { description: 'bad events, each rejected alone; the others are kept' }),
});

export interface Rejection {
  index: number;
  errorCode: ErrorCode;
  error: string;
}

/** Checks each event on its own: the good ones go on, each bad one is reported with its index. */
export function splitEvents(events: unknown[], now: number): { good: SiteEventInput[]; goodIndex: number[]; rejected: Rejection[] } {
  const good: SiteEventInput[] = [];
  const goodIndex: number[] = [];
  const rejected: Rejection[] = [];
  events.forEach((raw, index) => {
    const checked = validateSiteEvent(raw, now);
    if (checked.ok) {
      good.push(checked.value);
      goodIndex.push(index);
    } else rejected.push({ index, errorCode: checked.errorCode, error: checked.error });
  });
  return { good, goodIndex, rejected };
}

/** The Site API (docs/contract.md §4): production sites report shipped and returned cards. */
export function registerSiteApi(untyped: FastifyInstance, deps: RouteDeps): void {
  // Handlers read params, query and body as their schemas declare them (TypeBox type provider).
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const keys = deps.siteKeys;
  const siteLimits = siteEventLimits(deps.config.siteRateLimit, MAX_EVENTS_PER_CALL);

  // Before the body is read: a caller without a valid key never gets 4 MiB parsed.
  async function authorise(given: string | string[] | undefined, params: Static<typeof SiteParams>): Promise<void> {
    if (typeof given !== 'string' || given.length === 0 || given.length > 200) throw new ApiError('AUTHORIZER_UNAUTHORIZED', 'x-api-key header required');
    const siteId = await keys.siteOf(given);
    if (!siteId) throw new ApiError('AUTHORIZER_UNAUTHORIZED', 'unknown API key');
    if (siteId !== params.siteId) throw new ApiError('FORBIDDEN', 'this API key belongs to another production site');
  }

  // In a scope of its own, the route parses JSON without the app's prototype-poisoning check: a
  // `__proto__` key in one event must reject that event alone (validateSiteEvent refuses unknown keys),
  // not the whole batch. JSON.parse makes such a key a plain own property; nothing here merges objects.
  app.register(async (untypedScope) => {
    const scope = untypedScope.withTypeProvider<TypeBoxTypeProvider>();
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: SITE_BODY_LIMIT },
      utf8BodyParser((_req, text, done) => {
        try {
          done(null, JSON.parse(text));
        } catch (err) {
          done(err as Error, undefined);
        }
      }),
    );

    scope.post(
      '/sites/v1/production-sites/:siteId/events',
      {
        bodyLimit: SITE_BODY_LIMIT,
        schema: {
          tags: ['sites'],
          summary: 'Report shipped or returned cards (1 to 1000 events); bad events are rejected one by one',
          security: [{ siteApiKey: [] }],
          params: SiteParams,
          body: SiteEventsBody,
          response: { 202: SiteEventsResult, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
        },
        // Events are validated one by one below: a schema check of the whole body would reject the batch.
        validatorCompiler: () => (data: unknown) => ({ value: data }),
        onRequest: async (req) => {
          refuseRepeatedCredential(req, 'x-api-key');
          await authorise(req.headers['x-api-key'], req.params);
        },
        // The site's event budget (src/http/limits.ts): refused before the body is read once spent, then charged per event.
        preParsing: siteLimits.beforeBody,
        preHandler: siteLimits.charge,
      },
      async (req, reply) => {
        if (!isJson(req.headers['content-type'])) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', JSON_ONLY);
        // Not checked against its schema (see validatorCompiler): read as the unknown it is.
        const body: unknown = req.body;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('FIELD_INVALID_FORMAT', 'body: must be a JSON object with an events array');
        for (const key of Object.keys(body)) if (key !== 'events') throw new ApiError('FIELD_INVALID_VALUE', `${key}: is not a field of this request`);
        const events = 'events' in body ? body.events : undefined;
        if (!Array.isArray(events)) throw new ApiError('FIELD_INVALID_FORMAT', 'events: must be an array');
        if (events.length < 1 || events.length > MAX_EVENTS_PER_CALL) throw new ApiError('FIELD_INVALID_FORMAT', `events: must hold 1 to ${MAX_EVENTS_PER_CALL} events`);
        const { siteId } = req.params;
        const { good, goodIndex, rejected } = splitEvents(events, deps.hub.now().getTime());
        const counts = good.length > 0 ? await ingestEvents(deps.hub, siteId, good) : { accepted: 0, duplicates: 0, rejected: [] };
        // Events the store refused (another site's card) join the invalid ones, in the caller's order.
        for (const r of counts.rejected) rejected.push({ ...r, index: goodIndex[r.index] });
        rejected.sort((a, b) => a.index - b.index);
        // One line per batch, counts only (no card ids); an inbox file gets its own line when processed.
        req.log.info({ siteId, accepted: counts.accepted, duplicates: counts.duplicates, rejected: rejected.length }, 'site events batch stored');
        return reply.code(202).send({ accepted: counts.accepted, duplicates: counts.duplicates, rejected });
      },
    );
  });
}
