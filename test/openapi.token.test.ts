import { describe, expect, it } from 'vitest';
import { exportOpenApi } from '../src/http/openapi-export.ts';

type Response = { description: string; headers?: Record<string, unknown>; content: { 'application/json': { schema: { properties: { error?: { enum?: string[] } } } } } };

// A client generator (and a reader of /docs) learns the token endpoint's answers from the document:
// each status described, and each refusal with the error values it can carry.
describe('the token endpoint in the OpenAPI document', () => {
  it('describes 200 and every refusal with its RFC 6749 error values, and Retry-After on slow_down', async () => {
    const doc = JSON.parse(await exportOpenApi());
    const responses: Record<string, Response> = doc.paths['/authz/v1/oauth2/token'].post.responses;
    expect(Object.keys(responses).sort()).toEqual(['200', '400', '413', '429', '500', '503']);
    for (const [status, r] of Object.entries(responses)) expect(r.description, status).not.toBe('Default Response');
    const errors = (status: string) => responses[status].content['application/json'].schema.properties.error?.enum;
    expect(errors('400')).toEqual(['invalid_request', 'invalid_grant', 'unsupported_grant_type']);
    expect(responses['400'].description).toMatch(/invalid_grant: .*error_description names the rule/);
    expect(errors('413')).toEqual(['invalid_request']);
    expect(errors('429')).toEqual(['slow_down']);
    expect(responses['429'].headers).toHaveProperty('retry-after');
    expect(errors('500')).toEqual(['server_error']);
    expect(errors('503')).toEqual(['temporarily_unavailable']);
    expect(responses['200'].content['application/json'].schema.properties.error).toBeUndefined();
  });
});
