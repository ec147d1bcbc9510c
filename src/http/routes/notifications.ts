import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../domain/errors.ts';
import { ISSUER_ID } from '../../domain/track-request.ts';
import type { AdminScope } from '../../store/admin-tokens.ts';
import { issuerExists } from '../../store/issuers.ts';
import {
  getNotification,
  listNotifications,
  NOTIFICATION_STATES,
  replayIssuerConfirmed,
  replayIssuerSelection,
  replayNotificationOutcome,
} from '../../store/notifications.ts';
import { adminRoute, noteAudit } from '../admin-auth.ts';
import type { HttpDeps } from '../app.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { errorResponses, Nullable, oneOf } from '../schemas.ts';
import { timeParam } from '../time-params.ts';

// Ids are checked before they reach the store: a NUL byte or a 10 kB id is a 400, never a store error.
const NotificationId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'The webhook-id' });
const IssuerIdParam = Type.String({ pattern: '^[A-Za-z0-9_-]{10}$' });


const NotificationSummary = Type.Object({
  id: Type.String({ description: 'The webhook-id: the same on every attempt and replay' }),
  issuerId: Type.String(),
  state: oneOf(NOTIFICATION_STATES),
  operationIds: Type.Array(Type.String(), { description: 'Operations carried (several when the issuer takes batches)' }),
  correlationId: Type.String(),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String()),
  lastError: Nullable(Type.String()),
  createdAt: Type.String(),
  deliveredAt: Nullable(Type.String()),
  operationId: Type.String({ description: 'The first operation it carries (the head of a batch)' }),
  cardId: Nullable(Type.String({ description: "That operation's card (null once the operation is gone from the store)" })),
  trackingType: Nullable(Type.String({ description: "That operation's tracking type: PRODUCTION, SHIPMENT or RETURN" })),
  cards: Type.Array(
    Type.Object({
      operationId: Type.String(),
      cardId: Nullable(Type.String()),
      trackingType: Nullable(Type.String()),
      carried: Nullable(
        Type.Object(
          { sequenceNumber: Type.Integer(), status: Nullable(Type.String()), shipmentStatus: Nullable(Type.String()) },
          {
            description:
              "What this notification told the issuer about the operation: the operation object's sequenceNumber, status and details.shipment.status (null without a shipment)",
          },
        ),
      ),
    }),
    { description: 'Every operation it carries, in operationIds order, with its card' },
  ),
  lastAttempt: Nullable(
    Type.Object(
      { attempt: Type.Integer(), attemptedAt: Type.String(), httpStatus: Type.Union([Type.Integer(), Type.Null()]), error: Nullable(Type.String()) },
      { description: 'Its newest attempt; null when never tried' },
    ),
  ),
  reason: Nullable(
    Type.String({
      description:
        'Why it is not delivered, in words: the stored reason or that of its newest failed attempt, with the status name and the start of the answer (e.g. "HTTP 503 Service Unavailable: maintenance"); null when delivered or never tried',
    }),
  ),
});

const Attempt = Type.Object({
  attempt: Type.Integer(),
  attemptedAt: Type.String(),
  httpStatus: Type.Union([Type.Integer(), Type.Null()]),
  error: Nullable(Type.String({ description: 'Network error or timeout, when there was no HTTP answer' })),
  latencyMs: Type.Integer(),
  responseBody: Nullable(Type.String({ description: 'First 2 KB of the response body' })),
});

const NotificationDetail = Type.Object({
  ...NotificationSummary.properties,
  operations: Type.Array(Type.Object({}, { additionalProperties: true }), { description: 'The operation objects as sent' }),
  attemptLog: Type.Array(Attempt),
});

