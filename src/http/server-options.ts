import { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { newId } from '../domain/ids.ts';
import { CORRELATION_ID } from '../domain/track-request.ts';
import { limitConnections } from './connection-limits.ts';
import { clientErrorHandler, installErrorHandling, sendError } from './errors.ts';

type ServerConfig = Pick<Config, 'connections' | 'trustedProxies'>;

/**
 * What every HTTP server of the hub is built with (the API's, and a worker's /healthz, /readyz and
 * /metrics: src/http/ops-app.ts), so the two answer alike to the same bad input.
 */
export function commonServerOptions(config: ServerConfig, log: Logger): FastifyServerOptions {
  const connections = config.connections;
  return {
    // A socket that sends nothing (or stalls mid-request) for this long is closed; between requests the
    // keep-alive timeout applies instead. Node's headers and request timeouts only watch sockets that
    // have begun a request, so without this a silent socket stays open for ever.
    connectionTimeout: connections.idleTimeoutMs,
    keepAliveTimeout: connections.keepAliveTimeoutMs,
    requestTimeout: connections.requestTimeoutMs,
    // Only the configured proxies' X-Forwarded-For is read (req.ip); by default nobody's is.
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    loggerInstance: log,
    // Per-request info logs cost throughput; failures are logged by the error handler and onResponse.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
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
  };
}

/**
 * The hooks every server of the hub has: connection caps, Expect handling, the contract's error bodies,
 * and a correlation id on every answer (the caller's when valid). The request log comes after each
 * server's own early refusals (src/http/request-log.ts).
 */
export function installCommonHandling(app: FastifyInstance, config: ServerConfig, log: Logger): void {
  limitConnections(app.server, config.connections, config.trustedProxies, log);
  // An `Expect:` other than 100-continue: Node would answer a bare 417 of its own. RFC 9110 §10.1.1 lets
  // a server ignore an expectation it does not support, so the request is served like any other (and a
  // refusal, if any, comes in the contract's body).
  app.server.on('checkExpectation', (req, res) => app.server.emit('request', req, res));
  installErrorHandling(app);
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
}

/** With client certificates required (TRACKHUB_TLS_CA): says which check refused a client, never the certificate. */
export function logRefusedClientCertificates(app: FastifyInstance, log: Logger): void {
  // Without this a refused client sees a closed connection and the operator sees nothing.
  // OpenSSL reports a missing certificate as the error's code; Node judges a presented one after the
  // handshake and puts its verdict (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE…) on the socket.
  app.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: { remoteAddress?: string; authorizationError?: Error | string | null }) =>
    log.info({ reason: String(socket.authorizationError ?? err.code ?? err.message), remoteAddress: socket.remoteAddress }, 'client certificate refused (mTLS)'),
  );
}
