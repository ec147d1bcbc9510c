import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import { ISSUER_ID } from '../domain/track-request.ts';
import { SITE_ID } from '../sites/events.ts';

// Every answer counted on /metrics by route and status, and the log lines an operator looks requests up by:
// refused Issuer and Site API calls (with the correlation id a bank quotes), Admin API writes, failures.

declare module 'fastify' {
  interface FastifyRequest {
    /** A refused Issuer or Site API request's error code, for its log line. */
    refusal: string;
  }
}

const httpRequests = new Counter({ name: 'trackhub_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'] });
const httpDuration = new Histogram({
  name: 'trackhub_http_request_seconds',
  help: 'HTTP request duration by route',
  labelNames: ['route'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
});

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

/** The request metrics and log lines, as hooks on every route of the app. */
export function installRequestLog(app: FastifyInstance, log: Logger): void {
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
    else if (log.isLevelEnabled('debug')) req.log.debug({ method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime), correlationId: req.correlationId }, 'request');
  });
}
