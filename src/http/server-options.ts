import { type FastifyServerOptions, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { clientErrorHandler } from './errors.ts';

/** What every HTTP server of the hub sets (the API's, and a worker's /healthz, /readyz and /metrics). */
export function commonServerOptions(config: Pick<Config, 'connections' | 'trustedProxies'>, log: Logger): FastifyServerOptions {
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
    clientErrorHandler,
  };
}
