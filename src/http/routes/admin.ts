import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { checkDeliveryTargets } from '../../delivery/registration.ts';
import { newSigningKeyPair, newWebhookSecret } from '../../delivery/signing.ts';
import { CARRIER_CODES, isCarrierCode } from '../../domain/carriers.ts';
import { ApiError } from '../../domain/errors.ts';
import { checkCleartextUrls, checkJwks, checkNotificationUrl } from '../../domain/issuer-checks.ts';
import { checkDisplayName } from '../../domain/text.ts';
import { ISSUER_ID } from '../../domain/track-request.ts';
import { SITE_ID, SITE_ID_RULE } from '../../sites/events.ts';
import type { AdminScope } from '../../store/admin-tokens.ts';
import { siteSnapshot } from '../../store/audit.ts';
import { getIssuer, type Issuer, listIssuers, upsertIssuer } from '../../store/issuers.ts';
import { getSiteRow, listSitesPage, SiteKeyTaken, upsertSite } from '../../store/production-sites.ts';
import { adminRoute, noteAudit } from '../admin-auth.ts';
import type { RouteDeps } from '../app.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { refuseUnsafeText } from '../errors.ts';
import { issuerView } from '../issuer-view.ts';
import { isJson, JSON_ONLY } from '../media-types.ts';
import { bodyTypeError, errorResponses, IssuerBody, SiteBody } from '../schemas.ts';

