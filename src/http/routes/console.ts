import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { assetPath } from '../../assets.ts';
import type { HttpDeps } from '../app.ts';

const DIR = assetPath('http', 'console');

// Same-origin only: the console talks to the Admin API of the hub that served it, and nothing else.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** `GET /console`: the operator console, a static page over the Admin API. */
export function registerConsole(app: FastifyInstance, deps: HttpDeps): void {
  const html = readFileSync(join(DIR, 'console.html'), 'utf8').replace('__SANDBOX__', deps.config.sandbox ? 'true' : 'false');
  const files: Record<string, [string, string]> = {
    '/console': [html, 'text/html; charset=utf-8'],
    '/console/console.js': [readFileSync(join(DIR, 'console.js'), 'utf8'), 'text/javascript; charset=utf-8'],
    '/console/console.css': [readFileSync(join(DIR, 'console.css'), 'utf8'), 'text/css; charset=utf-8'],
  };
  for (const [path, [body, type]] of Object.entries(files)) {
    app.get(path, { schema: { hide: true } }, async (_req, reply) => reply.headers({ ...SECURITY_HEADERS, 'content-type': type }).send(body));
  }
}
