import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';

/**
 * Answers made before any route or hook runs (Node's HTTP parser, Fastify's router, the documentation's
 * static files) have the contract's body and a correlation id, like every other answer (found by the fuzzer).
 */
describe('refusals before routing', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await testApp('embedded');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await t?.close();
  });

  /**
   * Sends raw bytes and returns what the hub answered before closing. Half-closed after the request by
   * default; `keepOpen` leaves the socket open (the hub drops a half-closed socket before an answer that
   * needs the store).
   */
  const raw = (request: string, keepOpen = false) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => (keepOpen ? socket.write(request) : socket.end(request)));
      let got = '';
      socket.on('data', (d) => {
        got += d;
      });
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });

  it('headers over the size limit: 400 with the contract body and a correlation id', async () => {
    const answer = await raw(`GET /admin/v1/operations?cardId=${'x'.repeat(70_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nx-correlation-id: corr_/i);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'the request headers are too large' });
  });

  it('the same refusal to a HEAD carries no body after its headers (a client would read it as a broken answer)', async () => {
    const answer = await raw(`HEAD /admin/v1/operations?cardId=${'x'.repeat(70_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer.endsWith('\r\n\r\n')).toBe(true);
    // And through a real client, which refused the old answer ("Data after Connection: close").
    const res = await fetch(`http://127.0.0.1:${port}/admin/v1/operations?cardId=${'x'.repeat(70_000)}`, { method: 'HEAD' });
    expect(res.status).toBe(400);
  });

  it('an Expect other than 100-continue is ignored (RFC 9110 §10.1.1): the request is served, or refused in the contract body', async () => {
    const served = await raw('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: fancy-feature\r\nConnection: close\r\n\r\n');
    expect(served).toMatch(/^HTTP\/1\.1 200 /);
    const refused = await raw('GET /no/such/route HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: fancy-feature\r\nConnection: close\r\n\r\n');
    expect(refused).toMatch(/^HTTP\/1\.1 404 /);
    expect(JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4))).toMatchObject({ errorCode: 'NOT_FOUND' });
  });

  it('a request sending Authorization twice is refused, even when the first holds a valid token (Node keeps the first)', async () => {
    const refusal = { errorCode: 'FIELD_INVALID_FORMAT', error: 'authorization: the header is sent more than once; send it once' };
    const twice = await raw(`GET /admin/v1/issuers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nAuthorization: Bearer junk\r\nConnection: close\r\n\r\n`, true);
    expect(twice).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(twice.slice(twice.indexOf('\r\n\r\n') + 4))).toEqual(refusal);
    // Not hidden past Node's header-count limit (which dropped lines silently): 1,020 filler lines first.
    const buried = await raw(`GET /admin/v1/issuers HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n${'a:\r\n'.repeat(1020)}Authorization: Bearer wrong\r\n\r\n`, true);
    expect(buried).toMatch(/^HTTP\/1\.1 400 /);
    // A proxy that doubles the header is a mistake to fix, not a guess: it never locks the address out.
    for (let i = 0; i < 12; i++) expect(await raw(`GET /admin/v1/issuers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nConnection: close\r\n\r\n`, true)).toMatch(/^HTTP\/1\.1 400 /);
    // The Issuer API and the Site API say the same of their credentials.
    const issuer = await raw(`GET /banking/v1/issuers/ISSUER_001/physicalCards/c1/trackingStatus HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\nConnection: close\r\n\r\n`, true);
    expect(JSON.parse(issuer.slice(issuer.indexOf('\r\n\r\n') + 4))).toEqual(refusal);
    const site = await raw(`POST /sites/v1/production-sites/SITE-1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: a\r\nX-Api-Key: b\r\ncontent-type: application/json\r\ncontent-length: 2\r\nConnection: close\r\n\r\n{}`, true);
    expect(JSON.parse(site.slice(site.indexOf('\r\n\r\n') + 4))).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'x-api-key: the header is sent more than once; send it once' });
    const once = await raw(`GET /admin/v1/issuers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nConnection: close\r\n\r\n`, true);
    expect(once).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('a request that is not HTTP: 400 with the contract body', async () => {
    const answer = await raw('NOT HTTP AT ALL\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT' });
  });

  it("a malformed URL keeps the caller's valid correlation id", async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/admin/v1/issuers/%',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-correlation-id': 'valid-correlation_01' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-correlation-id']).toBe('valid-correlation_01');
    expect(res.json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT' });
  });

  it('a documentation path climbing out of its folder: 404 with the contract body (sent as is, over a socket)', async () => {
    // Over a socket: inject() resolves dot segments before the hub sees them, a real client need not.
    for (const path of ['/docs/static/../../../package.json', '/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/..%2f..%2fpackage.json', '/docs/static/..\\..\\package.json']) {
      const answer = await raw(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect(answer, path).toMatch(/^HTTP\/1\.1 404 /);
      expect(answer, path).toMatch(/\r\nx-correlation-id: corr_/i);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), path).toMatchObject({ errorCode: 'NOT_FOUND' });
    }
  });

  it('a path no route takes answers 404 without parsing its body (4 MB of nested brackets held the hub for seconds)', async () => {
    const deep = `${'['.repeat(1_900_000)}${']'.repeat(1_900_000)}`;
    const started = performance.now();
    const res = await t.app.inject({ method: 'POST', url: '/nothing-here', headers: { 'content-type': 'application/json' }, payload: deep });
    const ms = performance.now() - started;
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ errorCode: 'NOT_FOUND' });
    // Not parsed: a broken body is not a 400 either on a path with no route.
    const broken = await t.app.inject({ method: 'POST', url: '/nothing-here', headers: { 'content-type': 'application/json' }, payload: '{"a":' });
    expect(broken.statusCode).toBe(404);
    // Parsing it took 2.6–7 s on this machine; reading 3.8 MB takes a few ms. Generous for a loaded CI box.
    expect(ms).toBeLessThan(1500);
    // A route still parses (and refuses) a broken body.
    const routed = await t.app.inject({ method: 'POST', url: '/admin/v1/issuers/BANK_X_001/replay', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, payload: '{"a":' });
    expect(routed.statusCode).toBe(400);
  });
});
