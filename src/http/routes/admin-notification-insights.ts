import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../domain/errors.ts';
import { ISSUER_ID } from '../../domain/track-request.ts';
import { issuerExists } from '../../store/issuers.ts';
import { notificationInsights } from '../../store/notification-insights.ts';
import { previewIssuerReplay } from '../../store/notifications.ts';
import { adminRoute } from '../admin-auth.ts';
import type { RouteDeps } from '../app.ts';
import { errorResponses, Nullable } from '../schemas.ts';
import { insightsWindow, timeParam, WindowQuery } from '../time-params.ts';

const Seconds = Type.Union([Type.Number(), Type.Null()]);

const EndpointState = Type.Union(
  [
    Type.Object({ state: Type.Literal('ok') }),
    Type.Object({
      state: Type.Literal('throttled'),
      until: Type.String({ description: 'When its earliest retry put off by the endpoint falls due (Retry-After included)' }),
      reason: Type.String({ description: 'What the endpoint answered: HTTP 429, 502, 503, 504, or a timeout' }),
    }),
    Type.Object({
      state: Type.Literal('disabled'),
      since: Type.String({ description: 'When the 410 Gone was recorded; for an issuer switched off by a PUT (enabled: false), its last write' }),
      reason: Type.String(),
    }),
  ],
  { description: 'The endpoint as the store records it: disabled (a 410 Gone until the issuer is PUT again, or the issuer switched off), throttled (a pending retry put off by a slow-down answer or a timeout), else ok' },
);

const IssuerInsight = Type.Object({
  issuerId: Type.String(),
  name: Type.String(),
  created: Type.Integer({ description: 'Notifications created in the window (when their update was committed), whatever became of them' }),
  delivered: Type.Integer({ description: 'Of those, delivered by now' }),
  dead: Type.Integer({ description: 'Of those, dead by now' }),
  pending: Type.Integer({ description: 'Of those, still pending' }),
  successRate: Type.Union([Type.Number(), Type.Null()], { description: 'delivered / (delivered + dead) of those created in the window: the finished ones; null when none finished' }),
  latency: Type.Object(
    { p50Seconds: Seconds, p99Seconds: Seconds },
    { description: 'Commit (created) to delivery of those delivered, in seconds; a replayed one counts to its latest delivery. Read from log-scale buckets: within 2.2 % of the exact percentile' },
  ),
  backlog: Type.Integer({ description: 'Pending now, whatever the window' }),
  oldestPendingAt: Nullable(Type.String()),
  oldestPendingAgeSeconds: Type.Union([Type.Integer(), Type.Null()]),
  deadNow: Type.Integer({ description: 'Dead now, whatever the window' }),
  endpoint: EndpointState,
});

const IssuerIdParam = Type.String({ pattern: '^[A-Za-z0-9_-]{10}$' });

const PreviewQuery = Type.Object(
  {
    since: Type.String({ maxLength: 40, description: 'ISO 8601 time with its offset, as POST …/replay takes it' }),
    includeDelivered: Type.Optional(Type.Boolean({ description: 'as POST …/replay takes it: also delivered ones (default: dead only)' })),
  },
  { additionalProperties: false },
);

/** `GET /admin/v1/insights/notifications` and the issuer replay's preview: the console's Notifications view (read scope). */
export function registerNotificationInsights(untyped: FastifyInstance, deps: RouteDeps): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/v1/insights/notifications',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Per issuer: notifications of the window and their success rate and latency, backlog and oldest pending, dead count, endpoint state',
        security: [{ adminBearer: [] }],
        querystring: WindowQuery,
        response: { 200: Type.Object({ from: Type.String(), to: Type.String(), issuers: Type.Array(IssuerInsight) }), ...errorResponses(400, 401, 403, 429, 503) },
      },
    },
    async (req, reply) => {
      const w = insightsWindow(req.query);
      const issuers = await deps.consoleReads.heavyRead(reply, (db) => notificationInsights(db, { ...w, now: deps.hub.now() }));
      return { from: w.from.toISOString(), to: w.to.toISOString(), issuers };
    },
  );
  app.get(
    '/admin/v1/issuers/:issuerId/replay-preview',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'How many notifications POST /admin/v1/issuers/:issuerId/replay would send now, with the same since and includeDelivered',
        security: [{ adminBearer: [] }],
        params: Type.Object({ issuerId: IssuerIdParam }),
        querystring: PreviewQuery,
        response: {
          200: Type.Object({
            count: Type.Integer(),
            oldest: Nullable(Type.String({ description: 'Creation time of the oldest it would send' })),
            newest: Nullable(Type.String({ description: 'Creation time of the newest it would send' })),
            until: Type.String({ description: 'The time of this preview: the bound it counted up to (created before it). Send it with count as expectedCount to POST …/replay, which then replays only those, or answers 409' }),
          }),
          ...errorResponses(400, 401, 403, 404, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const { issuerId } = req.params;
      if (!ISSUER_ID.test(issuerId)) throw new ApiError('FIELD_INVALID_FORMAT', 'issuerId: must be 10 of [A-Za-z0-9_-]');
      const since = timeParam('since', req.query.since);
      if (!(await issuerExists(deps.db, issuerId))) throw new ApiError('NOT_FOUND', 'no such issuer');
      return deps.consoleReads.read(reply, (db) => previewIssuerReplay(db, { issuerId, since, includeDelivered: req.query.includeDelivered ?? false }));
    },
  );
}
