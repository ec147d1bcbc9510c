import type { FastifyRequest } from 'fastify';
import { tokenBinding } from '../auth/tokens.ts';
import { ApiError } from '../domain/errors.ts';
import { ISSUER_ID } from '../domain/track-request.ts';
import { bearerToken, refuseRepeatedCredential } from './admin-auth.ts';
import type { HttpDeps } from './app.ts';

/**
 * What every Issuer API route asks of a request for the issuer in its path: a live access token of that
 * very issuer (401 without, 403 for another issuer's), an issuer id of the right form, the issuer enabled,
 * and the token granted under the issuer's current keys. Shared by the track routes and the catch-up feed.
 */
export async function requireIssuerGrant(req: FastifyRequest, deps: Pick<HttpDeps, 'tokens' | 'issuers'>, issuerId: string): Promise<void> {
  refuseRepeatedCredential(req, 'authorization');
  const token = bearerToken(req);
  const grant = token ? await deps.tokens.verify(token) : undefined;
  if (!grant) throw new ApiError('AUTHORIZER_UNAUTHORIZED', 'missing, malformed, expired or forged access token');
  if (grant.issuerId !== issuerId) throw new ApiError('FORBIDDEN', 'the access token belongs to another issuer');
  if (!ISSUER_ID.test(issuerId)) throw new ApiError('FIELD_INVALID_FORMAT', 'issuerId: must be 10 of [A-Za-z0-9_-]');
  const issuer = await deps.issuers.get(issuerId);
  if (!issuer?.enabled) throw new ApiError('FORBIDDEN', 'the issuer is disabled');
  // Keys rotated, or the issuer disabled, since the token was granted: the token dies (at once here
  // when this instance took the change, within the issuer cache's TTL elsewhere), and stays dead.
  if ((await tokenBinding(issuer)) !== grant.issuerKeys) {
    throw new ApiError('AUTHORIZER_UNAUTHORIZED', 'the access token was granted before the issuer was re-keyed or disabled');
  }
}