const ListQuery = Type.Object(
  {
    state: Type.Optional(oneOf(NOTIFICATION_STATES)),
    issuerId: Type.Optional(IssuerIdParam),
    cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
);

const ReplaySinceBody = Type.Object(
  {
    since: Type.String({ maxLength: 40, description: 'ISO 8601 time with its offset, to the millisecond at most (e.g. 2026-12-01T00:00:00Z): notifications created at or after it are replayed' }),
    includeDelivered: Type.Optional(Type.Boolean({ description: 'also resend delivered ones (default: dead only)' })),
    until: Type.Optional(
      Type.String({ maxLength: 40, description: "the preview's `until`: only notifications created before it are replayed; must be after since (default: no upper bound)" }),
    ),
    expectedCount: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 2_147_483_647,
        description: "the preview's `count`: when the notifications selected now are not that many, nothing is replayed and the answer is 409 CONFLICT naming both numbers",
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * Dead letters and replay: list, read (with the attempt log), replay one, replay an issuer's since a time.
 * Reading needs the `read` scope, replaying `operate`.
 */
export function registerNotificationAdmin(untyped: FastifyInstance, deps: HttpDeps): void {
  // Handlers read params, query and body as their schemas declare them (TypeBox type provider).
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const access = (scope: AdminScope) => adminRoute(app, deps, scope);
  const security = [{ adminBearer: [] }];

  app.get(
    '/admin/v1/notifications',
    {
      schema: {
        tags: ['admin'],
        summary: 'List notifications by state (pending, delivered, dead) and issuer, oldest first, a page at a time',
        security,
        querystring: ListQuery,
        response: { 200: Type.Object({ notifications: Type.Array(NotificationSummary), nextCursor: Nullable(Type.String()) }), ...errorResponses(400, 401, 403, 429) },
      },
      ...access('read'),
    },
    async (req) => {
      const q = req.query;
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, 1)[0];
      // The cursor names a notification id: checked against that format before it reaches a query.
      if (after !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(after)) throw new ApiError('FIELD_INVALID_FORMAT', 'cursor: is not a cursor this API returned');
      const page = await listNotifications(deps.db, { state: q.state, issuerId: q.issuerId, after, limit: q.limit ?? 100 });
      const last = page.notifications.at(-1);
      return { notifications: page.notifications, nextCursor: page.more && last ? encodeCursor([last.id]) : null };
    },
  );

  app.get(
    '/admin/v1/notifications/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Read a notification: its operations and every delivery attempt',
        security,
        params: Type.Object({ id: NotificationId }),
        response: { 200: NotificationDetail, ...errorResponses(400, 401, 403, 404, 429) },
      },
      ...access('read'),
    },
    async (req) => {
      const n = await getNotification(deps.db, req.params.id);
      if (!n) throw new ApiError('NOT_FOUND', 'no such notification');
      return n;
    },
  );

  app.post(
    '/admin/v1/notifications/:id/replay',
    {
      schema: {
        tags: ['admin'],
        summary: 'Send a notification again now, under the same webhook-id, with a fresh retry schedule',
        security,
        params: Type.Object({ id: NotificationId }),
        response: {
          202: Type.Object({
            id: Type.String(),
            state: Type.Literal('pending'),
            replayed: Type.Boolean({
              description: 'false: a send of it was under way, and is left to finish (a replay never sends one webhook-id twice at once); replay again once it is recorded',
            }),
          }),
          ...errorResponses(401, 403, 404, 429),
        },
      },
      ...access('operate'),
    },
    async (req, reply) => {
      const { id } = req.params;
      const done = await replayNotificationOutcome(deps.db, id);
      if (done === 'not_found') throw new ApiError('NOT_FOUND', 'no such notification');
      noteAudit(req, { after: { state: 'pending', replayed: done === 'replayed' } });
      if (done === 'replayed') deps.hub.kickDelivery();
      return reply.code(202).send({ id, state: 'pending' as const, replayed: done === 'replayed' });
    },
  );

  app.post(
    '/admin/v1/issuers/:issuerId/replay',
    {
      schema: {
        tags: ['admin'],
        summary: "Replay an issuer's dead notifications created since a time (and delivered ones when asked)",
        security,
        params: Type.Object({ issuerId: IssuerIdParam }),
        body: ReplaySinceBody,
        response: { 202: Type.Object({ replayed: Type.Integer() }), ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
      ...access('operate'),
    },
    async (req, reply) => {
      const { issuerId } = req.params;
      const body = req.body;
      if (!ISSUER_ID.test(issuerId)) throw new ApiError('FIELD_INVALID_FORMAT', 'issuerId: must be 10 of [A-Za-z0-9_-]');
      // With its offset: a time without one would be read in the hub's zone, and the console is UTC.
      const since = timeParam('since', body.since);
      const until = body.until === undefined ? undefined : timeParam('until', body.until);
      // [since, until) would select nothing: an operator who typed it meant something else.
      if (until && until.getTime() <= since.getTime()) throw new ApiError('FIELD_INVALID_VALUE', 'until: must be after since');
      if (!(await issuerExists(deps.db, issuerId))) throw new ApiError('NOT_FOUND', 'no such issuer');
      const selection = { issuerId, since, includeDelivered: body.includeDelivered ?? false, ...(until ? { until } : {}) };
      let replayed: number;
      if (body.expectedCount === undefined) replayed = await replayIssuerSelection(deps.db, selection);
      else {
        const done = await replayIssuerConfirmed(deps.db, selection, body.expectedCount);
        if ('selected' in done) {
          throw new ApiError('CONFLICT', `expectedCount: ${body.expectedCount} expected, ${done.selected} selected now; nothing replayed (preview again)`);
        }
        replayed = done.replayed;
      }
      noteAudit(req, { after: { since: since.toISOString(), ...(until ? { until: until.toISOString() } : {}), includeDelivered: selection.includeDelivered, replayed } });
      if (replayed > 0) deps.hub.kickDelivery();
      return reply.code(202).send({ replayed });
    },
  );
}
