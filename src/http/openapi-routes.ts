import { type TSchema, Type } from 'typebox';
import { errorResponses as errors, TOKEN_RESPONSES } from './schemas.ts';

/**
 * What the OpenAPI document says of each route beyond its validation schema: a description, and the
 * answers whose bodies the route does not serialize through a schema (a response schema would drop any
 * field it does not list, so these stay in the document only). test/openapi.status.test.ts checks real
 * answers against the result.
 */
export interface RouteDoc {
  /** The name client generators give the call (Java and .NET method names). */
  operationId: string;
  description: string;
  /** No credentials: shown with an empty security list. */
  open?: true;
  /** Its own answers to an unreadable body (the token endpoint's RFC 6749 errors): EVERY_BODY_ROUTE does not apply. */
  ownBodyErrors?: true;
  responses?: Record<number, TSchema>;
  /** A body the handler checks itself (the token endpoint answers RFC 6749 errors, not validation's). */
  body?: TSchema;
  consumes?: string[];
}


const TokenRequest = Type.Object(
  {
    grant_type: Type.Literal('urn:ietf:params:oauth:grant-type:jwt-bearer'),
    assertion: Type.String({
      description:
        'ES256 JWT signed with a registered key: header kid; claims iss = sub = issuer id, aud = this hub\'s token URL, jti (1-256 characters, never reused), exp at most 15 min ahead, iat optional',
    }),
  },
  { description: 'Once each; form-urlencoded or JSON' },
);

const IssuerView = Type.Object(
  {
    issuerId: Type.String(),
    name: Type.String(),
    notificationBaseUrl: Type.String(),
    jwks: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }),
    webhookSecretCount: Type.Integer({ description: 'how many whsec_ secrets sign (2 during a rotation)' }),
    webhookSecret: Type.Optional(Type.String({ description: 'only when the hub generated it (creation without one): shown this once' })),
    notificationSigning: Type.Optional(Type.Union([Type.Literal('hmac'), Type.Literal('ed25519')])),
    notificationPublicKey: Type.Optional(Type.String({ description: 'whpk_…: the ed25519 key that verifies v1a signatures (a public key, not a secret)' })),
    notificationAuth: Type.Union([Type.Object({ tokenUrl: Type.String(), clientId: Type.String() }), Type.Null()]),
    notificationTls: Type.Union([Type.Object({ certificatePem: Type.String(), hasCa: Type.Boolean() }), Type.Null()]),
    endpoint: Type.Object({ state: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]), disabledAt: Type.Optional(Type.String()), reason: Type.Optional(Type.String()) }),
    maxOperationsPerNotification: Type.Integer(),
    autoTrackShipment: Type.Boolean(),
    enabled: Type.Boolean(),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { description: 'An issuer as the Admin API shows it: never a secret' },
);

const SiteView = Type.Object({
  siteId: Type.String(),
  name: Type.String(),
  carriers: Type.Array(Type.String()),
  apiKey: Type.Optional(Type.String({ description: 'only a generated key (new site, or generateApiKey): shown this once' })),
});

const issuerSaved = (what: string) => Type.Object(IssuerView.properties, { description: what });

