import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertion, issuerKey, JWT_BEARER, tokenUrl } from '../helpers/issuer.ts';
import { freePort, type Proc, runCli, stop, waitFor, waitReady } from '../helpers/processes.ts';
import { freshPostgresDatabase } from '../helpers/stores.ts';

/**
 * A TCP relay between the hub and PostgreSQL that the test can cut and restore: the store going away
 * and coming back, as a network partition or a database restart looks to the hub. The server is
 * reached on its TCP port, or on its Unix socket when the test's PostgreSQL is the stand-in started from
 * the embedded binaries (test/global-setup.ts).
 */
async function relay(target: { port: number } | { path: string }) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const port = await freePort();
  const up = () =>
    new Promise<void>((resolve) => {
      if (server) return resolve();
      server = createServer((client) => {
        const upstream = 'path' in target ? connect(target.path) : connect(target.port, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const down = () =>
    new Promise<void>((resolve) => {
      const closing = server;
      server = undefined;
      for (const s of sockets) s.destroy();
      if (closing) closing.close(() => resolve());
      else resolve();
    });
  await up();
  return { port, up, down };
}

const ADMIN = 'outage-admin-token-0123456789abcdef';
const ISSUER = 'ISSUER_OUT';
// An external PostgreSQL can go away under a running hub; the embedded one is the hub's own child.
describe('the store goes away and comes back (PostgreSQL)', () => {
  let hub: Proc | undefined;
  let hubUrl: string;
  let link: Awaited<ReturnType<typeof relay>>;
  let drop: () => Promise<void> = async () => {};
  let token: string;

  const track = (cardId: string) =>
    fetch(`${hubUrl}/banking/v1/issuers/${ISSUER}/physicalCards/${cardId}/track`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ trackingType: 'PRODUCTION' }),
    });

  beforeAll(async () => {
    const db = await freshPostgresDatabase();
    drop = db.drop;
    const target = new URL(db.url);
    const socketFolder = target.searchParams.get('host');
    link = await relay(socketFolder ? { path: `${socketFolder}/.s.PGSQL.${target.port || 5432}` } : { port: Number(target.port || 5432) });
    target.searchParams.delete('host');
    target.hostname = '127.0.0.1';
    target.port = String(link.port);
    const port = await freePort();
    hubUrl = `http://127.0.0.1:${port}`;
    hub = runCli(['serve'], {
      TRACKHUB_DATABASE_URL: target.toString(),
      TRACKHUB_PORT: String(port),
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      TRACKHUB_ROLE: 'api',
      TRACKHUB_LOG_LEVEL: 'warn',
    });
    await waitReady(hubUrl, hub);
    const key = await issuerKey();
    const put = await fetch(`${hubUrl}/admin/v1/issuers/${ISSUER}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Outage Bank', notificationBaseUrl: 'https://bank.example', jwks: { keys: [key.publicJwk] } }),
    });
    expect(put.status, await put.clone().text()).toBe(201);
    const tokenRes = await fetch(`${hubUrl}/authz/v1/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion(ISSUER, key, { aud: tokenUrl(hubUrl) }) }),
    });
    expect(tokenRes.status).toBe(200);
    token = ((await tokenRes.json()) as { access_token: string }).access_token;
  });

  afterAll(async () => {
    await stop(hub);
    await link?.up().catch(() => {});
    await drop();
  });

  it('answers 503 with Retry-After and the contract body while the store is down, and recovers without a restart', async () => {
    const before = await track('CARD_BEFORE');
    expect(before.status).toBe(202);

    await link.down();
    // A keep-alive socket the server is just closing can fail a request on a loaded machine; one retry on
    // a fresh socket tells that apart from a hub that died (checked just below).
    const during = await track('CARD_DURING').catch(() =>
      track('CARD_DURING').catch((err) => {
        throw new Error(`${err.message}; hub output: ${hub?.output().slice(-3000)}`);
      }),
    );
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
    expect(await during.json()).toEqual({ errorCode: 'SERVICE_UNAVAILABLE', error: expect.any(String) });
    const ready = await fetch(`${hubUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect((await fetch(`${hubUrl}/healthz`)).status).toBe(200);
    expect(hub?.child.exitCode, hub?.output().slice(-3000)).toBeNull();

    await link.up();
    await waitFor('readyz after the store is back', async () => (await fetch(`${hubUrl}/readyz`)).ok || undefined, 30_000, 200);
    const after = await track('CARD_DURING');
    expect(after.status).toBe(202);
    // The operation accepted before the outage is still there.
    const status = await fetch(`${hubUrl}/banking/v1/issuers/${ISSUER}/physicalCards/CARD_BEFORE/trackingStatus`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(status.status).toBe(200);
    expect(((await status.json()) as { operations: unknown[] }).operations).toHaveLength(1);
    expect(hub?.output()).not.toMatch(/"level":60|unhandled error/);
  });
});
