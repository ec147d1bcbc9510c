import type { SwaggerOptions } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import type { OpenAPIV3_1 } from 'openapi-types';
import { EVERY_BODY_ROUTE, EVERY_ROUTE, PARAMETER_DOCS, ROUTE_DOCS } from './openapi-routes.ts';

const DESCRIPTION = [
  'Card tracking hub. An issuer (a bank) asks the hub to track a physical card through production, shipment or return;',
  'the hub follows it at the production site and the carriers and notifies the issuer of each change (see `webhooks`).',
  '',
  'A step-by-step guide (keys, token with curl and openssl or with the @trackhub/issuer SDK, track, receive and verify',
  'notifications, de-duplicate, order, catch up, every error code) is docs/integration.md in the Trackhub repository.',
  'Operators have a web console at /console (sign in with an admin token): the Admin API below, in views.',
  'Every error of the Issuer, Site and Admin APIs is an ErrorBody; the token endpoint answers RFC 6749 error bodies.',
].join('\n');

const header = (description: string, example?: string) => ({ required: true, description, schema: { type: 'string' as const, ...(example ? { examples: [example] } : {}) } });

/** The notification the hub POSTs to the issuer: documented as an OpenAPI 3.1 webhook. */
const WEBHOOKS: Record<string, OpenAPIV3_1.PathItemObject> = {
  STANDALONE_TRACKING: {
    post: {
      operationId: 'standaloneTrackingNotification',
      summary: 'A tracking update, POSTed to {notificationBaseUrl}/notifications/d1/v2/issuers/{issuerId}/cards',
      description: [
        'One or more operation objects (up to the issuer\'s maxOperationsPerNotification), each a full snapshot of its operation.',
        'Verify the signature over `{webhook-id}.{webhook-timestamp}.{raw body}` before reading the body; de-duplicate by',
        'webhook-id (a retry, a replay or a crash may send one again, always under the same id); per operationId, drop an',
        'update whose sequenceNumber is not above the last one applied. Missed notifications can be read again from',
        'GET /banking/v1/issuers/{issuerId}/notifications. An attempt has 15 s; redirects are not followed.',
      ].join(' '),
      parameters: [
        { in: 'header', name: 'webhook-id', ...header('Same on every retry and replay of this notification: the de-duplication key', 'msg_...') },
        { in: 'header', name: 'webhook-timestamp', ...header('Unix seconds when this attempt was signed; refuse one far from your clock (5 min)') },
        {
          in: 'header',
          name: 'webhook-signature',
          ...header(
            'Space-separated signatures (Standard Webhooks): `v1,<base64 HMAC-SHA256>` per whsec_ secret (two during a rotation), or `v1a,<base64 ed25519>` when the issuer chose ed25519 signing (verify with its whpk_ public key); both kinds may come during a switch. Accept when any one verifies.',
          ),
        },
        { in: 'header', name: 'x-correlation-id', ...header('The correlation id of the track request that opened the operation, for your logs') },
        { in: 'header', name: 'authorization', required: false, description: 'Bearer token from your token endpoint, when the issuer configured notificationAuth', schema: { type: 'string' } },
      ],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['operations'],
              properties: { operations: { type: 'array', minItems: 1, items: { $ref: '#/components/schemas/OperationObject' } } },
            },
          },
        },
      },
      responses: {
        '2XX': { description: 'Delivered: any 2xx; the body is not read. Later updates of the same operation wait for this one.' },
        '410': { description: 'Gone: the hub disables this issuer\'s endpoint and keeps its notifications until an operator updates the issuer.' },
        '429': { description: 'Slow down: retried per the schedule; Retry-After may lengthen the wait up to twice the planned delay; the hub sends fewer at once.' },
        '503': { description: 'Unavailable: as 429 (Retry-After honoured up to twice the planned delay), and the hub sends fewer at once.' },
        default: {
          description:
            'Anything else, a timeout or a refused connection: retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (each ±20 %, TRACKHUB_RETRY_SCHEDULE); after the last, the notification is dead, kept, and can be replayed.',
        },
      },
    },
  },
};

/** A parameter schema (`params`, `querystring`, `headers`) with a description on each property lacking one. */
function describeParameters(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || !('properties' in schema)) return schema;
  const properties = (schema as { properties: Record<string, Record<string, unknown>> }).properties;
  const described = Object.fromEntries(
    Object.entries(properties).map(([name, p]) => [name, p.description || !PARAMETER_DOCS[name] ? p : { ...p, description: PARAMETER_DOCS[name] }]),
  );
  return { ...schema, properties: described };
}

/**
 * The route's schema as the document shows it: ROUTE_DOCS's description, body and answers merged in,
 * parameters described, and the statuses every route can answer. A copy: what Fastify validates and
 * serializes with is left as it is.
 */
function documented(schema: FastifySchema & Record<string, unknown>, method: string, url: string): Record<string, unknown> {
  const doc = ROUTE_DOCS[`${method} ${url}`];
  const response: Record<string, unknown> = { ...(doc?.responses ?? {}), ...((schema.response as Record<string, unknown>) ?? {}) };
  const withBody = (method === 'POST' || method === 'PUT') && !doc?.ownBodyErrors;
  for (const status of [...EVERY_ROUTE, ...(withBody ? EVERY_BODY_ROUTE : [])]) response[status] ??= { $ref: 'ErrorBody#' };
  return {
    ...schema,
    ...(doc ? { operationId: doc.operationId, description: doc.description } : {}),
    ...(doc?.open ? { security: [] } : {}),
    ...(doc?.body && !schema.body ? { body: doc.body } : {}),
    ...(doc?.consumes ? { consumes: doc.consumes } : {}),
    params: describeParameters(schema.params),
    querystring: describeParameters(schema.querystring),
    headers: describeParameters(schema.headers),
    response,
  };
}

/** What @fastify/swagger is given: the document's head; the paths come from the routes' schemas. */
export const swaggerOptions: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: { title: 'Trackhub', version: '0.1.0', description: DESCRIPTION },
    tags: [
      { name: 'issuer', description: 'Issuer API (D1-compatible): token, track, trackingStatus, catch-up feed' },
      { name: 'sites', description: 'Site API: production sites report shipped and returned cards' },
      { name: 'admin', description: 'Admin API: issuers, sites, notifications, operations, tokens, audit' },
      { name: 'carriers', description: 'Carrier pushes' },
      { name: 'operations', description: 'Health, readiness, metrics' },
    ],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from /authz/v1/oauth2/token' },
        adminBearer: { type: 'http', scheme: 'bearer', description: 'TRACKHUB_ADMIN_TOKEN or a named admin token' },
        siteApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'Production site API key' },
      },
    },
    webhooks: WEBHOOKS,
  },
  transform: ({ schema, url, route }) => {
    if (!schema || schema.hide) return { schema, url };
    const method = Array.isArray(route.method) ? route.method[0] : route.method;
    return { schema: documented(schema as FastifySchema & Record<string, unknown>, method, url) as FastifySchema, url };
  },
  refResolver: { buildLocalReference: (json, _base, _fragment, i) => (json.$id as string) ?? `def-${i}` },
};
