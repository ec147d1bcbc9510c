import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { startOperatorAlerts } from './alerts/index.ts';
import { AccessTokenVerifier, loadAccessTokenKey } from './auth/tokens.ts';
import { CarrierFigureFlusher } from './carriers/figures.ts';
import { undiciHttpClient } from './carriers/http.ts';
import { createCarrierRouting, servedDetection } from './carriers/index.ts';
import { PROVIDER_NAMES, type ProviderConfig, type ProviderName } from './carriers/provider.ts';
import { PROVIDERS } from './carriers/registry.ts';
import { providerSettings } from './carriers/settings.ts';
import { setUnknownCodeLogger } from './carriers/unknown.ts';
import { type Config, policyOf } from './config.ts';
import { Dispatcher } from './delivery/dispatcher.ts';
import { buildApp } from './http/app.ts';
import { buildOpsApp } from './http/ops-app.ts';
import { logRefusedClientCertificates } from './http/server-options.ts';
import { buildContext, type HubContext } from './operations/context.ts';
import { Retention } from './operations/retention.ts';
import { Poller } from './polling/poller.ts';
import { SANDBOX_RATE_LIMIT } from './polling/rate-limit.ts';
import { UpsTrackAlertSubscriber } from './polling/ups-track-alert.ts';
import { registerSandbox, sandboxBaseUrl } from './sandbox/server.ts';
import { InboxWatcher } from './sites/inbox.ts';
import { migrate, type OpenedStore, openStore } from './store/db.ts';
import { IssuerDirectory } from './store/issuers.ts';
import { openSecrets } from './store/secrets.ts';

export interface RunningHub {
  /** The API's address; empty for a worker-only process. */
  url: string;
  /** A worker-only process's /healthz, /readyz and /metrics (TRACKHUB_OPS_PORT); empty when none. */
  opsUrl: string;
  app?: FastifyInstance;
  context: HubContext;
  close(): Promise<void>;
}

/** Where each provider is reached: its configured origin, or the in-process sandbox when asked for. */
export function providerConfigs(config: Config, sandboxOrigin: string): Record<ProviderName, ProviderConfig & { usable: boolean }> {
  const out = {} as Record<ProviderName, ProviderConfig & { usable: boolean }>;
  for (const name of PROVIDER_NAMES) {
    const c = config.carriers[name];
    const useSandbox = config.sandbox && !c.explicitBaseUrl;
    const hasCredentials = Boolean(c.apiKey || (c.clientId && c.clientSecret));
    out[name] = useSandbox
      ? { ...c, usable: true, baseUrl: sandboxBaseUrl(sandboxOrigin, name), clientId: c.clientId ?? 'sandbox', clientSecret: c.clientSecret ?? 'sandbox', apiKey: c.apiKey ?? 'sandbox', rateLimit: c.rateLimit ?? SANDBOX_RATE_LIMIT }
      : { ...c, usable: hasCredentials || c.explicitBaseUrl, rateLimit: c.rateLimit ?? PROVIDERS[name].defaultRateLimit };
  }
  return out;
}

/** Starts the hub in the configured role: the HTTP API, the workers (poller + dispatcher), or both. */
export async function startHub(config: Config, log: Logger): Promise<RunningHub> {
  setUnknownCodeLogger((msg, fields) => log.warn(fields, msg));
  for (const { name, nearest } of config.unknownVariables) {
    log.warn({ variable: name, ...(nearest ? { nearest } : {}) }, nearest ? `${name} is not a setting the hub reads: did you mean ${nearest}?` : `${name} is not a setting the hub reads (see the README's configuration tables)`);
  }
  const store = await openStore(config.databaseUrl, {
    hub: true,
    // A hub whose embedded server died cannot do its work: it exits, and its next start starts the server.
    onServerLost: () => {
      log.fatal('the embedded PostgreSQL stopped under the hub; exiting (start the hub again to restart it)');
      process.exit(1);
    },
  });
  try {
    return await startOnStore(config, log, store);
  } catch (err) {
    // A hub that cannot start (its port taken, say) leaves nothing behind: the embedded server stops too.
    await store.close().catch(() => {});
    throw err;
  }
}

