import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { siteAlertFigures } from '../../store/alert-figures.ts';
import { adminRoute } from '../admin-auth.ts';
import type { RouteDeps } from '../app.ts';
import { errorResponses } from '../schemas.ts';

/**
 * The alert's rule (deploy/prometheus/alerts.yml, TrackhubSiteSilentWhileRequestsWait): a site silent for over a day while
 * requests it may answer wait. The console flags the same sites the alert fires for, from the same figures.
 */
const SILENT_AFTER_S = 86_400;
/** As far back as /metrics looks for a site's newest report: enough to judge a day's silence, a bounded scan. */
const LOOKBACK_DAYS = 2;

const Silence = Type.Object({
  at: Type.String({ description: 'when the figures were read (ISO 8601, UTC)' }),
  silentAfterSeconds: Type.Integer({ description: 'silence longer than this, with requests waiting, flags a site' }),
  lookbackSeconds: Type.Integer({ description: 'the newest report is looked for this far back; a site quiet for longer reads as silent this long' }),
  sites: Type.Array(
    Type.Object({
      productionSite: Type.String(),
      requestsWaiting: Type.Integer({ description: 'open PRODUCTION requests the site may answer: naming it, or naming no site' }),
      silentSeconds: Type.Number({ description: "seconds since the site's newest report (Site API, batch file or inbox), or since it was registered; at most lookbackSeconds" }),
      silent: Type.Boolean({ description: 'silentSeconds over silentAfterSeconds while requestsWaiting > 0' }),
    }),
  ),
});

/** `GET /admin/v1/insights/site-silence`: per registered site, requests waiting now and how long since its newest report (read scope). */
export function registerSiteSilence(untyped: FastifyInstance, deps: RouteDeps): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/v1/insights/site-silence',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: 'Per registered production site: open PRODUCTION requests waiting now and seconds since its newest report; flags a day of silence while requests wait',
        security: [{ adminBearer: [] }],
        response: { 200: Silence, ...errorResponses(400, 401, 403, 429, 503) },
      },
    },
    async (_req, reply) => {
      const rows = await deps.consoleReads.read(reply, (db) => siteAlertFigures(db, LOOKBACK_DAYS));
      return {
        at: deps.hub.now().toISOString(),
        silentAfterSeconds: SILENT_AFTER_S,
        lookbackSeconds: LOOKBACK_DAYS * 86_400,
        sites: rows
          .map((r) => {
            const silentSeconds = Number(r.silent_s);
            return { productionSite: r.site_id, requestsWaiting: r.waiting, silentSeconds: Math.round(silentSeconds), silent: silentSeconds > SILENT_AFTER_S && r.waiting > 0 };
          })
          .sort((a, b) => a.productionSite.localeCompare(b.productionSite)),
      };
    },
  );
}