/** Keyed `METHOD /path` as Fastify registers it (`:param`). */
export const ROUTE_DOCS: Record<string, RouteDoc> = {
  'GET /healthz': {
    open: true,
    operationId: 'health', description: 'Answers while the process runs; no store access.', responses: { 200: Type.Object({ status: Type.Literal('ok') }) } },
  'GET /readyz': {
    open: true,
    operationId: 'readiness',
    description: 'Ready to serve: the store answers and its migrations are applied; otherwise 503 with Retry-After.',
    responses: { 200: Type.Object({ status: Type.Literal('ready'), store: Type.Union([Type.Literal('embedded'), Type.Literal('postgres')]), sandbox: Type.Boolean() }), ...errors(503) },
  },
  'GET /metrics': {
    operationId: 'metrics',
    description: 'Prometheus text format. Needs TRACKHUB_METRICS_TOKEN when set, otherwise an admin token of any scope; open only in the sandbox.',
    responses: { 200: Type.String({ description: 'Prometheus exposition format (text/plain)' }), ...errors(401, 429) },
  },
  'POST /authz/v1/oauth2/token': {
    open: true,
    ownBodyErrors: true,
    operationId: 'requestAccessToken',
    description:
      'RFC 7523 JWT-bearer grant. Send grant_type and an ES256 assertion signed with one of the issuer\'s registered keys; the answer is a bearer token for the Issuer API, valid 900 s. Every refusal is an RFC 6749 error body with an error_description naming the rule that failed (an unknown issuer and a wrong key read the same). See docs/integration.md.',
    body: TokenRequest,
    consumes: ['application/x-www-form-urlencoded', 'application/json'],
    // 200, 400, 413 and 429 are also the route's own (it serializes with them); 500 and 503 only here.
    responses: TOKEN_RESPONSES,
  },
  'POST /banking/v1/issuers/:issuerId/physicalCards/:cardId/track': {
    operationId: 'trackCard',
    description:
      'Opens a tracking operation (or returns the open one for the same body) and answers once it is stored. Its updates come as notifications (webhooks: STANDALONE_TRACKING) and through trackingStatus. A different body for the same card and type supersedes the open operation.',
  },
  'GET /banking/v1/issuers/:issuerId/physicalCards/:cardId/trackingStatus': {
    operationId: 'getTrackingStatus',
    description: 'The latest operation object of every tracking operation of the card, newest first, with the whole checkpoint history; 404 for a card this issuer never tracked.',
  },
  'GET /banking/v1/issuers/:issuerId/notifications': {
    operationId: 'listIssuerNotifications',
    description:
      'Catch-up feed: this issuer\'s notifications in commit order, each with the webhookId and body of its push, whatever its delivery state. Pass nextCursor as after to read on; an empty page gives back the cursor sent. Apply items as pushes: de-duplicate by webhookId, order by sequenceNumber per operation.',
  },
  'GET /admin/v1/notifications': {
    operationId: 'adminListNotifications', description: 'Notifications by state and issuer, oldest first; page with nextCursor.' },
  'GET /admin/v1/notifications/:id': {
    operationId: 'adminGetNotification', description: 'One notification with its operations and each delivery attempt (status, latency, the start of the answer).' },
  'POST /admin/v1/notifications/:id/replay': {
    operationId: 'adminReplayNotification', description: 'Queues the notification again, under the same webhook-id, with a fresh retry schedule (scope operate).', responses: errors(400) },
  'POST /admin/v1/issuers/:issuerId/replay': {
    operationId: 'adminReplayIssuerNotifications',
    description:
      'Queues again the issuer\'s dead notifications created since a time (and before `until` when given), and delivered ones when asked (scope operate). Given `expectedCount` (the preview\'s count, with its `until`), it replays only when exactly that many are selected now, and otherwise replays nothing and answers 409 CONFLICT naming both numbers: what is sent is what the operator confirmed.',
  },
  'PUT /admin/v1/issuers/:issuerId': {
    operationId: 'adminPutIssuer',
    description:
      'Creates (201) or replaces (200) an issuer: its public keys, where notifications go and how they are signed. A webhookSecret generated on creation is returned once; secrets are stored sealed and never returned.',
    responses: { 200: issuerSaved('Replaced'), 201: issuerSaved('Created') },
  },
  'GET /admin/v1/issuers/:issuerId': {
    operationId: 'adminGetIssuer', description: 'One issuer, without its secrets.', responses: { 200: IssuerView, ...errors(401, 403, 404, 429) } },
  'GET /admin/v1/issuers': {
    operationId: 'adminListIssuers', description: 'Every issuer, without secrets.', responses: { 200: Type.Object({ issuers: Type.Array(IssuerView) }), ...errors(401, 403, 429) } },
  'PUT /admin/v1/production-sites/:siteId': {
    operationId: 'adminPutProductionSite',
    description: 'Creates (201) or updates (200) a production site. A generated API key is shown once; the hub keeps only what checks it.',
    responses: { 200: Type.Object(SiteView.properties, { description: 'Updated' }), 201: Type.Object(SiteView.properties, { description: 'Created' }), ...errors(401, 403, 415, 429) },
  },
  'GET /admin/v1/production-sites': {
    operationId: 'adminListProductionSites',
    description: 'Production sites in id order, a page at a time; whether each has a key, never the key.',
    responses: {
      200: Type.Object({
        sites: Type.Array(
          Type.Object({ siteId: Type.String(), name: Type.String(), carriers: Type.Array(Type.String()), hasApiKey: Type.Boolean(), createdAt: Type.String(), updatedAt: Type.String() }),
        ),
        nextCursor: Type.Union([Type.String(), Type.Null()]),
      }),
    },
  },
  'GET /admin/v1/production-sites/:siteId': {
    operationId: 'adminGetProductionSite', description: 'One production site (never its key).', responses: { 200: SiteView, ...errors(401, 403, 404, 429) } },
  'GET /admin/v1/audit': {
    operationId: 'adminListAudit', description: 'Admin API writes, newest first, with secrets masked as ***.' },
  'GET /admin/v1/admin-tokens': {
    operationId: 'adminListTokens', description: 'Named admin tokens (scope admin); the token itself is never shown again.', responses: errors(400) },
  'POST /admin/v1/admin-tokens': {
    operationId: 'adminCreateToken', description: 'Creates a named admin token with a scope (read, operate, admin); the token is in this answer only.', responses: errors(415) },
  'DELETE /admin/v1/admin-tokens/:name': {
    operationId: 'adminRevokeToken', description: 'Revokes a named admin token.' },
  'GET /admin/v1/operations': {
    operationId: 'adminListOperations', description: 'Tracking operations, newest first, filtered by issuer, card, status, type, carrier; page with nextCursor.' },
  'GET /admin/v1/search': {
    operationId: 'adminSearch', description: 'Finds cards by the start of a card id, or exactly by tracking number, operation id, correlation id or webhook-id; exact kinds first.' },
  'GET /admin/v1/issuers/:issuerId/cards/:cardId/timeline': {
    operationId: 'adminCardTimeline', description: 'A card\'s story: every operation (newest first) with all its checkpoints, and each notification that carried it with its attempts; 404 for a card with no operation.' },
  'GET /admin/v1/insights/stuck': {
    operationId: 'adminInsightsStuck', description: 'Open shipments with no carrier scan for scanDays (counted by status), shipments a site reported siteDays ago never scanned, notifications pending over pendingHours; each item names its card.' },
  'GET /admin/v1/carriers': {
    operationId: 'adminListCarriers', description: 'Each carrier provider as operators watch it: configured or not, budget and use, breaker, pushes; never a secret.' },
  'GET /admin/v1/insights/summary': {
    operationId: 'adminInsightsSummary', description: 'Operations opened and finished per UTC hour by type and outcome, the shipment funnel, request-to-delivery p50/p90 per carrier and site, exception and failure rates; window [from, to), default the last 24 hours, at most 31 days.' },
  'GET /admin/v1/insights/sites': {
    operationId: 'adminInsightsSites', description: 'Per production site: PRODUCTION requests, request-to-CARD_SHIPPED p50/p90, PRODUCTION_TIMEOUTs, inbox files with accepted, duplicate and rejected lines; window as for the summary.' },
  'GET /admin/v1/insights/site-silence': {
    operationId: 'adminInsightsSiteSilence',
    description:
      'Now, per registered production site: open PRODUCTION requests it may answer (naming it or naming no site) and seconds since its newest report (Site API, batch file or inbox; looked for 2 days back, or since it was registered); silent is true after a day of silence while requests wait, the rule of the TrackhubSiteSilentWhileRequestsWait alert.',
  },
  'GET /admin/v1/insights/notifications': {
    operationId: 'adminInsightsNotifications',
    description:
      'Every issuer, one row each: of the notifications created in the window [from, to) (default the last 24 hours, at most 31 days), how many are delivered, dead and pending now, the success rate delivered / (delivered + dead), and commit-to-delivery p50/p99; and now: the backlog (pending), the oldest pending and its age, the dead count, and the endpoint\'s state as the store records it (disabled since a 410 Gone or a PUT with enabled false; throttled until its earliest retry put off by a 429, 502, 503, 504 or a timeout; else ok).',
  },
  'GET /admin/v1/issuers/:issuerId/replay-preview': {
    operationId: 'adminPreviewIssuerReplay',
    description:
      'What POST /admin/v1/issuers/{issuerId}/replay would send now with the same since and includeDelivered: how many, the creation times of the oldest and newest, and `until`, the preview\'s time: the bound it counted up to (the same selection; a notification that dies or is delivered meanwhile changes the count, which POST …/replay with expectedCount and until then refuses with 409).',
  },
  'GET /admin/v1/production-sites/:siteId/inbox-files': {
    operationId: 'adminListInboxFiles',
    description:
      'A production site\'s inbox files, newest first, a page at a time: name, state, received and finished times, lines read, accepted, duplicate and rejected line counts, and the first 20 rejected lines with their reasons. Why a whole file was rejected is in the report beside it in the site\'s folder.',
  },
  'POST /carriers/v1/:provider/webhook': {
    open: true,
    operationId: 'carrierPush',
    description: 'A carrier\'s push, verified with that provider\'s signature; 404 for a provider with no push secret configured.',
    responses: { 200: Type.Object({ received: Type.Integer(), operations: Type.Integer() }), ...errors(401, 404, 413, 415) },
  },
  'POST /sites/v1/production-sites/:siteId/events': {
    operationId: 'reportSiteEvents', description: 'A production site reports shipped or returned cards; each bad event is rejected alone, the rest kept.' },
};

