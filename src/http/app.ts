import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { AccessTokenVerifier } from '../auth/tokens.ts';
import type { ProviderName } from '../carriers/provider.ts';
import type { ProviderSettings } from '../carriers/settings.ts';
import type { Config } from '../config.ts';
import type { HubContext } from '../operations/context.ts';
import type { Db } from '../store/db.ts';
import type { IssuerDirectory } from '../store/issuers.ts';
import { SiteKeys } from '../store/site-keys.ts';
import { type ConsoleDb, type ConsoleReadLimits, ConsoleReads } from './console-reads.ts';
import { sendError } from './errors.ts';
import { refusingRepeatedAdminNames } from './json-names.ts';
import { utf8BodyParser } from './media-types.ts';
import { swaggerOptions } from './openapi-document.ts';
import { installRequestLog } from './request-log.ts';
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
import { commonServerOptions, installCommonHandling } from './server-options.ts';

declare module 'fastify' {
  interface FastifyRequest {
    correlationId: string;
  }
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

export async function buildApp(deps: HttpDeps, serverOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...commonServerOptions(deps.config, deps.log),
    bodyLimit: 4 * 1024 * 1024,
    // An unknown field is refused, not silently dropped: a misspelt `webhookSecret` must not go unnoticed.
    ajv: { customOptions: { removeAdditional: false } },
    ...serverOptions,
  });
  installCommonHandling(app, deps.config, deps.log);
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
  installRequestLog(app, deps.log);

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