async function startOnStore(config: Config, log: Logger, store: OpenedStore): Promise<RunningHub> {
  const applied = await migrate(store.db);
  if (applied.length > 0) log.info({ applied }, 'migrations applied');
  // Before anything reads a secret: a wrong master key stops start-up here, with one line.
  const secrets = await openSecrets(store.db, { configured: config.secretKey, dataDir: config.dataDir }, (message) => log.warn(message));
  if (secrets.sealed > 0) log.info({ rows: secrets.sealed }, 'stored secrets sealed under the master key');

  const runsApi = config.role !== 'worker';
  const runsWorkers = config.role !== 'api';
  let dispatcher: Dispatcher | undefined;
  let poller: Poller | undefined;
  let upsAlerts: UpsTrackAlertSubscriber | undefined;

  const context = buildContext({
    db: store.db,
    relaxedDb: store.relaxed,
    log,
    policy: policyOf(config),
    // Which providers can ask is known from the configuration alone, in every role.
    detect: servedDetection(
      Object.fromEntries(Object.entries(providerConfigs(config, '')).map(([name, c]) => [name, c.usable])) as Record<ProviderName, boolean>,
      config.carrierRoutes,
    ),
    kickDelivery: () => dispatcher?.kick(),
    kickPolling: () => poller?.kick(),
  });

  const carrierHttp = undiciHttpClient();
  if (runsWorkers) {
    dispatcher = new Dispatcher({
      db: store.db, relaxedDb: store.relaxed, log, retryScheduleMs: config.retryScheduleMs, leaseMs: config.leaseMs, allowPrivateTargets: config.allowPrivateTargets,
      timeoutMs: config.deliveryTimeoutMs,
      listenUrl: store.connectionUrl,
      now: () => context.now().getTime(),
    });
  }

  let app: FastifyInstance | undefined;
  let url = '';
  if (runsApi) {
    const accessTokenKey = await loadAccessTokenKey(store.db);
    app = await buildApp(
      {
        config,
        db: store.db,
        storeKind: store.kind,
        consoleDb: store.console,
        hub: context,
        issuers: new IssuerDirectory(store.db),
        tokens: new AccessTokenVerifier(accessTokenKey),
        accessTokenKey,
        log,
        // The sandbox's origin changes only where a provider is reached, not what the view shows.
        carriers: providerSettings(providerConfigs(config, config.publicUrl)),
        extraRoutes: config.sandbox ? (a) => registerSandbox(a, config.sandboxSpeed) : undefined,
      },
      serverTls(config),
    );
    if (config.tls?.ca) logRefusedClientCertificates(app, log);
    url = await app.listen({ host: config.host, port: config.port });
  }
  // A worker-only process has no API: its health and its own counters get a small server when asked.
  let opsApp: FastifyInstance | undefined;
  let opsUrl = '';
  if (!runsApi && config.opsPort !== undefined) {
    opsApp = await buildOpsApp({ config, db: store.db, storeKind: store.kind, log }, serverTls(config));
    if (config.tls?.ca) logRefusedClientCertificates(opsApp, log);
    opsUrl = await opsApp.listen({ host: config.host, port: config.opsPort });
  }
  if (runsWorkers) {
    // Created after the listener: an in-process sandbox is reached on the port actually bound.
    const port = app ? (app.server.address() as { port: number }).port : config.port;
    const loopbackOrigin = `${config.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const idleWaitMs = Math.min(1000, Math.max(50, Math.floor(config.pollMinIntervalMs / 4)));
    const configs = providerConfigs(config, loopbackOrigin);
    const { providers, routes } = createCarrierRouting(configs, carrierHttp.http, config.carrierRoutes);
    if (providers.size === 0) log.warn('no carrier provider is configured: SHIPMENT operations will only time out');
    const rateLimits = Object.fromEntries(PROVIDER_NAMES.map((n) => [n, configs[n].rateLimit]));
    poller = new Poller(context, { providers, routes, idleWaitMs, rateLimits });
    const ups = configs.ups;
    if (ups.usable && ups.webhookSecret) {
      upsAlerts = new UpsTrackAlertSubscriber(context, { config: { ...ups, webhookSecret: ups.webhookSecret }, http: carrierHttp.http, callbackUrl: `${config.publicUrl}/carriers/v1/ups/webhook` });
    }
  }
  // Unknown carrier codes (both roles) and accepted pushes (the API) reach the store from every process.
  const figures = new CarrierFigureFlusher(store.db, log, () => context.now());
  // Every worker runs it; one at a time purges (src/store/retention.ts).
  const retention = runsWorkers ? new Retention({ db: store.db, log, retentionMs: config.retentionMs, now: () => context.now().getTime() }) : undefined;
  const inbox = runsWorkers ? new InboxWatcher(context, { dataDir: config.dataDir, scanIntervalMs: config.inboxScanIntervalMs, settleMs: config.inboxSettleMs, leaseMs: config.leaseMs }) : undefined;
  dispatcher?.start();
  poller?.start();
  upsAlerts?.start();
  inbox?.start();
  retention?.start();
  figures.start();
  // Every worker evaluates the alerts; the store lets one of them send each transition.
  const operatorAlerts = runsWorkers && config.operatorWebhook ? startOperatorAlerts(config.operatorWebhook, store.db, log, () => context.now().getTime()) : undefined;
  // The console and docs addresses too: the banner with them is printed only on a terminal (or in the sandbox).
  const pages = url ? { console: `${url}/console`, docs: `${url}/docs` } : {};
  // The retention in effect is said where it acts (a worker): it deletes, so an operator should see it.
  const kept = retention ? { retentionDays: Math.round((config.retentionMs / 86_400_000) * 1000) / 1000 } : {};
  const ops = opsUrl ? { ops: opsUrl } : {};
  log.info({ url, ...ops, ...pages, role: config.role, store: store.kind, sandbox: config.sandbox, ...kept }, config.sandbox ? 'trackhub started with SANDBOX carriers' : 'trackhub started');

  return {
    url,
    opsUrl,
    app,
    context,
    async close() {
      // The HTTP side and the workers stop side by side: the drain of sends under way never waits behind
      // a slow client. Those sends finish and are recorded (at most the delivery timeout, itself at most
      // 15 s, plus the second a body gets): a rolling restart sends nothing twice.
      await Promise.all([
        closeHttp(app),
        closeHttp(opsApp),
        // A send under way ends within the operator webhook timeout; events still queued are logged.
        operatorAlerts?.stop(),
        retention?.stop(),
        (async () => {
          await inbox?.stop();
          await poller?.stop();
          await upsAlerts?.stop();
          await dispatcher?.stop({ drainMs: config.deliveryTimeoutMs + 1000 });
        })(),
      ]);
      // After the pushes and polls under way: what they reported is written before the store closes.
      await figures.stop();
      await carrierHttp.close();
      await store.close();
    },
  };
}

/** HTTPS with TRACKHUB_TLS_CERT and _KEY (and client certificates required with TRACKHUB_TLS_CA), else plain HTTP. */
function serverTls(config: Config): FastifyServerOptions {
  if (!config.tls) return {};
  const { cert, key, ca } = config.tls;
  return {
    https: {
      cert: readFileSync(cert),
      key: readFileSync(key),
      ...(ca ? { ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true } : {}),
    },
  } as never;
}

/** How long requests under way get to finish once the hub stops taking new ones. */
const HTTP_GRACE_MS = 10_000;

/**
 * Stops taking connections and lets requests under way finish, for at most HTTP_GRACE_MS: once the
 * server is closing, Node no longer times out a slow request, so one client sending a byte a second
 * would otherwise hold the stop until the process is killed.
 */
async function closeHttp(app: FastifyInstance | undefined): Promise<void> {
  if (!app) return;
  const force = setTimeout(() => app.server.closeAllConnections(), HTTP_GRACE_MS);
  try {
    await app.close();
  } finally {
    clearTimeout(force);
  }
}
