import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { installRequestLog } from './request-log.ts';
import { type OpsDeps, registerOpsRoutes } from './routes/ops.ts';
import { commonServerOptions, installCommonHandling } from './server-options.ts';

/**
 * A worker-only process's own small server (TRACKHUB_OPS_PORT): `/healthz`, `/readyz` and `/metrics`,
 * nothing else. A worker has no API, yet its counters (deliveries, attempts, carrier calls, retention)
 * live in its own process, and a load balancer or orchestrator needs something to probe. The same routes,
 * guards and connection limits as the API's; every other path is the contract's 404.
 */
export async function buildOpsApp(deps: OpsDeps, serverOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ ...commonServerOptions(deps.config, deps.log), bodyLimit: 64 * 1024, ...serverOptions });
  installCommonHandling(app, deps.config, deps.log);
  installRequestLog(app, deps.log);
  registerOpsRoutes(app, deps);
  return app;
}
