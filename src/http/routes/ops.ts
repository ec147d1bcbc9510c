import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { register } from 'prom-client';
import { ApiError } from '../../domain/errors.ts';
import { isMigrated } from '../../store/db.ts';
import type { HttpDeps } from '../app.ts';

export function registerOpsRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['operations'], summary: 'The store is reachable and migrated' } }, async (_req, reply) => {
    try {
      if (await isMigrated(deps.db)) return { status: 'ready', store: deps.storeKind, sandbox: deps.config.sandbox };
      return reply.code(503).header('retry-after', '5').send({ errorCode: 'SERVICE_UNAVAILABLE', error: 'migrations not applied' });
    } catch {
      return reply.code(503).header('retry-after', '5').send({ errorCode: 'SERVICE_UNAVAILABLE', error: 'store unreachable' });
    }
  });

  const metricsToken = deps.config.metricsToken ? Buffer.from(`Bearer ${deps.config.metricsToken}`) : undefined;
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (req, reply) => {
    if (metricsToken) {
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== metricsToken.length || !timingSafeEqual(given, metricsToken)) {
        throw new ApiError('AUTHORIZER_UNAUTHORIZED', 'metrics bearer token required');
      }
    }
    reply.header('content-type', register.contentType);
    return register.metrics();
  });
}
