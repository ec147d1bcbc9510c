/**
 * What a benchmark does before it sends track requests: register an issuer on a running hub through the
 * Admin API (a fresh ES256 key, its notification URL) and get an access token the way a bank does.
 */
import { assertion, issuerKey, JWT_BEARER, tokenUrl } from '../../test/helpers/issuer.ts';

/** Registers (or replaces) the issuer and returns a Bearer access token for it (15 minutes). */
export async function benchIssuer(base: string, adminToken: string, issuerId: string, notificationBaseUrl: string): Promise<string> {
  const key = await issuerKey();
  const put = await fetch(`${base}/admin/v1/issuers/${issuerId}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `Bench ${issuerId}`, notificationBaseUrl, jwks: { keys: [key.publicJwk] } }),
  });
  if (!put.ok) throw new Error(`issuer ${issuerId} not registered: ${put.status} ${await put.text()}`);
  const tok = await fetch(tokenUrl(base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: JWT_BEARER, assertion: await assertion(issuerId, key, { aud: tokenUrl(base) }) }),
  });
  if (!tok.ok) throw new Error(`no access token for ${issuerId}: ${tok.status} ${await tok.text()}`);
  return (await tok.json()).access_token as string;
}
