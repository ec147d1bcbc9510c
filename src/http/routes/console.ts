import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PACKAGE_ROOT } from '../../assets.ts';
import type { HttpDeps } from '../app.ts';

/**
 * The console's build output (console/ bundled by `npm run build`). Always dist/console, also when the hub
 * runs from its TypeScript sources (the tests): the browser bundle is made only by the build.
 */
const DIR = join(PACKAGE_ROOT, 'dist', 'console');

// Same-origin only: the console talks to the Admin API of the hub that served it, and nothing else. No
// inline script or style: every script and stylesheet is a file served here.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const FILES: Record<string, [string, string]> = {
  '/console': ['index.html', 'text/html; charset=utf-8'],
  '/console/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/console/app.css': ['app.css', 'text/css; charset=utf-8'],
};

const NOT_BUILT = 'The Trackhub console is not built: run `npm run build` (npm ci runs it), then restart the hub.\n';

function readBuilt(file: string): string | undefined {
  try {
    return readFileSync(join(DIR, file), 'utf8');
  } catch {
    return undefined;
  }
}

/** `GET /console`: the operator console, a single-page app over the Admin API, served from its build. */
export function registerConsole(app: FastifyInstance, deps: HttpDeps): void {
  for (const [path, [file, type]] of Object.entries(FILES)) {
    // Read once at start; a missing build is answered 503 with what to do, the rest of the hub runs on.
    let body = readBuilt(file);
    if (body !== undefined && file === 'index.html') body = body.replace('__SANDBOX__', deps.config.sandbox ? 'true' : 'false');
    app.get(path, { schema: { hide: true } }, async (_req, reply) => {
      if (body === undefined) return reply.code(503).headers({ ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).send(NOT_BUILT);
      return reply.headers({ ...SECURITY_HEADERS, 'content-type': type }).send(body);
    });
  }
}
