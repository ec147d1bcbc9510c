import { BlockList, isIP } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import { Type } from 'typebox';
import type { AccessTokenVerifier } from '../auth/tokens.ts';
import type { ProviderName } from '../carriers/provider.ts';
import type { ProviderSettings } from '../carriers/settings.ts';
import type { Config } from '../config.ts';
import { newId } from '../domain/ids.ts';
import { CORRELATION_ID, ISSUER_ID } from '../domain/track-request.ts';
import type { HubContext } from '../operations/context.ts';
import { SITE_ID } from '../sites/events.ts';
import type { Db } from '../store/db.ts';
import type { IssuerDirectory } from '../store/issuers.ts';
import { SiteKeys } from '../store/site-keys.ts';
import { clientKey } from './client-address.ts';
import { type ConsoleDb, type ConsoleReadLimits, ConsoleReads } from './console-reads.ts';
import { clientErrorHandler, installErrorHandling, sendError } from './errors.ts';
import { refusingRepeatedAdminNames } from './json-names.ts';
import { utf8BodyParser } from './media-types.ts';
import { swaggerOptions } from './openapi-document.ts';
import { registerAdminApi } from './routes/admin.ts';
import { registerAdminCards } from './routes/admin-cards.ts';
import { registerAdminCarriers } from './routes/admin-carriers.ts';
import { registerInboxFiles } from './routes/admin-inbox-files.ts';
import { registerAdminInsights } from './routes/admin-insights.ts';
import { registerNotificationInsights } from './routes/admin-notification-insights.ts';
import { registerAdminOperations, registerAuditLog } from './routes/admin-operations.ts';
import { registerSiteSilence } from './routes/admin-site-silence.ts';
import { registerAdminTokenRoutes } from './routes/admin-tokens.ts';
import { registerCarrierWebhooks } from './routes/carrier-webhooks.ts';
import { registerConsole } from './routes/console.ts';
import { registerIssuerApi } from './routes/issuer-api.ts';
import { registerIssuerFeed } from './routes/issuer-feed.ts';
import { registerNotificationAdmin } from './routes/notifications.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerSiteApi } from './routes/site-api.ts';
import { registerTokenRoute } from './routes/token.ts';
import { ErrorBody, OperationObject, TrackBody } from './schemas.ts';

declare module 'fastify' {
  interface FastifyRequest {
    correlationId: string;
    /** A refused Issuer or Site API request's error code, for its log line. */
    refusal: string;
  }
}

/**
 * The APIs banks and bureaus call (Issuer API, Site API): their refusals are logged here. The token
 * endpoint logs its own refusals with the reason (routes/token.ts); only its 429s, answered by the rate
 * limits before it runs, are logged here.
 */
function isPartnerApi(url: string, status: number): boolean {
  return url.startsWith('/banking/') || url.startsWith('/sites/') || (status === 429 && url.startsWith('/authz/'));
}

/**
 * Which API a request is for: its route's pattern, else its path decoded as the router decodes it. Never
 * req.url alone: `/%62anking/…` reaches the Issuer API's routes, and would pass a check on the raw text.
 */
