import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki, type Pki } from '../helpers/pki.ts';
import { freePort, type Proc, runCli, stop, waitFor } from '../helpers/processes.ts';
import { childProcessStore } from '../helpers/stores.ts';

/**
 * Inbound mutual TLS: `trackhub serve` with TRACKHUB_TLS_CERT/KEY and TRACKHUB_TLS_CA requires a client
 * certificate issued by that CA on every connection, with certificates made at test time. A refused
 * client gets no HTTP answer at all (the handshake ends it), and the hub logs why.
 */
const ADMIN = 'mtls-admin-token-0123456789abcdef0123';

type Answer = { status: number; body: string } | { error: string };

function get(port: number, path: string, pki: Pki, client?: { key: string; cert: string }, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, ca: pki.caCert, ...(client ?? {}), headers, agent: false, timeout: 10_000 },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

describe('inbound mTLS (TRACKHUB_TLS_CA)', () => {
  let pki: Pki;
  let store: Awaited<ReturnType<typeof childProcessStore>>;
  let hub: Proc | undefined;
  let port: number;

  beforeAll(async () => {
    pki = makePki();
    store = await childProcessStore('embedded', 'trackhub-mtls');
    port = await freePort();
    hub = runCli(['serve'], {
      TRACKHUB_DATABASE_URL: store.url,
      TRACKHUB_DATA_DIR: store.dir,
      TRACKHUB_PORT: String(port),
      TRACKHUB_PUBLIC_URL: `https://127.0.0.1:${port}`,
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      TRACKHUB_TLS_CERT: join(pki.dir, 'server.crt'),
      TRACKHUB_TLS_KEY: join(pki.dir, 'server.key'),
      TRACKHUB_TLS_CA: join(pki.dir, 'ca.crt'),
      TRACKHUB_LOG_LEVEL: 'info',
    });
    const client = { key: pki.clientKey, cert: pki.clientCert };
    await waitFor(`the hub to answer over mTLS (${hub.output().slice(-2000)})`, async () => {
      const a = await get(port, '/readyz', pki, client);
      return 'status' in a && a.status === 200 ? true : undefined;
    }, 60_000, 200);
  }, 120_000);

  afterAll(async () => {
    await stop(hub);
    await store?.cleanup();
  });

  it('serves a client whose certificate the CA issued: health, and the Admin API behind its token', async () => {
    const client = { key: pki.clientKey, cert: pki.clientCert };
    expect(await get(port, '/healthz', pki, client)).toMatchObject({ status: 200 });
    const list = await get(port, '/admin/v1/issuers', pki, client, { authorization: `Bearer ${ADMIN}` });
    expect(list).toMatchObject({ status: 200 });
    // The certificate opens the connection, not the API: without the admin token it is still refused.
    expect(await get(port, '/admin/v1/issuers', pki, client)).toMatchObject({ status: 401 });
  });

  it.each([
    ['no certificate', () => undefined],
    ['a certificate from another CA (same name)', () => ({ key: pki.strangerKey, cert: pki.strangerCert })],
    ['an expired certificate from the right CA', () => ({ key: pki.expiredKey, cert: pki.expiredCert })],
  ])('refuses %s in the handshake: no HTTP answer', async (_what, client) => {
    const answer = await get(port, '/healthz', pki, client());
    expect(answer).toHaveProperty('error');
    expect('status' in answer).toBe(false);
  });

  it('logs each refused handshake with its reason, and no certificate or key material', async () => {
    await get(port, '/healthz', pki, { key: pki.expiredKey, cert: pki.expiredCert });
    await get(port, '/healthz', pki, { key: pki.strangerKey, cert: pki.strangerCert });
    const log = await waitFor('the refusals logged', () => {
      const out = hub?.output() ?? '';
      return /CERT_HAS_EXPIRED/.test(out) && /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/.test(out) ? out : undefined;
    }, 20_000, 50);
    expect(log).toMatch(/client certificate refused \(mTLS\)/);
    expect(log).not.toContain('BEGIN');
  });
});
