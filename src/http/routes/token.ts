import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance } from 'fastify';
import { InvalidGrant, issueAccessToken, verifyAssertion } from '../../auth/tokens.ts';
import type { HttpDeps } from '../app.ts';
import { repeatedMemberName } from '../json-names.ts';
import { sendSlowDown, tokenEndpointLimits } from '../limits.ts';
import { isForm, isJson, utf8BodyParser } from '../media-types.ts';
import { TOKEN_RESPONSES } from '../schemas.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const BODY_LIMIT = 64 * 1024;
/** The code of the refusal of a JSON body that names a parameter twice. */
const REPEATED_PARAMETER = 'TRACKHUB_REPEATED_PARAMETER';

/** The OAuth error a response of the hub's own `{errorCode, error}` form stands for on this endpoint. */
function oauthErrorFor(status: number): string {
  if (status === 503) return 'temporarily_unavailable';
  return status >= 500 ? 'server_error' : 'invalid_request';
}

/**
 * Fastify's refusals of a body it cannot read, as the RFC 6749 §5.2 `invalid_request` they are:
 * status and a description that names the problem without quoting the body.
 */
function unreadableBody(err: FastifyError): { status: number; description: string } | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, description: 'the body is not valid JSON' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, description: 'the body is empty' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, description: 'the content-length does not match the body' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, description: 'the body is over 64 KiB' };
    case REPEATED_PARAMETER:
      return { status: 400, description: 'grant_type and assertion are each required once' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return { status: 400, description: 'content-type must be application/x-www-form-urlencoded or application/json' };
  }
  if (err instanceof SyntaxError) return { status: 400, description: 'the body is not valid JSON' };
  return undefined;
}


/** OAuth2 JWT-bearer token endpoint (RFC 7523); every error in RFC 6749 §5.2 form. */
export function registerTokenRoute(untyped: FastifyInstance, deps: HttpDeps): void {
  const tokenUrl = `${deps.config.publicUrl}/authz/v1/oauth2/token`;
  const limits = tokenEndpointLimits(deps.config.tokenRateLimitPerIp, deps.config.tokenRateLimitPerIssuer);
  // Its own JSON parser (in a scope of its own, the other routes keep Fastify's): a JSON body that names a
  // parameter twice is refused as a repeated form parameter is (RFC 6749 §3.2), not read with its last value.
  untyped.register(async (scope) => {
    const defaultJson = scope.getDefaultJsonParser('error', 'error');
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: BODY_LIMIT },
      utf8BodyParser((req, text, done) => {
        defaultJson(req, text, (err, body) => {
          if (err) done(err, undefined);
          else if (repeatedMemberName(text, { topLevelOnly: true }) !== undefined) done(Object.assign(new Error('a parameter is repeated'), { code: REPEATED_PARAMETER, statusCode: 400 }), undefined);
          else done(null, body);
        });
      }),
    );
    // The handler reads params, query and body as the schema declares them (TypeBox type provider).
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/authz/v1/oauth2/token',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['issuer'],
          summary: 'Exchange an ES256-signed JWT assertion for an access token',
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          // The document's schemas (with every error value described), serialized with as well.
          response: { 200: TOKEN_RESPONSES[200], 400: TOKEN_RESPONSES[400], 413: TOKEN_RESPONSES[413], 429: TOKEN_RESPONSES[429] },
        },
        // Every request costs its client address one, before its body is read (src/http/limits.ts).
        onRequest: limits.perAddress,
        // A body Fastify could not read is the client's invalid_request; anything else goes on to the
        // app's handler (503 while the store is away, 500), whose body preSerialization puts in OAuth's form.
        errorHandler: (err: FastifyError, req, reply) => {
          const unreadable = unreadableBody(err);
          if (!unreadable) throw err;
          req.log.info({ reason: unreadable.description, correlationId: req.correlationId }, 'token request refused');
          return reply
            .code(unreadable.status as 400 | 413)
            .header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: unreadable.description });
        },
        // Whatever answers this route with the hub's `{errorCode, error}` body (the app's error handler,
        // a hook that ran before the route) answers in OAuth's form instead: clients of a token endpoint
        // read `error`. Before serialization, which would drop `errorCode` from the 400 schema's body.
        preSerialization: async (_req, reply, payload: unknown) => {
          const body = payload as { errorCode?: unknown; error?: unknown } | null;
          if (reply.statusCode < 400 || typeof body !== 'object' || body === null || typeof body.errorCode !== 'string') return payload;
          reply.header('cache-control', 'no-store');
          return { error: oauthErrorFor(reply.statusCode), ...(typeof body.error === 'string' ? { error_description: body.error } : {}) };
        },
      },
      async (req, reply) => {
        reply.header('cache-control', 'no-store');
        if (!isForm(req.headers['content-type']) && !isJson(req.headers['content-type'])) {
          req.log.info({ reason: 'content-type', correlationId: req.correlationId }, 'token request refused');
          return reply
            .code(400)
            .send({ error: 'invalid_request', error_description: 'content-type must be application/x-www-form-urlencoded or application/json (UTF-8)' });
        }
        // No body schema: every refusal here is an RFC 6749 error, so the body is read as the unknown it is.
        const params: unknown = req.body;
        const single = (name: string): string | undefined | null => {
          const v = typeof params === 'object' && params !== null && !Array.isArray(params) ? Object.getOwnPropertyDescriptor(params, name)?.value : undefined;
          if (v === undefined) return undefined;
          if (Array.isArray(v)) return null; // repeated
          return typeof v === 'string' ? v : null;
        };
        const grantType = single('grant_type');
        const assertion = single('assertion');
        if (grantType == null || assertion == null || assertion === '') {
          req.log.info({ reason: 'grant_type or assertion missing or repeated', correlationId: req.correlationId }, 'token request refused');
          return reply.code(400).send({ error: 'invalid_request', error_description: 'grant_type and assertion are each required once' });
        }
        if (grantType !== JWT_BEARER) {
          req.log.info({ reason: 'unsupported grant_type', correlationId: req.correlationId }, 'token request refused');
          return reply.code(400).send({ error: 'unsupported_grant_type', error_description: `grant_type must be ${JWT_BEARER}` });
        }
        try {
          const grant = await verifyAssertion(deps.db, assertion, {
            audiences: [tokenUrl, ...(deps.config.tokenAudience ? [deps.config.tokenAudience] : [])],
            loadIssuer: async (id) => {
              const issuer = await deps.issuers.get(id);
              return issuer && { issuerId: id, enabled: issuer.enabled, jwks: issuer.jwks, tokenEpoch: issuer.tokenEpoch };
            },
          });
          // Looked at only once the assertion verified: a spent budget refusing an unverified one would tell
          // anyone naming an issuer that it exists (an unknown issuer never spends any).
          const wait = limits.takeForIssuer(grant.issuerId);
          if (wait !== undefined) return sendSlowDown(reply, wait, 'too many tokens for this issuer');
          const token = await issueAccessToken(deps.accessTokenKey, grant);
          // Which issuer got a token and until when; never the token or the assertion.
          req.log.info({ issuerId: grant.issuerId, expiresAt: new Date(Date.now() + token.expires_in * 1000).toISOString(), correlationId: req.correlationId }, 'access token issued');
          return token;
        } catch (err) {
          if (!(err instanceof InvalidGrant)) throw err;
          req.log.info({ reason: err.message, correlationId: req.correlationId }, 'assertion refused');
          return reply.code(400).send({ error: 'invalid_grant', error_description: err.description });
        }
      },
    );
    });
  }

  