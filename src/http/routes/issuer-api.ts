import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { ApiError } from '../../domain/errors.ts';
import { toOperationObject } from '../../domain/operation-view.ts';
import { CARD_ID, validateTrackRequest } from '../../domain/track-request.ts';
import { AcceptBatcher } from '../../operations/accept.ts';
import { listCardOperations } from '../../store/operations.ts';
import type { HttpDeps } from '../app.ts';
import { requireIssuerGrant } from '../issuer-grant.ts';
import { TokenBuckets } from '../limits.ts';
import { isJson, JSON_ONLY } from '../media-types.ts';
import { errorResponses } from '../schemas.ts';

const Params = Type.Object({ issuerId: Type.String(), cardId: Type.String() });

/** The D1-compatible Issuer API: track a card, read its tracking status. */
export function registerIssuerApi(untyped: FastifyInstance, deps: HttpDeps): void {
  // Handlers read params, query and body as their schemas declare them (TypeBox type provider).
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  // Per issuer (checked against ISSUER_ID first), one second of budget as burst.
  const limiter = new TokenBuckets({ count: deps.config.issuerRateLimit, perMs: 1000 });
  const batcher = new AcceptBatcher(deps.hub);

  async function authorise(req: FastifyRequest, params: Static<typeof Params>): Promise<{ issuerId: string; cardId: string }> {
    const { issuerId, cardId } = params;
    await requireIssuerGrant(req, deps, issuerId);
    if (!CARD_ID.test(cardId)) throw new ApiError('FIELD_INVALID_FORMAT', 'cardId: must be 1 to 48 of [A-Za-z0-9_-]');
    const wait = limiter.take(issuerId);
    if (wait !== undefined) throw new ApiError('RATE_LIMITED', 'request budget spent, retry later', { 'retry-after': String(wait) });
    return { issuerId, cardId };
  }

  app.post(
    '/banking/v1/issuers/:issuerId/physicalCards/:cardId/track',
    {
      bodyLimit: 64 * 1024,
      schema: {
        tags: ['issuer'],
        summary: 'Track a physical card (production, shipment or return)',
        security: [{ bearer: [] }],
        params: Params,
        body: Type.Ref('TrackBody'),
        headers: Type.Object({ 'x-correlation-id': Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })) }),
        response: { 202: Type.Object({ operationId: Type.String() }), ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503) },
      },
      // The body is checked by validateTrackRequest, which knows the contract's error codes.
      validatorCompiler: () => (data: unknown) => ({ value: data }),
    },
    async (req, reply) => {
      const { issuerId, cardId } = await authorise(req, req.params);
      if (!isJson(req.headers['content-type'])) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', JSON_ONLY);
      const checked = validateTrackRequest(req.body);
      if (!checked.ok) throw new ApiError(checked.errorCode, checked.error);
      const { operationId } = await batcher.accept({ issuerId, cardId, correlationId: req.correlationId, body: checked.value });
      return reply.code(202).send({ operationId });
    },
  );

  app.get(
    '/banking/v1/issuers/:issuerId/physicalCards/:cardId/trackingStatus',
    {
      schema: {
        tags: ['issuer'],
        summary: 'Latest state of every tracking operation of a card, newest first',
        security: [{ bearer: [] }],
        params: Params,
        response: { 200: Type.Object({ operations: Type.Array(Type.Ref('OperationObject')) }), ...errorResponses(400, 401, 403, 404, 429, 503) },
      },
      validatorCompiler: () => (data: unknown) => ({ value: data }),
    },
    async (req) => {
      const { issuerId, cardId } = await authorise(req, req.params);
      const ops = await listCardOperations(deps.db, issuerId, cardId);
      if (ops.length === 0) throw new ApiError('NOT_FOUND', 'this card has never been tracked by this issuer');
      return { operations: ops.map((s) => toOperationObject(s, { withCheckpoints: true })) };
    },
  );
}
