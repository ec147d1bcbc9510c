import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { CARRIER_CODES } from '../../domain/carriers.ts';
import { ApiError } from '../../domain/errors.ts';
import { toOperationObject } from '../../domain/operation-view.ts';
import { CARD_ID, ISSUER_ID } from '../../domain/track-request.ts';
import { ADMIN_TOKEN_NAME } from '../../store/admin-tokens.ts';
import { listAudit } from '../../store/audit.ts';
import { listOperations } from '../../store/operation-search.ts';
import { adminRoute } from '../admin-auth.ts';
import type { HttpDeps } from '../app.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { errorResponses, oneOf } from '../schemas.ts';

const Query = Type.Object(
  {
    issuerId: Type.Optional(Type.String()),
    cardId: Type.Optional(Type.String()),
    status: Type.Optional(Type.Union([Type.Literal('PENDING'), Type.Literal('SUCCESSFUL'), Type.Literal('FAILED')])),
    trackingType: Type.Optional(Type.Union([Type.Literal('PRODUCTION'), Type.Literal('SHIPMENT'), Type.Literal('RETURN')])),
    open: Type.Optional(Type.Boolean()),
    carrier: Type.Optional(oneOf(CARRIER_CODES)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 400 })),
  },
  { additionalProperties: false },
);

/**
 * `GET /admin/v1/operations`: what operators search when an issuer asks "where is this card?"; also the
 * audit log and the admin tokens.
 */
export function registerAdminOperations(untyped: FastifyInstance, deps: HttpDeps): void {
  // Handlers read params, query and body as their schemas declare them (TypeBox type provider).
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/v1/operations',
    {
      // Authentication before validation: a caller without the token learns nothing about the query rules.
      ...adminRoute(app, deps, 'read'),
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
          ...errorResponses(400, 401, 403, 429),
        },
      },
    },
    async (req) => {
      const q = req.query;
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

const AuditQuery = Type.Object(
  {
    tokenName: Type.Optional(Type.String({ description: 'only writes made with this token (`env`: TRACKHUB_ADMIN_TOKEN)' })),
    targetId: Type.Optional(Type.String({ description: 'only writes to this issuer, site, notification or token' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 400 })),
  },
  { additionalProperties: false },
);

const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Type.String(),
  tokenName: Type.String({ description: 'who: the name of the admin token used' }),
  method: Type.String(),
  route: Type.String({ description: 'the route pattern, e.g. /admin/v1/issuers/:issuerId' }),
  targetId: Type.Union([Type.String(), Type.Null()]),
  status: Type.Integer({ description: 'the HTTP status the write was answered with' }),
  before: Type.Unknown({ description: 'the target before the write, secrets as "***"' }),
  after: Type.Unknown({ description: 'the target after the write, secrets as "***"' }),
  correlationId: Type.String(),
});

const TARGET_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/** `GET /admin/v1/audit`: every Admin API write, newest first. */
export function registerAuditLog(untyped: FastifyInstance, deps: HttpDeps): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/v1/audit',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'The audit log of Admin API writes (who, what, when, outcome, before and after with secrets masked), newest first, paged with a cursor',
        security: [{ adminBearer: [] }],
        querystring: AuditQuery,
        response: { 200: Type.Object({ entries: Type.Array(AuditEntry), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const q = req.query;
      if (q.tokenName !== undefined && !ADMIN_TOKEN_NAME.test(q.tokenName)) throw new ApiError('FIELD_INVALID_FORMAT', 'tokenName: is not a token name');
      if (q.targetId !== undefined && !TARGET_ID.test(q.targetId)) throw new ApiError('FIELD_INVALID_FORMAT', 'targetId: is not an id');
      const limit = q.limit ?? 50;
      let afterId: number | undefined;
      if (q.cursor !== undefined) {
        const [id] = decodeCursor(q.cursor, 1);
        if (!/^[1-9]\d{0,15}$/.test(id)) throw new ApiError('FIELD_INVALID_FORMAT', 'cursor: is not a cursor this API returned');
        afterId = Number(id);
      }
      const page = await listAudit(deps.db, { tokenName: q.tokenName, targetId: q.targetId, afterId, limit });
      const last = page.entries.at(-1);
      return { entries: page.entries, nextCursor: page.more && last ? encodeCursor([String(last.id)]) : null };
    },
  );
}
