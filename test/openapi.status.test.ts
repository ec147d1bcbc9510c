import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { assertion, issuerKey, JWT_BEARER } from './helpers/issuer.ts';

/**
 * Real answers against the OpenAPI document: each answered status is one the document lists for its route
 * (a generated client would otherwise meet an answer it has no type for), and its body holds the fields
 * the document marks required. The document is the app's own (test/openapi.drift.test.ts ties it to openapi.json).
 */

interface Recorded {
  method: string;
  route: string;
  status: number;
  body: unknown;
}

type OpenApi = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>>; components: { schemas: Record<string, Schema> } };
type Schema = { $ref?: string; required?: string[]; properties?: Record<string, Schema> };

const ISSUER = 'ISSUER_OA1';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('answers are the ones the OpenAPI document lists', () => {
  let t: TestApp;
  let token: string;
  const recorded: Recorded[] = [];

  /** Sends a request and records its answer under the route pattern it was sent to (`{param}` form). */
  async function send(route: string, opts: InjectOptions & { method: string }) {
    const res = await t.app.inject(opts);
    recorded.push({ method: opts.method.toLowerCase(), route, status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined });
    return res;
  }

  beforeAll(async () => {
    t = await testApp('postgres');
    token = (await readyIssuer(t.app, ISSUER)).token;
    const tokenRoute = '/authz/v1/oauth2/token';
    const trackRoute = '/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/track';
    const statusRoute = '/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/trackingStatus';
    const issuerRoute = '/admin/v1/issuers/{issuerId}';
    const bearer = { authorization: `Bearer ${token}` };

    // The token endpoint: a refused assertion (an unknown issuer), a missing parameter, a granted one.
    const stranger = await issuerKey();
    await send(tokenRoute, { method: 'POST', url: tokenRoute, payload: { grant_type: JWT_BEARER, assertion: await assertion('NOSUCHBANK', stranger) } });
    await send(tokenRoute, { method: 'POST', url: tokenRoute, payload: { grant_type: JWT_BEARER } });
    // The Issuer API: accepted, refused body, no token, a card never tracked, a tracked card's status.
    const track = (card: string, payload: unknown, headers: Record<string, string> = bearer) =>
      send(trackRoute, { method: 'POST', url: `/banking/v1/issuers/${ISSUER}/physicalCards/${card}/track`, headers, payload: payload as string });
    await track('card-oa-1', { trackingType: 'SHIPMENT', trackingNumber: '123456789012', countryCode: 'US' });
    await track('card-oa-1', { trackingType: 'SHIPMENT', nope: 1 });
    await track('card-oa-1', { trackingType: 'PRODUCTION' }, {});
    await send(statusRoute, { method: 'GET', url: `/banking/v1/issuers/${ISSUER}/physicalCards/card-oa-1/trackingStatus`, headers: bearer });
    await send(statusRoute, { method: 'GET', url: `/banking/v1/issuers/${ISSUER}/physicalCards/never-seen/trackingStatus`, headers: bearer });
    // The Admin API: an issuer created (201), replaced (200), read, and one that does not exist.
    const key = await issuerKey();
    const issuer = { name: 'Bank OA2', notificationBaseUrl: 'https://bank.example', jwks: { keys: [key.publicJwk] } };
    await send(issuerRoute, { method: 'PUT', url: '/admin/v1/issuers/ISSUER_OA2', headers: admin, payload: issuer });
    await send(issuerRoute, { method: 'PUT', url: '/admin/v1/issuers/ISSUER_OA2', headers: admin, payload: issuer });
    await send(issuerRoute, { method: 'GET', url: '/admin/v1/issuers/ISSUER_OA2', headers: admin });
    await send(issuerRoute, { method: 'GET', url: '/admin/v1/issuers/NOSUCHBANK', headers: admin });
    await send(issuerRoute, { method: 'GET', url: '/admin/v1/issuers/ISSUER_OA2' });
    await send(issuerRoute, { method: 'PUT', url: '/admin/v1/issuers/ISSUER_OA3', headers: { ...admin, 'content-type': 'application/json' }, payload: `"${'a'.repeat(4 * 1024 * 1024)}"` });
    await send('/admin/v1/notifications/{id}/replay', { method: 'POST', url: '/admin/v1/notifications/msg_x/replay', headers: { ...admin, 'content-type': 'text/plain' }, payload: 'x' });
    await send('/admin/v1/issuers', { method: 'GET', url: '/admin/v1/issuers', headers: admin });
    // Production sites: created, updated, listed.
    const siteRoute = '/admin/v1/production-sites/{siteId}';
    await send(siteRoute, { method: 'PUT', url: '/admin/v1/production-sites/site-oa', headers: admin, payload: { name: 'Bureau' } });
    await send(siteRoute, { method: 'PUT', url: '/admin/v1/production-sites/site-oa', headers: admin, payload: { name: 'Bureau 2' } });
    await send('/admin/v1/production-sites', { method: 'GET', url: '/admin/v1/production-sites', headers: admin });
    await send('/healthz', { method: 'GET', url: '/healthz' });
    await send('/readyz', { method: 'GET', url: '/readyz' });
    // The catch-up feed: a page, a cursor it never handed out, a limit out of range.
    const feed = '/banking/v1/issuers/{issuerId}/notifications';
    await send(feed, { method: 'GET', url: `/banking/v1/issuers/${ISSUER}/notifications?limit=10`, headers: bearer });
    await send(feed, { method: 'GET', url: `/banking/v1/issuers/${ISSUER}/notifications?after=%25%25`, headers: bearer });
    await send(feed, { method: 'GET', url: `/banking/v1/issuers/${ISSUER}/notifications?limit=0`, headers: bearer });
  });
  afterAll(async () => t?.close());

  it('recorded the answers the cases were written for', () => {
    const statuses = (route: string) => recorded.filter((r) => r.route === route).map((r) => r.status);
    expect(statuses('/authz/v1/oauth2/token')).toEqual([400, 400]);
    expect(statuses('/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/track')).toEqual([202, 400, 401]);
    expect(statuses('/admin/v1/issuers/{issuerId}')).toEqual([201, 200, 200, 404, 401, 413]);
    expect(statuses('/admin/v1/notifications/{id}/replay')).toEqual([415]);
    expect(statuses('/admin/v1/production-sites/{siteId}')).toEqual([201, 200]);
    expect(statuses('/banking/v1/issuers/{issuerId}/notifications')).toEqual([200, 400, 400]);
  });

  it('lists every answered status for its route, with the fields its body must hold', async () => {
    await t.app.ready();
    const doc = t.app.swagger() as unknown as OpenApi;
    const resolve = (s: Schema): Schema => (s.$ref ? doc.components.schemas[s.$ref.split('/').pop() as string] : s);
    const wrong: string[] = [];
    for (const r of recorded) {
      const documented = doc.paths[r.route]?.[r.method]?.responses?.[String(r.status)];
      if (!documented) {
        wrong.push(`${r.method.toUpperCase()} ${r.route} answered ${r.status}, which the document does not list`);
        continue;
      }
      const schema = documented.content?.['application/json']?.schema;
      const missing = schema ? (resolve(schema).required ?? []).filter((f) => typeof r.body !== 'object' || r.body === null || !(f in r.body)) : [];
      if (missing.length > 0) wrong.push(`${r.method.toUpperCase()} ${r.route} ${r.status} lacks ${missing.join(', ')}`);
    }
    expect(wrong).toEqual([]);
  });

  it('names and describes every operation and parameter (client generators make method names and comments of them)', async () => {
    const doc = t.app.swagger() as unknown as { paths: Record<string, Record<string, { operationId?: string; description?: string; parameters?: { name: string; description?: string }[] }>> };
    const lacking: string[] = [];
    const ids = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (!op.operationId || ids.has(op.operationId)) lacking.push(`${method} ${path}: operationId missing or taken`);
        ids.add(op.operationId ?? '');
        if (!op.description) lacking.push(`${method} ${path}: no description`);
        for (const p of op.parameters ?? []) if (!p.description) lacking.push(`${method} ${path}: parameter ${p.name} has no description`);
      }
    }
    expect(lacking).toEqual([]);
  });

  it('documents the token request body, the D1 error body and the notification webhook', async () => {
    const doc = t.app.swagger() as unknown as OpenApi & { webhooks: Record<string, { post: { requestBody: { content: Record<string, { schema: Schema }> } } }> };
    const token = doc.paths['/authz/v1/oauth2/token'].post as unknown as { requestBody: { content: Record<string, { schema: Schema }> } };
    expect(Object.keys(token.requestBody.content).sort()).toEqual(['application/json', 'application/x-www-form-urlencoded']);
    expect(token.requestBody.content['application/x-www-form-urlencoded'].schema.required).toEqual(['grant_type', 'assertion']);
    expect(doc.components.schemas.ErrorBody.required).toEqual(['errorCode', 'error']);
    const hook = doc.webhooks.STANDALONE_TRACKING.post.requestBody.content['application/json'].schema;
    expect(hook.properties?.operations).toMatchObject({ items: { $ref: '#/components/schemas/OperationObject' } });
  });
});
