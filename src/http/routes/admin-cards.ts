import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../domain/errors.ts';
import { toOperationObject } from '../../domain/operation-view.ts';
import { CARD_ID, ISSUER_ID } from '../../domain/track-request.ts';
import { readCardTimeline, searchCards, TIMELINE_ATTEMPTS, TIMELINE_NOTIFICATIONS, TIMELINE_OPERATIONS } from '../../store/card-timeline.ts';
import { readStuck } from '../../store/stuck.ts';
import { adminRoute } from '../admin-auth.ts';
import type { RouteDeps } from '../app.ts';
import { errorResponses, Nullable } from '../schemas.ts';

/** Printable ASCII without blanks at either end: every id, tracking number and correlation id fits. */
const SEARCH_TEXT = /^[\x21-\x7E](?:[\x20-\x7E]{0,126}[\x21-\x7E])?$/;

const Str = Type.String();

const SearchQuery = Type.Object(
  {
    // Optional so that the bare path answers (an empty list: nothing asked); a q given is checked.
    q: Type.Optional(Type.String({ description: 'a card id or its start, a tracking number, an operation id, a correlation id or a webhook-id (1 to 128 printable characters); absent: no match' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  },
  { additionalProperties: false },
);

const Match = Type.Object({
  kind: Type.String({ enum: ['operation', 'notification', 'tracking_number', 'correlation_id', 'card'], description: 'what the text was found as' }),
  issuerId: Str,
  cardId: Str,
  operationId: Type.Optional(Type.String({ description: 'absent for a card found by its id' })),
});

const Attempt = Type.Object({
  attempt: Type.Integer(),
  attemptedAt: Str,
  httpStatus: Type.Union([Type.Integer(), Type.Null()]),
  error: Nullable(Str),
  latencyMs: Type.Integer(),
});

const Notification = Type.Object({
  notificationId: Type.String({ description: 'the webhook-id; for a batched update, the id of the notification that carried it' }),
  sequenceNumber: Type.Integer(),
  batched: Type.Boolean({ description: 'carried inside a notification of several operations' }),
  state: Type.String({ description: 'pending, delivered or dead' }),
  attempts: Type.Integer(),
  lastError: Nullable(Str),
  nextAttemptAt: Nullable(Str),
  createdAt: Str,
  deliveredAt: Nullable(Str),
  carried: Type.Object(
    {
      sequenceNumber: Type.Integer(),
      status: Nullable(Str),
      shipmentStatus: Nullable(Str),
    },
    { description: "what this update told the issuer: the operation object's sequenceNumber, status and details.shipment.status (null without a shipment)" },
  ),
  attemptLog: Type.Array(Attempt, { description: `its newest ${TIMELINE_ATTEMPTS} attempts at most, oldest first` }),
  attemptsOmitted: Type.Integer({ description: 'older attempts not in attemptLog' }),
});

const TimelineOperation = Type.Object({
  open: Type.Boolean(),
  carrier: Nullable(Str),
  trackingNumber: Nullable(Str),
  createdAt: Str,
  operation: Type.Ref('OperationObject', { description: 'its latest state, with every checkpoint (oldest first)' }),
  notifications: Type.Array(Notification, { description: `its newest ${TIMELINE_NOTIFICATIONS} notifications at most, in sequence order` }),
  notificationsOmitted: Type.Integer({ description: 'older notifications not in notifications' }),
});

const StuckQuery = Type.Object(
  {
    scanDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, default: 3, description: 'no carrier scan for this many days' })),
    siteDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, default: 2, description: 'shipped by a site this many days ago, never scanned' })),
    pendingHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 720, default: 1, description: 'notifications pending longer than this' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'items per list' })),
  },
  { additionalProperties: false },
);

const Link = { issuerId: Str, cardId: Str, operationId: Str };

