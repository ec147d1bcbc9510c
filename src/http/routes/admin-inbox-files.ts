import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../domain/errors.ts';
import { parseTime } from '../../domain/time.ts';
import { SITE_ID, SITE_ID_RULE } from '../../sites/events.ts';
import { LISTED_REJECTIONS, listInboxFiles } from '../../store/inbox-file-reports.ts';
import { siteExists } from '../../store/production-sites.ts';
import { adminRoute } from '../admin-auth.ts';
import type { HttpDeps } from '../app.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { errorResponses, Nullable } from '../schemas.ts';

const InboxFile = Type.Object({
  name: Type.String({ description: 'The file name as the site dropped it' }),
  state: Type.String({ description: 'processing (being read, or its worker stopped: it resumes), done, or rejected (unreadable, or no usable event in it)' }),
  receivedAt: Type.String({ description: 'When the hub first took the file' }),
  finishedAt: Nullable(Type.String({ description: 'When it was moved to done/ or rejected/; null while processing' })),
  linesRead: Type.Integer({ description: 'Lines read so far, after the CSV header (blank lines not counted): accepted + duplicates + rejectedLines, as `trackhub sites import` counts them' }),
  accepted: Type.Integer(),
  duplicates: Type.Integer({ description: 'Events the hub already held (the same eventId from the same site)' }),
  rejectedLines: Type.Integer({ description: 'Lines refused: exact' }),
  rejected: Type.Array(Type.Object({ line: Type.Integer(), errorCode: Type.String(), error: Type.String() }), {
    description: `The first ${LISTED_REJECTIONS} rejected lines with their reasons, in line order. Why a whole file was rejected is in the report written beside it in the site's folder, not here`,
  }),
});

const Query = Type.Object(
  {
    cursor: Type.Optional(Type.String({ maxLength: 400, description: 'nextCursor of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  },
  { additionalProperties: false },
);

/** `GET /admin/v1/production-sites/:siteId/inbox-files`: the console's Sites view, a site's files with their reports (read scope). */
export function registerInboxFiles(untyped: FastifyInstance, deps: HttpDeps): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/v1/production-sites/:siteId/inbox-files',
    {
      ...adminRoute(app, deps, 'read'),
      schema: {
        tags: ['admin'],
        summary: "A production site's inbox files, newest first, with their line counts and first rejected lines",
        security: [{ adminBearer: [] }],
        params: Type.Object({ siteId: Type.String({ maxLength: 200 }) }),
        querystring: Query,
        response: { 200: Type.Object({ files: Type.Array(InboxFile), nextCursor: Nullable(Type.String()) }), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      const { siteId } = req.params;
      if (!SITE_ID.test(siteId)) throw new ApiError('FIELD_INVALID_FORMAT', `siteId: must be ${SITE_ID_RULE}`);
      const after = req.query.cursor === undefined ? undefined : fileCursor(req.query.cursor);
      if (!(await siteExists(deps.db, siteId))) throw new ApiError('NOT_FOUND', 'no such production site');
      const page = await listInboxFiles(deps.db, siteId, { after, limit: req.query.limit ?? 50 });
      return { files: page.files, nextCursor: page.more && page.last ? encodeCursor([page.last.receivedAt, page.last.keyDigest]) : null };
    },
  );
}

/** The previous page's last file: its receipt time and key digest, each checked before it reaches a query. */
function fileCursor(cursor: string): { receivedAt: string; keyDigest: string } {
  const [receivedAt, keyDigest] = decodeCursor(cursor, 2);
  if (!ISO_UTC_MICROS.test(receivedAt) || !parseTime(receivedAt) || !/^[0-9a-f]{32}$/.test(keyDigest)) {
    throw new ApiError('FIELD_INVALID_FORMAT', 'cursor: is not a cursor this API returned');
  }
  return { receivedAt, keyDigest };
}

/** The receipt time as a cursor holds it: UTC to the microsecond, as stored (milliseconds would skip or repeat files). */
const ISO_UTC_MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
