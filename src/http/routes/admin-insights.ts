import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../domain/errors.ts';
import { parseTime } from '../../domain/time.ts';
import { type InsightsWindow, insightsSummary, siteInsights } from '../../store/insights.ts';
import { adminRoute } from '../admin-auth.ts';
import type { HttpDeps } from '../app.ts';
import { errorResponses, Nullable } from '../schemas.ts';

const HOUR_MS = 3_600_000;
/** The longest window: a month of hours is what a chart shows, and it bounds what one request reads. */
const MAX_WINDOW_MS = 31 * 24 * HOUR_MS;
/** An ISO 8601 time with its offset: a time without one would be read in the hub's zone, and every view is UTC. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

const Query = Type.Object(
  {
    from: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 time with offset (default: 24 hours before `to`)' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 time with offset, excluded (default: now)' })),
  },
  { additionalProperties: false },
);

/** The domain's ISO reader (it refuses a day its month lacks), held to a time with its offset. */
function timeParam(name: string, value: string): Date {
  const t = ISO_TIME.test(value) ? parseTime(value) : undefined;
  if (!t) throw new ApiError('FIELD_INVALID_FORMAT', `${name}: is not an ISO 8601 time with an offset (e.g. 2026-12-01T00:00:00Z)`);
  return t;
}

/** The window asked for, checked before any query: from before to, at most 31 days. */
function insightsWindow(q: { from?: string; to?: string }, now = new Date()): InsightsWindow {
  const to = q.to !== undefined ? timeParam('to', q.to) : now;
  const from = q.from !== undefined ? timeParam('from', q.from) : new Date(to.getTime() - 24 * HOUR_MS);
  if (from.getTime() >= to.getTime()) throw new ApiError('FIELD_INVALID_VALUE', 'from: must be before to');
  if (to.getTime() - from.getTime() > MAX_WINDOW_MS) throw new ApiError('FIELD_INVALID_VALUE', 'to: the window from from to to is at most 31 days');
  return { from, to };
}

const Pct = { count: Type.Integer(), p50Seconds: Type.Union([Type.Number(), Type.Null()]), p90Seconds: Type.Union([Type.Number(), Type.Null()]) };

const Summary = Type.Object({
  from: Type.String(),
  to: Type.String(),
  opened: Type.Array(Type.Object({ hour: Type.String(), trackingType: Type.String(), count: Type.Integer() })),
  finished: Type.Array(Type.Object({ hour: Type.String(), trackingType: Type.String(), status: Type.String(), errorCode: Nullable(Type.String()), count: Type.Integer() })),
  funnel: Type.Object({
    shipments: Type.Integer(),
    PENDING: Type.Integer(),
    INFO_RECEIVED: Type.Integer(),
    IN_TRANSIT: Type.Integer(),
    OUT_FOR_DELIVERY: Type.Integer(),
    DELIVERED: Type.Integer(),
    exceptions: Type.Integer(),
    failures: Type.Integer(),
  }),
  deliveryTime: Type.Object({
    byCarrier: Type.Array(Type.Object({ carrier: Nullable(Type.String()), ...Pct })),
    bySite: Type.Array(Type.Object({ productionSite: Nullable(Type.String()), ...Pct })),
  }),
  rates: Type.Object({
    shipments: Type.Integer(),
    exceptionRate: Type.Union([Type.Number(), Type.Null()]),
    failureRate: Type.Union([Type.Number(), Type.Null()]),
    finished: Type.Integer(),
    failedFinished: Type.Integer(),
    failureRateFinished: Type.Union([Type.Number(), Type.Null()]),
  }),
});

const Sites = Type.Object({
  from: Type.String(),
  to: Type.String(),
  sites: Type.Array(
    Type.Object({
      productionSite: Type.String(),
      registered: Type.Boolean(),
      requested: Type.Integer(),
      shipped: Type.Object(Pct),
      productionTimeouts: Type.Integer(),
      inboxFiles: Type.Object({
        files: Type.Integer(),
        processing: Type.Integer(),
        done: Type.Integer(),
        rejected: Type.Integer(),
        accepted: Type.Integer(),
        duplicates: Type.Integer(),
        rejectedLines: Type.Integer(),
      }),
    }),
  ),
});

/** `GET /admin/v1/insights/summary` and `/sites`: the console's Overview and Sites views (read scope). */
export function registerAdminInsights(untyped: FastifyInstance, deps: HttpDeps): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/v1/insights/summary',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Operations opened and finished per hour, the shipment funnel, delivery time p50/p90 per carrier and site, exception and failure rates',
        security: [{ adminBearer: [] }],
        querystring: Query,
        response: { 200: Summary, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const w = insightsWindow(req.query);
      return { from: w.from.toISOString(), to: w.to.toISOString(), ...(await insightsSummary(deps.db, w)) };
    },
  );
  app.get(
    '/admin/v1/insights/sites',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Per production site: request → CARD_SHIPPED latency p50/p90, PRODUCTION timeouts, inbox files and their rejected lines',
        security: [{ adminBearer: [] }],
        querystring: Query,
        response: { 200: Sites, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const w = insightsWindow(req.query);
      return { from: w.from.toISOString(), to: w.to.toISOString(), sites: await siteInsights(deps.db, w) };
    },
  );
}
