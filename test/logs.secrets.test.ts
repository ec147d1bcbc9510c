import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccessTokenVerifier, loadAccessTokenKey } from '../src/auth/tokens.ts';
import { providerSettings } from '../src/carriers/settings.ts';
import { loadConfig, policyOf } from '../src/config.ts';
import { buildApp } from '../src/http/app.ts';
import { installErrorHandling } from '../src/http/errors.ts';
import { providerConfigs } from '../src/hub.ts';
import { createLogger } from '../src/logger.ts';
import { buildContext } from '../src/operations/context.ts';
import { IssuerDirectory } from '../src/store/issuers.ts';
import { ADMIN_TOKEN } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';
import { freshStore, STORE_KINDS, type TestStore, tempDir } from './helpers/stores.ts';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const WEBHOOK_SECRET = `whsec_${Buffer.from('log-test-webhook-secret-0123456789').toString('base64')}`;
const CLIENT_SECRET = 'log-test-client-secret-9f8e7d6c5b4a';

/** A client certificate and its key, made with openssl (node:crypto cannot sign certificates). */
let certificatePem = '';
let privateKeyPem = '';
beforeAll(() => {
  const dir = tempDir('trackhub-logs-cert');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=hub'], { cwd: dir, stdio: 'pipe' });
  certificatePem = readFileSync(join(dir, 'c.pem'), 'utf8');
  privateKeyPem = readFileSync(join(dir, 'k.pem'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
});

/** The body of a PEM key without its armour lines: what would show if any part of the key were logged. */
function keyBody(pem: string): string[] {
  return pem.split('\n').filter((l) => l && !l.startsWith('-----'));
}

/** The hub's HTTP app over a fresh store, with everything it logs (from debug up) captured. */
async function appWithCapturedLog(store: TestStore): Promise<{ app: FastifyInstance; logged: () => string }> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = createLogger('debug', sink);
  const config = loadConfig({ TRACKHUB_ADMIN_TOKEN: ADMIN_TOKEN, TRACKHUB_LOG_LEVEL: 'debug', TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' });
  const key = await loadAccessTokenKey(store.db);
  const app = await buildApp({
    config,
    db: store.db,
    storeKind: store.kind,
    hub: buildContext({ db: store.db, log, policy: policyOf(config) }),
    issuers: new IssuerDirectory(store.db),
    tokens: new AccessTokenVerifier(key),
    accessTokenKey: key,
    log,
    carriers: providerSettings(providerConfigs(config, 'http://127.0.0.1')),
  });
  return { app, logged: () => lines.join('') };
}

describe.each(STORE_KINDS)('no secrets in logs on %s', (kind) => {
  let store: TestStore | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await store?.close();
    app = undefined;
    store = undefined;
  });

  async function putWithSecrets(name: string, extra: Record<string, unknown> = {}) {
    const key = await issuerKey();
    return (app as FastifyInstance).inject({
      method: 'PUT',
      url: '/admin/v1/issuers/ISSUER_LG1',
      headers: auth,
      payload: {
        name,
        notificationBaseUrl: 'https://bank.example',
        jwks: { keys: [key.publicJwk] },
        webhookSecret: WEBHOOK_SECRET,
        notificationAuth: { tokenUrl: 'https://bank.example/token', clientId: 'hub', clientSecret: CLIENT_SECRET },
        notificationTls: { certificatePem, privateKeyPem },
        ...extra,
      },
    });
  }

  /** Neither a secret nor its end: PostgreSQL quotes the last 30 or so characters before a bad one. */
  function expectNoSecret(text: string) {
    for (const secret of [WEBHOOK_SECRET.slice(6), CLIENT_SECRET]) expect(text).not.toContain(secret.slice(-16));
    for (const line of keyBody(privateKeyPem)) expect(text).not.toContain(line.slice(-16));
  }

  it('a NUL in an issuer name is refused at validation naming the field; no secret of the request is logged', async () => {
    store = await freshStore(kind);
    const captured = await appWithCapturedLog(store);
    app = captured.app;
    const res = await putWithSecrets('Bank\u0000of logs');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^name: /) });
    expectNoSecret(res.body);
    expectNoSecret(captured.logged());
    // Nothing was stored.
    expect(await store.db.selectFrom('issuers').select('issuer_id').execute()).toEqual([]);
  });

  it('a NUL at the end of the client secret is refused naming the field; the secrets stored beside it are not logged', async () => {
    store = await freshStore(kind);
    const captured = await appWithCapturedLog(store);
    app = captured.app;
    // Stored as jsonb, a NUL made PostgreSQL quote the JSON text up to it (the secret) in its error.
    const res = await putWithSecrets('Bank', { notificationAuth: { tokenUrl: 'https://bank.example/token', clientId: 'hub', clientSecret: `${CLIENT_SECRET}\u0000` } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^notificationAuth\.clientSecret: /) });
    expectNoSecret(res.body);
    expectNoSecret(captured.logged());
  });

  it('a store error is logged without the statement\'s values, wherever the hub logs it', async () => {
    store = await freshStore(kind);
    const lines: string[] = [];
    const log = createLogger('debug', new Writable({ write: (chunk, _enc, done) => done(void lines.push(String(chunk))) }));
    // Real refusals by the store: the `where` of a bad JSON text quotes it up to the NUL (the end of the
    // secret before it), and a bad number's message quotes the value.
    const json = JSON.stringify({ clientId: 'hub', clientSecret: CLIENT_SECRET }).replace(/"}$/, '\\u0000"}');
    const refusal = (q: ReturnType<typeof sql>) => q.execute((store as TestStore).db).then(() => undefined, (e: unknown) => e);
    const inJson = await refusal(sql`select ${json}::jsonb as v`);
    const asNumber = await refusal(sql`select ${CLIENT_SECRET}::int as v`);
    expect(inJson).toMatchObject({ code: '22P05' });
    expect(asNumber).toMatchObject({ code: '22P02' });
    // What the logs used to carry:
    expect(JSON.stringify({ ...(inJson as object) })).toContain(CLIENT_SECRET.slice(-16));
    expect((asNumber as Error).message).toContain(CLIENT_SECRET);
    for (const err of [inJson, asNumber]) {
      log.error({ err }, 'a worker round failed');
      log.child({ reqId: 'r1' }).warn({ err, issuerId: 'ISSUER_LG1' }, 'a request failed');
    }
    const logged = lines.join('');
    expectNoSecret(logged);
    expect(logged).toContain('"code":"22P05"');
    expect(logged).toContain('invalid input syntax for type integer');
    expect(logged).not.toMatch(/"(where|detail)":/);

    // The HTTP error handler: a route whose statement the store refuses answers the contract's 400.
    // Typed as the hub's app is (a pino Logger instance makes Fastify's generics differ, not its behaviour).
    const http = Fastify({ loggerInstance: log }) as unknown as FastifyInstance;
    installErrorHandling(http);
    http.post('/x', async () => sql`select ${json}::jsonb as v, ${CLIENT_SECRET}::int as n`.execute((store as TestStore).db));
    app = http;
    const before = lines.length;
    const res = await http.inject({ method: 'POST', url: '/x' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'a request value is not valid text, number or time' });
    const handlerLog = lines.slice(before).join('');
    expect(handlerLog).toContain('store refused a request value');
    expectNoSecret(handlerLog);
  });

  it('a lone surrogate in an admin string field is refused naming the field', async () => {
    store = await freshStore(kind);
    const captured = await appWithCapturedLog(store);
    app = captured.app;
    const name = await putWithSecrets('Bank \ud800 of logs');
    expect(name.statusCode).toBe(400);
    expect(name.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^name: /) });
    const clientId = await putWithSecrets('Bank', { notificationAuth: { tokenUrl: 'https://bank.example/token', clientId: 'hub\u0000', clientSecret: CLIENT_SECRET } });
    expect(clientId.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^notificationAuth\.clientId: /) });
    const site = await app.inject({ method: 'PUT', url: '/admin/v1/production-sites/SITE-LOGS', headers: auth, payload: { name: 'Bureau\u0000' } });
    expect(site.statusCode).toBe(400);
    expect(site.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^name: /) });
    expectNoSecret(captured.logged());
  });
});
