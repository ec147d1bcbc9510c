import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { CARRIER_CODES } from '../../domain/carriers.ts';
import { ApiError } from '../../domain/errors.ts';
import { toOperationObject } from '../../domain/operation.ts';
import { CARD_ID, ISSUER_ID } from '../../domain/track-request.ts';
import { listOperations } from '../../store/operation-search.ts';
import { adminGuard, decodeCursor, encodeCursor } from '../admin-auth.ts';
import type { HttpDeps } from '../app.ts';
import { errorResponses } from '../schemas.ts';

const Query = Type.Object(
  {
    issuerId: Type.Optional(Type.String()),
    cardId: Type.Optional(Type.String()),
    status: Type.Optional(Type.Union([Type.Literal('PENDING'), Type.Literal('SUCCESSFUL'), Type.Literal('FAILED')])),
    trackingType: Type.Optional(Type.Union([Type.Literal('PRODUCTION'), Type.Literal('SHIPMENT'), Type.Literal('RETURN')])),
    open: Type.Optional(Type.Boolean()),
    carrier: Type.Optional(Type.Union(CARRIER_CODES.map((c) => Type.Literal(c)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 400 })),
  },
  { additionalProperties: false },
);

/** `GET /admin/v1/operations`: what operators search when an issuer asks "where is this card?". */
export function registerAdminOperations(app: FastifyInstance, deps: HttpDeps): void {
  if (!deps.config.adminToken) return;
  const requireAdmin = adminGuard(deps.config.adminToken);
  app.get(
    '/admin/v1/operations',
    {
      // Authentication before validation: a caller without the token learns nothing about the query rules.
      onRequest: async (req) => requireAdmin(req),
      schema: {
        tags: ['admin'],
        summary: 'Tracking operations, newest first, filtered and paged with a cursor',
        security: [{ adminBearer: [] }],
        querystring: Query,
        response: {
          200: Type.Object({
            operations: Type.Array(
              Type.Object({
                open: Type.Boolean(),
                carrier: Type.Union([Type.String(), Type.Null()]),
                trackingNumber: Type.Union([Type.String(), Type.Null()]),
                nextWakeAt: Type.Union([Type.String(), Type.Null()]),
                operation: Type.Ref('OperationObject'),
              }),
            ),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (req) => {
      const q = req.query as {
        issuerId?: string;
        cardId?: string;
        status?: 'PENDING' | 'SUCCESSFUL' | 'FAILED';
        trackingType?: 'PRODUCTION' | 'SHIPMENT' | 'RETURN';
        open?: boolean;
        carrier?: string;
        limit?: number;
        cursor?: string;
      };
      if (q.issuerId !== undefined && !ISSUER_ID.test(q.issuerId)) throw new ApiError('FIELD_INVALID_FORMAT', 'issuerId: is not an issuer id');
      if (q.cardId !== undefined && !CARD_ID.test(q.cardId)) throw new ApiError('FIELD_INVALID_FORMAT', 'cardId: is not a card id');
      const limit = q.limit ?? 50;
      const after = q.cursor ? decodeCursor(q.cursor, 2) : undefined;
      const rows = await listOperations(deps.db, { ...q, limit: limit + 1, after: after && { createdAt: after[0], operationId: after[1] } });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        operations: page.map((r) => ({
          open: r.state.open,
          carrier: r.carrier,
          trackingNumber: r.trackingNumber,
          nextWakeAt: r.wakeAt,
          operation: toOperationObject(r.state),
        })),
        nextCursor: rows.length > limit && last ? encodeCursor([last.sortKey, last.state.operationId]) : null,
      };
    },
  );
}