export function registerAdminApi(untyped: FastifyInstance, deps: RouteDeps): void {
  // Handlers read params, query and body as their schemas declare them (TypeBox type provider).
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  // NUL cannot be stored in PostgreSQL text and an unpaired surrogate is not text: refused here, naming
  // the field, before any store sees them (a store's refusal quotes the statement's values).
  app.addHook('preHandler', async (req) => {
    if (req.routeOptions.url?.startsWith('/admin/')) refuseUnsafeText({ params: req.params, query: req.query, body: req.body });
  });
  // Before validation, which would coerce: a body value of the wrong JSON type is refused, naming it. And
  // an Admin API body is JSON: a form or plain text is refused as such, not read as something else.
  app.addHook('preValidation', async (req) => {
    if (!req.routeOptions.url?.startsWith('/admin/') || req.body === undefined) return;
    if (!isJson(req.headers['content-type'])) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', JSON_ONLY);
    const problem = bodyTypeError(req.body, req.routeOptions.schema?.body);
    if (problem) throw new ApiError('FIELD_INVALID_FORMAT', problem);
  });
  // Always mounted: TRACKHUB_ADMIN_TOKEN or a named token (`trackhub admin-tokens create`) opens it.
  // Each route names the scope it needs; writes are audited (admin-auth.ts).
  const access = (scope: AdminScope) => adminRoute(app, deps, scope);
  const security = [{ adminBearer: [] }];

  app.put(
    '/admin/v1/issuers/:issuerId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create or replace an issuer',
        security,
        params: Type.Object({ issuerId: Type.String() }),
        body: IssuerBody,
        response: errorResponses(400, 401, 403, 415, 429),
      },
      ...access('admin'),
    },
    async (req, reply) => {
      const { issuerId } = req.params;
      if (!ISSUER_ID.test(issuerId)) throw new ApiError('FIELD_INVALID_FORMAT', 'issuerId: must be 10 of [A-Za-z0-9_-]');
      const body = req.body;
      const nameProblem = checkDisplayName('name', body.name);
      if (nameProblem) throw new ApiError('FIELD_INVALID_FORMAT', nameProblem);
      const problem = checkNotificationUrl(body.notificationBaseUrl) ?? checkJwks(body.jwks);
      if (problem) throw new ApiError('FIELD_INVALID_VALUE', problem);
      // The SSRF guard first: for a private address its refusal says more than the scheme's.
      const targetProblem = (await checkDeliveryTargets(body, deps.config.allowPrivateTargets)) ?? checkCleartextUrls(body, deps.config.allowPrivateTargets);
      if (targetProblem) throw new ApiError('FIELD_INVALID_VALUE', targetProblem);
      if (body.webhookSecret !== undefined && !/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/.test(body.webhookSecret)) {
        throw new ApiError('FIELD_INVALID_FORMAT', 'webhookSecret: must be whsec_ followed by base64 of at least 24 bytes');
      }
      const existing = await getIssuer(deps.db, issuerId);
      // Absent keeps the stored scheme: a PUT that leaves it out never turns ed25519 back into a shared secret.
      const signing = body.notificationSigning ?? existing?.notificationSigning ?? 'hmac';
      if (signing === 'ed25519' && body.webhookSecret !== undefined) {
        throw new ApiError('FIELD_INVALID_VALUE', 'webhookSecret: not used with notificationSigning ed25519 (the issuer verifies with the public key and holds no shared secret)');
      }
      noteAudit(req, { before: existing ?? null });
      const { secrets, signingKey, generated } = signingOf(signing, existing, body);
      const created = await upsertIssuer(deps.db, {
        issuerId,
        name: body.name,
        notificationBaseUrl: body.notificationBaseUrl.replace(/\/+$/, ''),
        jwks: body.jwks,
        webhookSecrets: secrets,
        notificationSigning: signing,
        notificationSigningPrivateKey: signingKey,
        notificationAuth: body.notificationAuth ?? null,
        // Left as it is when not given, unless it cannot be opened: then it goes, as the other secrets do.
        notificationTls: body.notificationTls !== undefined ? body.notificationTls : existing?.secretsUnreadable ? null : undefined,
        maxOperationsPerNotification: body.maxOperationsPerNotification ?? 1,
        autoTrackShipment: body.autoTrackShipment ?? false,
        enabled: body.enabled ?? true,
      });
      deps.issuers.forget(issuerId);
      const saved = (await getIssuer(deps.db, issuerId)) as Issuer;
      noteAudit(req, { after: saved });
      return reply.code(created ? 201 : 200).send({ ...issuerView(saved), ...(generated ? { webhookSecret: generated } : {}) });
    },
  );

  app.get(
    '/admin/v1/issuers/:issuerId',
    { schema: { tags: ['admin'], summary: 'Read an issuer (secrets are never returned)', security, params: Type.Object({ issuerId: Type.String() }) }, ...access('read') },
    async (req) => {
      // Checked against its format before any lookup, as the PUT does.
      if (!ISSUER_ID.test(req.params.issuerId)) throw new ApiError('FIELD_INVALID_FORMAT', 'issuerId: must be 10 of [A-Za-z0-9_-]');
      const issuer = await getIssuer(deps.db, req.params.issuerId);
      if (!issuer) throw new ApiError('NOT_FOUND', 'no such issuer');
      return issuerView(issuer);
    },
  );

  app.get(
    '/admin/v1/issuers',
    { schema: { tags: ['admin'], summary: 'List issuers', security }, ...access('read') },
    async () => ({ issuers: (await listIssuers(deps.db)).map(issuerView) }),
  );

  app.put(
    '/admin/v1/production-sites/:siteId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create or update a production site; absent apiKey and carriers keep the stored ones; a generated API key (new site, or generateApiKey) is returned once',
        security,
        params: Type.Object({ siteId: Type.String() }),
        body: SiteBody,
      },
      ...access('admin'),
    },
    async (req, reply) => {
      const { siteId } = req.params;
      if (!SITE_ID.test(siteId)) throw new ApiError('FIELD_INVALID_FORMAT', `siteId: must be ${SITE_ID_RULE}`);
      const body = req.body;
      const nameProblem = checkDisplayName('name', body.name);
      if (nameProblem) throw new ApiError('FIELD_INVALID_FORMAT', nameProblem);
      const unknownCarrier = body.carriers?.find((c) => !isCarrierCode(c));
      if (unknownCarrier !== undefined) throw new ApiError('FIELD_INVALID_VALUE', `carriers: ${unknownCarrier} is not a supported carrier code; use one of ${CARRIER_CODES.join(', ')}`);
      if (body.apiKey && body.generateApiKey) throw new ApiError('FIELD_INVALID_VALUE', 'generateApiKey: cannot be combined with apiKey');
      noteAudit(req, { before: await siteSnapshot(deps.db, siteId) });
      let saved: Awaited<ReturnType<typeof upsertSite>>;
      try {
        saved = await upsertSite(deps.db, { siteId, name: body.name, apiKey: body.apiKey, generateApiKey: body.generateApiKey, carriers: body.carriers });
      } catch (err) {
        if (err instanceof SiteKeyTaken) throw new ApiError('FIELD_INVALID_VALUE', err.message);
        throw err;
      }
      deps.siteKeys.forget();
      noteAudit(req, { after: await siteSnapshot(deps.db, siteId) });
      return reply.code(saved.created ? 201 : 200).send({ siteId, name: saved.name, carriers: saved.carriers, ...(saved.apiKey ? { apiKey: saved.apiKey } : {}) });
    },
  );

  app.get(
    '/admin/v1/production-sites',
    {
      schema: {
        tags: ['admin'],
        summary: 'List production sites in id order, a page at a time (keys are never returned, only whether a site has one)',
        security,
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          },
          { additionalProperties: false },
        ),
        response: errorResponses(400, 401, 403, 429),
      },
      ...access('read'),
    },
    async (req) => {
      const after = req.query.cursor === undefined ? undefined : decodeCursor(req.query.cursor, 1)[0];
      // The cursor names a site id: checked against that format before it reaches a query.
      if (after !== undefined && !SITE_ID.test(after)) throw new ApiError('FIELD_INVALID_FORMAT', 'cursor: is not a cursor this API returned');
      const page = await listSitesPage(deps.db, { after, limit: req.query.limit ?? 100 });
      const last = page.sites.at(-1);
      return { sites: page.sites, nextCursor: page.more && last ? encodeCursor([last.siteId]) : null };
    },
  );

  app.get(
    '/admin/v1/production-sites/:siteId',
    { schema: { tags: ['admin'], summary: 'Read a production site (its key is never returned)', security, params: Type.Object({ siteId: Type.String() }) }, ...access('read') },
    async (req) => {
      if (!SITE_ID.test(req.params.siteId)) throw new ApiError('FIELD_INVALID_FORMAT', `siteId: must be ${SITE_ID_RULE}`);
      const row = await getSiteRow(deps.db, req.params.siteId);
      if (!row) throw new ApiError('NOT_FOUND', 'no such production site');
      return { siteId: row.site_id, name: row.name, carriers: row.carriers, hasApiKey: row.api_key_hash !== null, createdAt: row.created_at, updatedAt: row.updated_at };
    },
  );
}

