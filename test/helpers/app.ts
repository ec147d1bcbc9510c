import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AccessTokenVerifier, loadAccessTokenKey } from '../../src/auth/tokens.ts';
import { providerSettings } from '../../src/carriers/settings.ts';
import { type Config, loadConfig, policyOf } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import type { ConsoleReadLimits } from '../../src/http/console-reads.ts';
import { providerConfigs } from '../../src/hub.ts';
import { createLogger } from '../../src/logger.ts';
import { buildContext, type HubContext } from '../../src/operations/context.ts';
import { IssuerDirectory } from '../../src/store/issuers.ts';
import { assertion, issuerKey, JWT_BEARER, type TestIssuerKey } from './issuer.ts';
import { freshStore, type StoreKind, type TestStore } from './stores.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestApp {
  app: FastifyInstance;
  store: TestStore;
  config: Config;
  context: HubContext;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Another instance on this store (not closed with the app), instead of a fresh store. */
  store?: TestStore;
  /** The clock of the issuer cache (production TTL), so a test can move past it. */
  issuerClock?: () => number;
  /** The issuer directory, for a test that looks into it (one on the store, with `issuerClock`, by default). */
  issuers?: IssuerDirectory;
  /** The app's logger, for a test that reads what the app logs (silent by default). */
  log?: Logger;
  /** Bounds on the console's reads (src/http/console-reads.ts), for a test that hits them quickly. */
  consoleReadLimits?: Partial<ConsoleReadLimits>;
}

/** The HTTP app over a fresh store, driven with inject(): no socket, real store, real auth. */
export async function testApp(kind: StoreKind, env: Record<string, string> = {}, opts: TestAppOptions = {}): Promise<TestApp> {
  const store = opts.store ?? (await freshStore(kind));
  const config = loadConfig({ TRACKHUB_ADMIN_TOKEN: ADMIN_TOKEN, TRACKHUB_LOG_LEVEL: 'silent', ...env });
  // TRACKHUB_TEST_LOG=debug shows what the app logs (silent by default).
  const log = opts.log ?? createLogger((process.env.TRACKHUB_TEST_LOG as 'debug' | undefined) ?? 'silent');
  const context = buildContext({ db: store.db, log, policy: policyOf(config) });
  const key = await loadAccessTokenKey(store.db);
  const app = await buildApp({
    config,
    db: store.db,
    storeKind: store.kind,
    hub: context,
    issuers: opts.issuers ?? new IssuerDirectory(store.db, { now: opts.issuerClock }),
    tokens: new AccessTokenVerifier(key),
    accessTokenKey: key,
    log,
    carriers: providerSettings(providerConfigs(config, 'http://127.0.0.1')),
    consoleReadLimits: opts.consoleReadLimits,
    consoleDb: store.console,
  });
  return {
    app,
    store,
    config,
    context,
    async close() {
      await app.close();
      if (!opts.store) await store.close();
    },
  };
}

export async function putIssuer(app: FastifyInstance, issuerId: string, key: TestIssuerKey, extra: Record<string, unknown> = {}) {
  const res = await app.inject({
    method: 'PUT',
    url: `/admin/v1/issuers/${issuerId}`,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { name: `Bank ${issuerId}`, notificationBaseUrl: 'https://bank.example', jwks: { keys: [key.publicJwk] }, ...extra },
  });
  if (res.statusCode >= 300) throw new Error(`PUT issuer failed: ${res.statusCode} ${res.body}`);
  return res.json() as { webhookSecret?: string };
}

export async function accessToken(app: FastifyInstance, issuerId: string, key: TestIssuerKey): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/authz/v1/oauth2/token',
    payload: { grant_type: JWT_BEARER, assertion: await assertion(issuerId, key) },
  });
  if (res.statusCode !== 200) throw new Error(`token failed: ${res.statusCode} ${res.body}`);
  return (res.json() as { access_token: string }).access_token;
}

/** An issuer registered and holding an access token. */
export async function readyIssuer(app: FastifyInstance, issuerId: string) {
  const key = await issuerKey();
  const registered = await putIssuer(app, issuerId, key);
  const token = await accessToken(app, issuerId, key);
  return { key, token, webhookSecret: registered.webhookSecret as string };
}