function apiPath(req: FastifyRequest): string {
  if (req.routeOptions.url) return req.routeOptions.url;
  const path = req.url.split('?')[0] as string;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** The error code of a refusal body: the contract's `errorCode`, or OAuth's `error`; never any other text of it. */
function refusalCode(payload: string): string {
  try {
    const body = JSON.parse(payload) as { errorCode?: unknown; error?: unknown };
    const code = typeof body.errorCode === 'string' ? body.errorCode : body.error;
    return typeof code === 'string' && /^[A-Za-z_]{1,64}$/.test(code) ? code : '';
  } catch {
    return '';
  }
}

/** An Admin API write's target: its path parameter, when it has an id's form. */
function adminTarget(params: unknown): string | undefined {
  const value = Object.values((params ?? {}) as Record<string, unknown>)[0];
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : undefined;
}

/** The issuer or site a refused request named, only when it has the id's form (anything else is what a caller typed). */
function partnerOf(params: unknown): { issuerId?: string; siteId?: string } {
  const { issuerId, siteId } = (params ?? {}) as { issuerId?: unknown; siteId?: unknown };
  return {
    ...(typeof issuerId === 'string' && ISSUER_ID.test(issuerId) ? { issuerId } : {}),
    ...(typeof siteId === 'string' && SITE_ID.test(siteId) ? { siteId } : {}),
  };
}

export interface HttpDeps {
  config: Config & { tokenAudience?: string };
  db: Db;
  storeKind: 'embedded' | 'postgres';
  hub: HubContext;
  issuers: IssuerDirectory;
  tokens: AccessTokenVerifier;
  accessTokenKey: Uint8Array;
  log: Logger;
  /** Each provider's settings as GET /admin/v1/carriers shows them: whether it runs, its budget, whether a webhook secret is set (never a secret). */
  carriers: Record<ProviderName, ProviderSettings>;
  /** Bounds on the console's reads (src/http/console-reads.ts); CONSOLE_READ_LIMITS by default. */
  consoleReadLimits?: Partial<ConsoleReadLimits>;
  /** The console's own connections (OpenedStore.console); without them (the OpenAPI export) its reads use `db`. */
  consoleDb?: ConsoleDb;
  /** Extra routes mounted on the same server (the sandbox, when it runs in-process). */
  extraRoutes?: (app: FastifyInstance) => Promise<void> | void;
}

/** What the routes get: the hub's dependencies and what the app itself builds for them. */
export interface RouteDeps extends HttpDeps {
  /** The Site API's key cache, which the Admin API clears when a site changes. */
  siteKeys: SiteKeys;
  /** The console's reads, under a statement timeout and (window aggregates) a per-instance cap. */
  consoleReads: ConsoleReads;
}

const refusedConnections = new Counter({ name: 'trackhub_connections_refused_total', help: 'Connections closed as they arrived, by the cap that closed them', labelNames: ['cap'] });
const httpRequests = new Counter({ name: 'trackhub_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'] });
const httpDuration = new Histogram({
  name: 'trackhub_http_request_seconds',
  help: 'HTTP request duration by route',
  labelNames: ['route'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
});

export async function buildApp(deps: HttpDeps, serverOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const connections = deps.config.connections;
  const app = Fastify({
    // A socket that sends nothing (or stalls mid-request) for this long is closed; between requests the
    // keep-alive timeout applies instead. Node's headers and request timeouts only watch sockets that
    // have begun a request, so without this a silent socket stays open for ever.
    connectionTimeout: connections.idleTimeoutMs,
    keepAliveTimeout: connections.keepAliveTimeoutMs,
    requestTimeout: connections.requestTimeoutMs,
    // Only the configured proxies' X-Forwarded-For is read (req.ip); by default nobody's is.
    trustProxy: deps.config.trustedProxies.length > 0 ? deps.config.trustedProxies : false,
    loggerInstance: deps.log,
    // Per-request info logs cost throughput; failures are logged by the error handler and onResponse.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 4 * 1024 * 1024,
    return503OnClosing: true,
    // An unknown field is refused, not silently dropped: a misspelt `webhookSecret` must not go unnoticed.
    ajv: { customOptions: { removeAdditional: false } },
    // The router's own refusals (a malformed %-escape, a path segment over 100 characters) get the
    // contract's body too, not Fastify's.
    // These answer before any hook runs, so they set the correlation id themselves (every answer has one;
    // a valid one the caller sent is kept, as everywhere else).
    frameworkErrors: (err, req, reply) => {
      const given = req.headers['x-correlation-id'];
      const correlationId = typeof given === 'string' && CORRELATION_ID.test(given) ? given : newId('corr');
      return sendError(reply, 'FIELD_INVALID_FORMAT', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is malformed', {
        'x-correlation-id': correlationId,
      });
    },
    clientErrorHandler,
    ...serverOptions,
  });
  // Set on the server before it listens, for HTTP and HTTPS alike (Fastify's `http` option is not passed
  // to an HTTPS server). Node checks the headers and request timeouts every connectionsCheckingInterval
  // (30 s by default): checked more often, a slow sender is closed close to its timeout.
  app.server.headersTimeout = connections.headersTimeoutMs;
  (app.server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(1000, connections.headersTimeoutMs);
  // Beyond the cap, new connections are closed as they arrive; those already open are served.
  app.server.maxConnections = connections.max;
  const refused = refusedConnectionReporter(deps.log, connections.max, connections.maxPerAddress);
  app.server.on('drop', () => refused('global'));
  // No count limit on header lines (the 16 KiB header size still bounds them): past Node's count limit
  // the extra lines are dropped silently, and a second Authorization among them would go unseen.
  app.server.maxHeadersCount = 0;
  capConnectionsPerAddress(app.server, connections.maxPerAddress, deps.config.trustedProxies, () => refused('per_address'));
  // An `Expect:` other than 100-continue: Node would answer a bare 417 of its own. RFC 9110 §10.1.1 lets
  // a server ignore an expectation it does not support, so the request is served like any other (and a
  // refusal, if any, comes in the contract's body).
  app.server.on('checkExpectation', (req, res) => app.server.emit('request', req, res));
  installErrorHandling(app);
  // An Admin API route that takes no query parameters refuses any, as the routes that take some refuse
  // the ones they do not know: a misspelt filter must never pass silently as no filter at all.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/admin/')) return;
    route.schema ??= {};
    route.schema.querystring ??= Type.Object({}, { additionalProperties: false });
  });

  // Bodies are read as UTF-8 or refused: bytes that are not would become U+FFFD in stored names and reasons.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, utf8BodyParser(refusingRepeatedAdminNames(defaultJson)));
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer' },
    utf8BodyParser((_req, body, done) => {
      const form = new URLSearchParams(body);
      const out: Record<string, string | string[]> = {};
      for (const key of new Set(form.keys())) {
        const all = form.getAll(key);
        out[key] = all.length === 1 ? all[0] : all;
      }
      done(null, out);
    }),
  );

  app.decorateRequest('correlationId', '');
  app.addHook('onRequest', async (req, reply) => {
    const given = req.headers['x-correlation-id'];
    if (typeof given === 'string' && CORRELATION_ID.test(given)) {
      req.correlationId = given;
    } else {
      req.correlationId = newId('corr');
      if (given !== undefined) {
        reply.header('x-correlation-id', req.correlationId);
        return sendError(reply, 'FIELD_INVALID_FORMAT', 'x-correlation-id: must be 1 to 64 of [A-Za-z0-9_-]');
      }
    }
    reply.header('x-correlation-id', req.correlationId);
  });
  // Ajv, coercing a query string to a number, makes "1e309" Infinity and then passes it as an integer within
  // any minimum and maximum (it compares only finite numbers): a numeric query parameter must be finite.
  // The fuzz test found `pendingHours=1e309` answered 500 (an Invalid Date further on).
  app.addHook('preValidation', async (req, reply) => {
    const numeric = numericQueryParams(req.routeOptions.schema?.querystring);
    const query: unknown = req.query;
    if (numeric.size === 0 || typeof query !== 'object' || query === null) return;
    for (const [name, value] of Object.entries(query)) {
      if (!numeric.has(name)) continue;
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v === 'string' && Math.abs(Number(v)) === Number.POSITIVE_INFINITY) return sendError(reply, 'FIELD_INVALID_VALUE', `${name}: must be a finite number`);
      }
    }
  });
  // The documentation's static files plugin answers a path climbing out of its folder (dot segments, raw,
  // %-encoded or with backslashes) with its own 403 body; its routes' hooks do not see those requests.
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith('/docs/') && /(^|[/\\])(\.|%2e){2}([/\\]|%2f|%5c|$)/i.test(req.url.split('?')[0])) {
      return sendError(reply, 'NOT_FOUND', 'no such documentation file');
    }
  });
  // A refused call of the issuers' and sites' APIs is logged at info (see onResponse): its error code is
  // read from the body on its way out, whichever code path refused it.
  app.decorateRequest('refusal', '');
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode >= 400 && reply.statusCode < 500 && isPartnerApi(apiPath(req), reply.statusCode) && typeof payload === 'string' && payload.length <= 65_536) {
      req.refusal = refusalCode(payload);
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    httpRequests.inc({ route, status: reply.statusCode });
    httpDuration.observe({ route }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) req.log.warn({ route, status: reply.statusCode, correlationId: req.correlationId }, 'request failed');
    // A bank or a bureau quotes the correlation id of a refusal to the operator, who finds it here. The route
    // pattern, never the URL (card ids), headers (tokens, keys) or body.
    else if (reply.statusCode >= 400 && isPartnerApi(apiPath(req), reply.statusCode)) {
      req.log.info({ correlationId: req.correlationId, method: req.method, route, status: reply.statusCode, errorCode: req.refusal || undefined, ...partnerOf(req.params) }, 'request refused');
    }
    // An Admin API write, in a line (the audit log holds who and the before and after).
    else if (req.method !== 'GET' && req.method !== 'HEAD' && apiPath(req).startsWith('/admin/') && route !== 'unknown') {
      req.log.info({ correlationId: req.correlationId, method: req.method, route, status: reply.statusCode, targetId: adminTarget(req.params) }, 'admin write');
    }
    // The route pattern, never the URL, headers or body: nothing a caller sends ends up in the log.
    else if (deps.log.isLevelEnabled('debug')) req.log.debug({ method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime), correlationId: req.correlationId }, 'request');
  });

  await app.register(swagger, swaggerOptions);
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // The plugin's CSP (hashes of its inline scripts) without what this page does not use: other origins
    // for fonts, styles and images, and upgrade-insecure-requests, which breaks the page on plain http.
    // Swagger UI sets inline styles as it draws (the browser reported each as a CSP violation): styles may be
    // inline on /docs only, where a style cannot run code; scripts stay 'self' (and any hash the plugin adds).
    // ('unsafe-inline' is ignored beside hashes, so the style directive is replaced whole.)
    staticCSP: true,
    transformStaticCSP: (header: string) =>
      `${header
        .replace(/style-src [^;]*;/, "style-src 'self' 'unsafe-inline';")
        .replace(/ https:| validator\.swagger\.io|upgrade-insecure-requests;/g, '')
        .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
        .trim()} form-action 'none';`,
    uiHooks: {
      // The plugin redirects /docs/static/index.html to /docs/, but with a query string to itself, forever.
      onRequest: (req, reply, done) => {
        if (/^\/docs\/static\/index\.html\?/.test(req.url)) return void reply.redirect('/docs/');
        done();
      },
    },
  });
  app.addSchema(ErrorBody);
  app.addSchema({ ...TrackBody, $id: 'TrackBody' });
  app.addSchema(OperationObject);

  const routeDeps: RouteDeps = {
    ...deps,
    siteKeys: new SiteKeys(deps.db, () => deps.hub.now().getTime()),
    consoleReads: new ConsoleReads(deps.consoleDb ?? { reads: deps.db, cancels: deps.db }, deps.consoleReadLimits),
  };
  registerOpsRoutes(app, routeDeps);
  registerTokenRoute(app, routeDeps);
  registerIssuerApi(app, routeDeps);
  registerIssuerFeed(app, routeDeps);
  // Route modules import no route module: the ones registered inside another before now come here, in
  // the same order (the Admin API's preHandler hooks apply to every route of the app whenever added).
  registerNotificationAdmin(app, routeDeps);
  registerAdminApi(app, routeDeps);
  registerAuditLog(app, routeDeps);
  registerAdminTokenRoutes(app, routeDeps);
  registerAdminOperations(app, routeDeps);
  registerAdminCarriers(app, routeDeps);
  registerAdminCards(app, routeDeps);
  registerAdminInsights(app, routeDeps);
  registerSiteSilence(app, routeDeps);
  registerNotificationInsights(app, routeDeps);
  registerInboxFiles(app, routeDeps);
  registerConsole(app, routeDeps);
  registerCarrierWebhooks(app, routeDeps);
  registerSiteApi(app, routeDeps);
  if (deps.extraRoutes) await deps.extraRoutes(app);
  return app;
}

