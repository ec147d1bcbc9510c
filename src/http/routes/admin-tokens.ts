import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../domain/errors.ts';
import {
  ADMIN_SCOPES,
  ADMIN_TOKEN_NAME,
  ADMIN_TOKEN_NAME_RULE,
  AdminTokenNameTaken,
  createAdminToken,
  getAdminToken,
  listAdminTokens,
  revokeAdminToken,
} from '../../store/admin-tokens.ts';
import { adminAuthFor, adminRoute, noteAudit } from '../admin-auth.ts';
import type { HttpDeps } from '../app.ts';
import { errorResponses, Nullable, oneOf } from '../schemas.ts';

const Scope = oneOf(ADMIN_SCOPES);
const TokenView = Type.Object({ name: Type.String(), scope: Scope, createdAt: Type.String(), lastUsedAt: Nullable(Type.String()), revokedAt: Nullable(Type.String()) });
const CreateBody = Type.Object({ name: Type.String(), scope: Scope }, { additionalProperties: false });

/**
 * Named admin tokens over the Admin API, the same as `trackhub admin-tokens`: listing needs `read`,
 * creating and revoking `admin`. A revocation here applies at once on this instance and within
 * ADMIN_TOKEN_CACHE_TTL_MS on the others.
 */
export function registerAdminTokenRoutes(untyped: FastifyInstance, deps: HttpDeps): void {
  // Handlers read params, query and body as their schemas declare them (TypeBox type provider).
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const security = [{ adminBearer: [] }];
  const nameParam = Type.Object({ name: Type.String() });
  const checkName = (name: string) => {
    if (!ADMIN_TOKEN_NAME.test(name)) throw new ApiError('FIELD_INVALID_FORMAT', `name: must be ${ADMIN_TOKEN_NAME_RULE}`);
  };

  app.get(
    '/admin/v1/admin-tokens',
    {
      // Who holds which scope, and who is active, is the token admin's business: admin, as creating and revoking.
      ...adminRoute(app, deps, 'admin'),
      schema: {
        tags: ['admin'],
        summary: 'Admin tokens: name, scope, created, last used, revoked (never the token); admin scope',
        security,
        response: { 200: Type.Object({ tokens: Type.Array(TokenView) }), ...errorResponses(401, 403, 429) },
      },
    },
    async () => ({ tokens: await listAdminTokens(deps.db) }),
  );

  app.post(
    '/admin/v1/admin-tokens',
    {
      ...adminRoute(app, deps, 'admin'),
      schema: {
        tags: ['admin'],
        summary: 'Create a named admin token; the token is returned once, the hub keeps only its hash',
        security,
        body: CreateBody,
        response: { 201: Type.Object({ ...TokenView.properties, token: Type.String() }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      const { name, scope } = req.body;
      checkName(name);
      try {
        const created = await createAdminToken(deps.db, name, scope);
        noteAudit(req, { targetId: name, before: null, after: { ...created, token: '***' } });
        return reply.code(201).send(created);
      } catch (err) {
        if (err instanceof AdminTokenNameTaken) throw new ApiError('FIELD_INVALID_VALUE', err.message);
        throw err;
      }
    },
  );

  app.delete(
    '/admin/v1/admin-tokens/:name',
    {
      ...adminRoute(app, deps, 'admin'),
      schema: {
        tags: ['admin'],
        summary: 'Revoke a named admin token: refused at once by this instance, within 5 s by the others',
        security,
        params: nameParam,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      const { name } = req.params;
      checkName(name);
      const before = await getAdminToken(deps.db, name);
      if (!(await revokeAdminToken(deps.db, name))) throw new ApiError('NOT_FOUND', 'no active admin token of that name');
      adminAuthFor(app, deps).forget(name);
      noteAudit(req, { before, after: await getAdminToken(deps.db, name) });
      return reply.code(204).send(null); // a 204 carries no body whatever is given
    },
  );
}