/** Descriptions of parameters by name, for those whose schema carries none. */
export const PARAMETER_DOCS: Record<string, string> = {
  issuerId: 'Issuer id: 10 of [A-Za-z0-9_-]',
  cardId: 'Card id: 1 to 48 of [A-Za-z0-9_-]',
  siteId: 'Production site id',
  provider: 'Carrier provider: fedex, ups, usps, dhl, laposte, aftership',
  name: 'Admin token name',
  id: 'The notification\'s webhook-id',
  'x-correlation-id': '1 to 64 of [A-Za-z0-9_-]; echoed in the answer, logs and notifications (one is made when absent)',
  limit: 'Page size',
  cursor: 'nextCursor of the previous page',
  after: 'nextCursor of the previous page; absent starts from the oldest retained',
  state: 'pending, delivered or dead',
  status: 'Operation status',
  trackingType: 'PRODUCTION, SHIPMENT or RETURN',
  open: 'true: only operations still open',
  carrier: 'Carrier code',
  tokenName: 'Only writes made with this token',
  targetId: 'Only writes to this id',
  from: 'Start of the window (ISO 8601 with offset), included',
  to: 'End of the window (ISO 8601 with offset), excluded',
};

/** The statuses every route can answer: a bad x-correlation-id (400), the store away or the hub stopping (503). */
export const EVERY_ROUTE = [400, 503] as const;

/** And every POST or PUT, whose body Fastify reads before the handler: too large (413), not JSON (415). */
export const EVERY_BODY_ROUTE = [413, 415] as const;
