import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { register } from 'prom-client';
import { readEndpointGauges, readOutboxGauges } from '../../delivery/metrics.ts';
import { readCarrierAlertGauges } from '../../polling/metrics.ts';
import { readSiteGauges } from '../../sites/metrics.ts';
import { isMigrated } from '../../store/db.ts';
import { adminAuthFor } from '../admin-auth.ts';
import type { HttpDeps } from '../app.ts';

/** What the operations routes read: also all a worker's own server has (src/http/ops-app.ts). */
export type OpsDeps = Pick<HttpDeps, 'config' | 'db' | 'storeKind' | 'log'>;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export function registerOpsRoutes(app: FastifyInstance, deps: OpsDeps): void {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['operations'], summary: 'The store is reachable and migrated' } }, async (_req, reply) => {
    try {
      if (await isMigrated(deps.db)) return { status: 'ready', store: deps.storeKind, sandbox: deps.config.sandbox };
      return reply.code(503).header('retry-after', '5').send({ errorCode: 'SERVICE_UNAVAILABLE', error: 'migrations not applied' });
    } catch {
      return reply.code(503).header('retry-after', '5').send({ errorCode: 'SERVICE_UNAVAILABLE', error: 'store unreachable' });
    }
  });

  // /metrics names issuers and shows traffic: outside the sandbox it is never open. With
  // TRACKHUB_METRICS_TOKEN it takes that token (for a scraper that holds nothing else); without it, any
  // admin token (any scope). Failures count against the same per-address limit as the Admin API.
  const metricsHash = deps.config.metricsToken === undefined ? undefined : sha256(deps.config.metricsToken);
  const METRICS_REFUSAL = {
    missing: '/metrics needs the TRACKHUB_METRICS_TOKEN this hub was given (Authorization: Bearer <token>); admin tokens do not open it then',
    wrong: 'the bearer token is not the TRACKHUB_METRICS_TOKEN this hub was given (admin tokens do not open /metrics when one is set)',
  };
  const auth = adminAuthFor(app, deps);
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics: needs TRACKHUB_METRICS_TOKEN when set, otherwise an admin token (open in the sandbox)',
        security: [{ adminBearer: [] }],
      },
      onRequest: async (req) => {
        if (metricsHash) await auth.guard(req, (token) => (timingSafeEqual(sha256(token), metricsHash) ? true : undefined), METRICS_REFUSAL);
        else if (!deps.config.sandbox) await auth.authenticate(req);
      },
    },
    async (_req, reply) => {
      // The alerts' figures (deploy/prometheus/alerts.yml) are read from the shared store like the outbox's.
      await Promise.all([readOutboxGauges(deps.db), readEndpointGauges(deps.db), readCarrierAlertGauges(deps.db), readSiteGauges(deps.db)]);
      reply.header('content-type', register.contentType);
      return register.metrics();
    },
  );
}