const Stuck = Type.Object({
  at: Str,
  thresholds: Type.Object({ scanDays: Type.Integer(), siteDays: Type.Integer(), pendingHours: Type.Integer() }),
  noScan: Type.Object({
    byStatus: Type.Array(Type.Object({ status: Str, count: Type.Integer() }), { description: 'every stuck shipment counted by its status' }),
    items: Type.Array(
      Type.Object({ ...Link, carrier: Nullable(Str), trackingNumber: Nullable(Str), status: Str, lastScanAt: Nullable(Str), createdAt: Str }),
      { description: 'open shipments with no carrier update for scanDays, longest silent first' },
    ),
  }),
  siteShippedNoScan: Type.Object({
    items: Type.Array(
      Type.Object({ ...Link, siteId: Str, shippedAt: Str, carrier: Nullable(Str), trackingNumber: Nullable(Str), status: Str }),
      { description: 'open shipments still before pickup whose card a site reported shipped siteDays ago or more' },
    ),
  }),
  pendingNotifications: Type.Object({
    items: Type.Array(
      Type.Object({ issuerId: Str, cardId: Nullable(Str), operationId: Str, notificationId: Str, pendingSince: Str, attempts: Type.Integer(), lastError: Nullable(Str) }),
      { description: 'notifications pending longer than pendingHours, oldest first' },
    ),
  }),
});

/** Search, the card timeline and the stuck lists: what the console's Search, card and Stuck pages read. */
export function registerAdminCards(untyped: FastifyInstance, deps: RouteDeps): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/v1/search',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Find cards by card id (its start), tracking number, operation id, correlation id or webhook-id',
        security: [{ adminBearer: [] }],
        querystring: SearchQuery,
        response: { 200: Type.Object({ matches: Type.Array(Match) }), ...errorResponses(400, 401, 403, 429, 503) },
      },
    },
    async (req, reply) => {
      const { q, limit = 20 } = req.query;
      if (q === undefined) return { matches: [] };
      if (!SEARCH_TEXT.test(q)) throw new ApiError('FIELD_INVALID_FORMAT', 'q: must be 1 to 128 printable characters, not starting or ending with a space');
      return { matches: await deps.consoleReads.read(reply, (db) => searchCards(db, q, limit)) };
    },
  );

  app.get(
    '/admin/v1/issuers/:issuerId/cards/:cardId/timeline',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: `Every operation of a card (newest first, at most ${TIMELINE_OPERATIONS}) with its checkpoints and the notifications that carried it (its newest ${TIMELINE_NOTIFICATIONS}) with their attempts (the newest ${TIMELINE_ATTEMPTS} of each), and counts of those left out`,
        security: [{ adminBearer: [] }],
        params: Type.Object({ issuerId: Str, cardId: Str }),
        response: { 200: Type.Object({ issuerId: Str, cardId: Str, operations: Type.Array(TimelineOperation) }), ...errorResponses(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req, reply) => {
      const { issuerId, cardId } = req.params;
      if (!ISSUER_ID.test(issuerId)) throw new ApiError('FIELD_INVALID_FORMAT', 'issuerId: is not an issuer id');
      if (!CARD_ID.test(cardId)) throw new ApiError('FIELD_INVALID_FORMAT', 'cardId: is not a card id');
      const ops = await deps.consoleReads.read(reply, (db) => readCardTimeline(db, issuerId, cardId));
      if (!ops) throw new ApiError('NOT_FOUND', 'no operation of this card');
      return {
        issuerId,
        cardId,
        operations: ops.map((o) => ({
          open: o.state.open,
          carrier: o.carrier,
          trackingNumber: o.trackingNumber,
          createdAt: o.createdAt,
          operation: toOperationObject(o.state, { withCheckpoints: true }),
          notifications: o.notifications,
          notificationsOmitted: o.notificationsOmitted,
        })),
      };
    },
  );

  app.get(
    '/admin/v1/insights/stuck',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Stuck parcels and notifications: no carrier scan for days, shipped by a site and never scanned, pending for hours',
        security: [{ adminBearer: [] }],
        querystring: StuckQuery,
        response: { 200: Stuck, ...errorResponses(400, 401, 403, 429, 503) },
      },
    },
    async (req, reply) => {
      const { scanDays = 3, siteDays = 2, pendingHours = 1, limit = 50 } = req.query;
      const now = deps.hub.now();
      const lists = await deps.consoleReads.heavyRead(reply, (db) => readStuck(db, { now, scanDays, siteDays, pendingHours, limit }));
      return { at: now.toISOString(), thresholds: { scanDays, siteDays, pendingHours }, ...lists };
    },
  );
}
