import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../domain/errors.ts';
import { acknowledgeThrough, FEED_START, type FeedPosition, readFeed } from '../../store/notification-feed.ts';
import { clusterIdentity } from '../../store/store-identity.ts';
import type { HttpDeps } from '../app.ts';
import { FeedCursors } from '../feed-cursor.ts';
import { requireIssuerGrant } from '../issuer-grant.ts';
import { TokenBuckets } from '../limits.ts';
import { errorResponses } from '../schemas.ts';

export const FEED_DEFAULT_LIMIT = 100;
export const FEED_MAX_LIMIT = 500;

const Query = Type.Object(
  {
    after: Type.Optional(
      Type.String({ description: 'nextCursor of the previous page, as it came; valid only for the issuer and the hub it came from. Absent: starts at the oldest notification the hub still holds' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: FEED_MAX_LIMIT, default: FEED_DEFAULT_LIMIT, description: 'notifications per page' })),
  },
  { additionalProperties: false },
);

const FeedAnswer = Type.Object({
  notifications: Type.Array(
    Type.Object({
      webhookId: Type.String({ description: 'the webhook-id of its push: an item pushed and pulled is one notification' }),
      createdAt: Type.String({ format: 'date-time' }),
      body: Type.Object({ operations: Type.Array(Type.Ref('OperationObject')) }, { description: 'the body as pushed, byte for byte' }),
    }),
  ),
  nextCursor: Type.String({ description: 'pass as after to read on; on an empty page, the cursor given' }),
  hasMore: Type.Boolean({ description: 'true: more can be read now (or in a moment); false: caught up' }),
});

/** The position of `after`: only a cursor this hub handed to this issuer (feed-cursor.ts) is taken. */
function positionOf(cursors: FeedCursors, issuerId: string, cursor: string | undefined): FeedPosition {
  if (cursor === undefined) return FEED_START;
  const position = cursors.decode(issuerId, cursor);
  if (!position) throw new ApiError('FIELD_INVALID_FORMAT', 'after: is not a cursor this API returned to this issuer (pass nextCursor as it came)');
  return position;
}

function limitOf(raw: string | undefined): number {
  if (raw === undefined) return FEED_DEFAULT_LIMIT;
  const n = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= FEED_MAX_LIMIT)) throw new ApiError('FIELD_INVALID_VALUE', `limit: must be an integer from 1 to ${FEED_MAX_LIMIT}`);
  return n;
}

/**
 * The catch-up feed (beyond D1): an issuer pulls its notifications in commit order with the webhook-id
 * and body of their push, so an issuer that was down reads what it missed (src/store/notification-feed.ts).
 */
export function registerIssuerFeed(untyped: FastifyInstance, deps: HttpDeps): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const limiter = new TokenBuckets({ count: deps.config.issuerRateLimit, perMs: 1000 });
  // The cluster's identity is read once, at the first feed request (it changes only with a restart).
  let cursorsReady: Promise<FeedCursors> | undefined;
  const cursorsOf = () => {
    cursorsReady ??= clusterIdentity(deps.db).then((cluster) => new FeedCursors(deps.accessTokenKey, cluster));
    cursorsReady.catch(() => {
      cursorsReady = undefined; // a store away: asked again next time
    });
    return cursorsReady;
  };

  app.get(
    '/banking/v1/issuers/:issuerId/notifications',
    {
      schema: {
        tags: ['issuer'],
        summary: 'Catch-up feed: the notifications sent (or being sent) to this issuer, in commit order, a page at a time',
        security: [{ bearer: [] }],
        params: Type.Object({ issuerId: Type.String() }),
        querystring: Query,
        response: { 200: FeedAnswer, ...errorResponses(400, 401, 403, 429, 503) },
      },
      // Checked by hand below, so the token is judged first and every refusal is the D1 error body.
      validatorCompiler: () => (data: unknown) => ({ value: data }),
    },
    async (req, reply) => {
      const { issuerId } = req.params;
      await requireIssuerGrant(req, deps, issuerId);
      const query = (req.query ?? {}) as Record<string, unknown>;
      const unknown = Object.keys(query).find((k) => k !== 'after' && k !== 'limit');
      if (unknown !== undefined) throw new ApiError('FIELD_INVALID_FORMAT', `${unknown.slice(0, 64)}: is not a query parameter of this route (after, limit)`);
      if (Array.isArray(query.after) || Array.isArray(query.limit)) throw new ApiError('FIELD_INVALID_FORMAT', 'after and limit: may each be given once');
      const cursors = await cursorsOf();
      const after = positionOf(cursors, issuerId, query.after as string | undefined);
      const limit = limitOf(query.limit as string | undefined);
      const wait = limiter.take(issuerId);
      if (wait !== undefined) throw new ApiError('RATE_LIMITED', 'request budget spent, retry later', { 'retry-after': String(wait) });
      // Reading on from a cursor says the issuer applied everything up to it: still-pending ones there are
      // recorded delivered, and the updates they held back go out now (acknowledgeThrough).
      if (query.after !== undefined && (await acknowledgeThrough(deps.db, issuerId, after)) > 0) deps.hub.kickDelivery();
      const page = await readFeed(deps.db, issuerId, after, limit);
      const last = page.items.at(-1)?.position ?? after;
      // Written by hand so each body is the pushed bytes themselves, never parsed and written again.
      const items = page.items.map((i) => `{"webhookId":${JSON.stringify(i.webhookId)},"createdAt":${JSON.stringify(i.createdAt)},"body":${i.body}}`);
      const text = `{"notifications":[${items.join(',')}],"nextCursor":${JSON.stringify(cursors.encode(issuerId, last))},"hasMore":${page.hasMore}}`;
      return reply.type('application/json; charset=utf-8').serializer((payload) => payload as string).send(text as never);
    },
  );
}
