import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, testApp } from './helpers/app.ts';

/** The API documentation pages: a strict content security policy, and no redirect loop. */
describe('/docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp('embedded');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is served with a content security policy that allows this origin only, and no framing', async () => {
    for (const url of ['/docs', '/docs/', '/docs/static/swagger-initializer.js']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      const csp = String(res.headers['content-security-policy']);
      expect(csp, url).toMatch(/default-src 'self'/);
      expect(csp, url).toMatch(/frame-ancestors 'none'/);
      expect(csp, url).toMatch(/object-src 'none'/);
      expect(csp, url).not.toMatch(/https:|validator\.swagger\.io|upgrade-insecure-requests|unsafe-eval/);
    }
  });

  it('sends /docs/static/index.html to /docs/, with or without a query string, and never to itself', async () => {
    for (const url of ['/docs/static/index.html', '/docs/static/index.html?x', '/docs/static/index.html?url=https://evil.example/']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(302);
      expect(res.headers.location, url).toBe('/docs/');
    }
  });
});
