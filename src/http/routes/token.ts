import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { InvalidGrant, issueAccessToken, verifyAssertion } from '../../auth/tokens.ts';
import type { HttpDeps } from '../app.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** OAuth2 JWT-bearer token endpoint (RFC 7523); errors in RFC 6749 §5.2 form. */
export function registerTokenRoute(app: FastifyInstance, deps: HttpDeps): void {
  const tokenUrl = `${deps.config.publicUrl}/authz/v1/oauth2/token`;
  app.post(
    '/authz/v1/oauth2/token',
    {
      bodyLimit: 64 * 1024,
      schema: {
        tags: ['issuer'],
        summary: 'Exchange an ES256-signed JWT assertion for an access token',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        response: {
          200: Type.Object({ access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer(), scope: Type.String() }),
          400: Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) }),
        },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      const params = req.body as Record<string, unknown> | undefined;
      const single = (name: string): string | undefined | null => {
        const v = params?.[name];
        if (v === undefined) return undefined;
        if (Array.isArray(v)) return null; // repeated
        return typeof v === 'string' ? v : null;
      };
      const grantType = single('grant_type');
      const assertion = single('assertion');
      if (grantType == null || assertion == null || assertion === '') {
        return reply.code(400).send({ error: 'invalid_request', error_description: 'grant_type and assertion are each required once' });
      }
      if (grantType !== JWT_BEARER) return reply.code(400).send({ error: 'unsupported_grant_type' });
      try {
        const issuerId = await verifyAssertion(deps.db, assertion, {
          audiences: [tokenUrl, ...(deps.config.tokenAudience ? [deps.config.tokenAudience] : [])],
          loadIssuer: async (id) => {
            const issuer = await deps.issuers.get(id);
            return issuer && { issuerId: id, enabled: issuer.enabled, jwks: issuer.jwks };
          },
        });
        return await issueAccessToken(deps.accessTokenKey, issuerId);
      } catch (err) {
        if (!(err instanceof InvalidGrant)) throw err;
        req.log.info({ reason: err.message }, 'assertion refused');
        return reply.code(400).send({ error: 'invalid_grant' });
      }
    },
  );
}