/**
 * What signs the issuer's notifications after a PUT. HMAC: the webhook secrets (one generated when none
 * is held); a new secret starts a rotation, the previous one signing beside it. ed25519: a key pair made
 * by the hub on the switch, no secret made. A switch either way overlaps: what signed before keeps
 * signing beside (v1 and v1a in one header) until `retirePreviousSecret`, which leaves only the chosen
 * scheme (with ed25519, no shared secret at all).
 */
function signingOf(
  signing: 'hmac' | 'ed25519',
  existing: Issuer | undefined,
  body: { webhookSecret?: string; retirePreviousSecret?: boolean },
): { secrets: string[]; signingKey: string | null; generated?: string } {
  let secrets = existing?.webhookSecrets ?? [];
  let signingKey = existing?.notificationSigningPrivateKey ?? null;
  let generated: string | undefined;
  if (signing === 'ed25519') {
    signingKey ??= newSigningKeyPair().secretKey;
    if (body.retirePreviousSecret) secrets = [];
    return { secrets, signingKey };
  }
  if (body.webhookSecret && body.webhookSecret !== secrets[0]) {
    // Rotation: the previous secret keeps signing beside the new one until the next rotation.
    secrets = [body.webhookSecret, ...secrets.slice(0, 1)];
  } else if (secrets.length === 0) {
    generated = newWebhookSecret();
    secrets = [generated];
  }
  // Once the issuer verifies with the new secret, the operator ends the overlap.
  if (body.retirePreviousSecret) {
    secrets = secrets.slice(0, 1);
    signingKey = null;
  }
  return { secrets, signingKey, generated };
}
