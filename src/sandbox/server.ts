import Fastify, { type FastifyInstance } from 'fastify';
import type { ProviderName } from '../carriers/provider.ts';
import { PROVIDERS } from '../carriers/registry.ts';
import { ParcelClock } from './scenarios.ts';

export const SANDBOX_PREFIX = '/sandbox';

function formParser(app: FastifyInstance) {
  if (app.hasContentTypeParser('application/x-www-form-urlencoded')) return;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}

/** Mounts every provider's sandbox (its descriptor's `sandbox`) under `/sandbox/{provider}`. */
export function registerSandbox(app: FastifyInstance, speed: number, clock = new ParcelClock(speed)): void {
  formParser(app);
  for (const provider of Object.values(PROVIDERS)) provider.sandbox(app, sandboxBaseUrl('', provider.name), clock);
}

/** `trackhub sandbox`: the carrier sandbox on its own port (tests give a clock they move: `now`). */
export async function startSandbox(opts: { host: string; port: number; speed: number; now?: () => number }): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false });
  registerSandbox(app, opts.speed, new ParcelClock(opts.speed, opts.now));
  const url = await app.listen({ host: opts.host, port: opts.port });
  return { app, url };
}

export function sandboxBaseUrl(origin: string, provider: ProviderName): string {
  return `${origin}${SANDBOX_PREFIX}/${provider}`;
}
