import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { insightsSummary, siteInsights, UNREGISTERED_SITES_SHOWN } from '../../store/insights.ts';
import { adminRoute } from '../admin-auth.ts';
import type { RouteDeps } from '../app.ts';
import { errorResponses, Nullable } from '../schemas.ts';
import { insightsWindow, WindowQuery as Query } from '../time-params.ts';

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
    bySite: Type.Array(Type.Object({ productionSite: Nullable(Type.String()), ...Pct }), {
      description: `every registered site, shipments with no site (null), and at most ${UNREGISTERED_SITES_SHOWN} names no registered site bears (alphabetically first)`,
    }),
    unregisteredSitesOmitted: Type.Integer({ description: 'names no registered site bears left out of bySite (a request names its site in free text)' }),
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
    { description: `every registered site, and at most ${UNREGISTERED_SITES_SHOWN} site names requests gave that no registered site bears (alphabetically first)` },
  ),
  unregisteredSitesOmitted: Type.Integer({ description: 'site names requests gave, no registered site bears, left out of sites' }),
});

/** `GET /admin/v1/insights/summary` and `/sites`: the console's Overview and Sites views (read scope). */
export function registerAdminInsights(untyped: FastifyInstance, deps: RouteDeps): void {
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
        response: { 200: Summary, ...errorResponses(400, 401, 403, 429, 503) },
      },
    },
    async (req, reply) => {
      const w = insightsWindow(req.query);
      return { from: w.from.toISOString(), to: w.to.toISOString(), ...(await deps.consoleReads.heavyRead(reply, (db) => insightsSummary(db, w))) };
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
        response: { 200: Sites, ...errorResponses(400, 401, 403, 429, 503) },
      },
    },
    async (req, reply) => {
      const w = insightsWindow(req.query);
      return { from: w.from.toISOString(), to: w.to.toISOString(), ...(await deps.consoleReads.heavyRead(reply, (db) => siteInsights(db, w))) };
    },
  );
}
