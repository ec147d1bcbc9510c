import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxNumbers } from '../../src/sandbox/numbers.ts';
import { assertion, issuerKey, JWT_BEARER, tokenUrl } from '../helpers/issuer.ts';
import { freePort, type Proc, receiver, runCli, stop, waitFor, waitReady } from '../helpers/processes.ts';
import { tempDir } from '../helpers/stores.ts';

/**
 * Runs a whole story through a real hub at debug level and then searches everything it printed, and
 * everything the Admin API answered, for each secret it was given or made.
 */
describe('secrets never reach the logs or API responses', () => {
  const ADMIN = 'secrets-admin-token-ABCDEF0123456789';
  const ISSUER = 'ISSUER_SEC';
  const FEDEX_SECRET = 'fedex-client-secret-QWERTY987654';
  const NOTIFY_CLIENT_SECRET = 'issuer-oauth-client-secret-ZXCV5555';
  const WEBHOOK_SECRET = `whsec_${Buffer.from('a-webhook-signing-secret-of-32-bytes!').toString('base64')}`;
  const SITE_KEY = 'sk_site_api_key_for_the_secrets_test_0001';
  let hub: Proc | undefined;
  let hubUrl: string;
  let dir: string;
  let rx: Awaited<ReturnType<typeof receiver>>;
  const responses: string[] = [];
  let accessToken = '';
  let signedAssertion = '';

  beforeAll(async () => {
    dir = tempDir('trackhub-secrets');
    rx = await receiver(() => 204);
    const port = await freePort();
    hubUrl = `http://127.0.0.1:${port}`;
    hub = runCli(['serve', '--sandbox'], {
      TRACKHUB_DATABASE_URL: `embedded://${dir}/pg`,
      TRACKHUB_PORT: String(port),
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      TRACKHUB_CARRIER_FEDEX_CLIENT_ID: 'secrets-test-client',
      TRACKHUB_CARRIER_FEDEX_CLIENT_SECRET: FEDEX_SECRET,
      TRACKHUB_SANDBOX_SPEED: '36000',
      TRACKHUB_POLL_MIN_INTERVAL: '150ms',
      TRACKHUB_POLL_MAX_INTERVAL: '600ms',
      TRACKHUB_LOG_LEVEL: 'trace',
    });
    await waitReady(hubUrl, hub);
  });

  afterAll(async () => {
    await stop(hub);
    await rx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (path: string, init: RequestInit & { headers?: Record<string, string> }) => {
    const res = await fetch(`${hubUrl}${path}`, init);
    const text = await res.text();
    responses.push(text);
    return { status: res.status, text };
  };
  const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

  it('a full story at trace level prints none of the secrets', async () => {
    const key = await issuerKey();
    const put = await call(`/admin/v1/issuers/${ISSUER}`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({
        name: 'Secret Bank',
        notificationBaseUrl: rx.url,
        jwks: { keys: [key.publicJwk] },
        webhookSecret: WEBHOOK_SECRET,
        notificationAuth: { tokenUrl: `${rx.url}/oauth/token`, clientId: 'bank-client', clientSecret: NOTIFY_CLIENT_SECRET },
      }),
    });
    expect(put.status).toBe(201);
    expect((await call('/admin/v1/production-sites/SecretSite', { method: 'PUT', headers: admin, body: JSON.stringify({ name: 'Secret bureau', apiKey: SITE_KEY }) })).status).toBe(201);
    signedAssertion = await assertion(ISSUER, key, { aud: tokenUrl(hubUrl) });
    const tok = await call('/authz/v1/oauth2/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: signedAssertion }).toString(),
    });
    expect(tok.status).toBe(200);
    accessToken = JSON.parse(tok.text).access_token;
    responses.pop(); // the token response is where the access token is meant to be
    // A refused call with the secret in the wrong place, which error logging might echo.
    expect((await call('/authz/v1/oauth2/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=${JWT_BEARER}&assertion=${signedAssertion}x` })).status).toBe(400);

    const number = sandboxNumbers().find((n) => n.scenario === 'delivered' && n.carrier === 'fedex')?.trackingNumber as string;
    const tracked = await call(`/banking/v1/issuers/${ISSUER}/physicalCards/CARD_SECRET/track`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ trackingType: 'SHIPMENT', trackingNumber: number }),
    });
    expect(tracked.status).toBe(202);
    // Carrier polls happened (the sandbox FedEx OAuth with the client secret) and notifications were tried.
    // The log line itself, not the word: the start-up line lists migrations, one of them named for notifications.
    await waitFor('a notification attempt', () => (rx.received.length > 0 && hub?.output().includes('"msg":"notification attempt"')) || undefined, 30_000);
    await waitFor('a carrier poll', async () => {
      const m = await (await fetch(`${hubUrl}/metrics`)).text();
      return /trackhub_carrier_polls_total\{[^}]*result="found"[^}]*\} [1-9]/.test(m) || undefined;
    }, 30_000);
    for (const path of [`/admin/v1/issuers/${ISSUER}`, '/admin/v1/issuers', '/admin/v1/production-sites/SecretSite', '/admin/v1/operations']) {
      const read = await call(path, { headers: admin });
      expect(read.status, path).toBe(200);
    }

    const output = hub?.output() ?? '';
    // Debug level really printed the story: requests and notification attempts.
    expect(output).toMatch(/"level":20,.*"msg":"request"/);
    expect(output).toMatch(/"level":20,.*"msg":"notification attempt"/);
    // The embedded PostgreSQL's own log too (it logs failed statements, never their parameters).
    const postgresLog = readFileSync(join(dir, 'pg', 'postgres.log'), 'utf8');
    const everything = `${output}\n${postgresLog}\n${responses.join('\n')}`;
    const webhookKey = WEBHOOK_SECRET.slice('whsec_'.length);
    for (const [name, secret] of Object.entries({ ADMIN, FEDEX_SECRET, NOTIFY_CLIENT_SECRET, webhookKey, SITE_KEY, accessToken, signedAssertion })) {
      expect(everything.includes(secret), `${name} leaked`).toBe(false);
    }
  });
});