/**
 * A connection closed by a cap gets no answer at all, so the operator is told: a counter on /metrics, and
 * a warning naming the setting, at most once a minute per cap.
 */
function refusedConnectionReporter(log: Logger, max: number, maxPerAddress: number): (cap: 'global' | 'per_address') => void {
  const saidAt = { global: Number.NEGATIVE_INFINITY, per_address: Number.NEGATIVE_INFINITY };
  return (cap) => {
    refusedConnections.inc({ cap });
    if (performance.now() - saidAt[cap] < 60_000) return;
    saidAt[cap] = performance.now();
    const setting = cap === 'global' ? `TRACKHUB_MAX_CONNECTIONS (${max})` : `TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS (${maxPerAddress})`;
    log.warn({ cap }, `connections refused: ${setting} reached; new connections are closed unanswered (trackhub_connections_refused_total counts them)`);
  };
}

/**
 * One client (an address, an IPv6 /64) may hold at most `max` connections (TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS): more are
 * closed as they arrive, so one client's idle keep-alive sockets cannot take every slot of the global
 * cap and shut the others out. Trusted proxies (TRACKHUB_TRUSTED_PROXIES) carry many clients and are
 * exempt. The map holds only addresses with an open connection, so the global cap bounds it.
 */
function capConnectionsPerAddress(server: import('node:net').Server, max: number, trustedProxies: string[], onRefused: () => void): void {
  const trusted = new BlockList();
  for (const p of trustedProxies) {
    const [address, bits] = p.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(bits), family);
  }
  const open = new Map<string, number>();
  server.on('connection', (socket: import('node:net').Socket) => {
    // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d: the same client either way.
    const peer = socket.remoteAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    if (peer === undefined || trusted.check(peer, isIP(peer) === 6 ? 'ipv6' : 'ipv4')) return;
    // Counted per client as every per-address limit counts (an IPv6 /64 is one client).
    const address = clientKey(peer);
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      onRefused();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}

/** The names of a querystring schema's integer and number parameters (kept per schema object). */
const numericParamsOf = new WeakMap<object, Set<string>>();
function numericQueryParams(schema: unknown): Set<string> {
  if (typeof schema !== 'object' || schema === null) return new Set();
  let names = numericParamsOf.get(schema);
  if (!names) {
    const props = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
    names = new Set(Object.entries(props).filter(([, p]) => p?.type === 'integer' || p?.type === 'number').map(([k]) => k));
    numericParamsOf.set(schema, names);
  }
  return names;
}
