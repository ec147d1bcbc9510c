import Fastify, { type FastifyInstance } from 'fastify';
import type { ProviderName } from '../carriers/provider.ts';
import { registerFedexSandbox } from './fedex.ts';
import { registerOtherSandboxes } from './providers.ts';
import { ParcelClock } from './scenarios.ts';

export const SANDBOX_PREFIX = '/sandbox';

/** Providers the sandbox can stand in for. */
export const SANDBOX_PROVIDERS: ProviderName[] = ['fedex', 'ups', 'usps', 'dhl', 'laposte', 'aftership'];

function formParser(app: FastifyInstance) {
  if (app.hasContentTypeParser('application/x-www-form-urlencoded')) return;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}

/** Mounts every provider's sandbox under `/sandbox/{provider}`. */
export function registerSandbox(app: FastifyInstance, speed: number, clock = new ParcelClock(speed)): void {
  formParser(app);
  registerFedexSandbox(app, `${SANDBOX_PREFIX}/fedex`, clock);
  registerOtherSandboxes(app, (provider) => `${SANDBOX_PREFIX}/${provider}`, clock);
}

/** `trackhub sandbox`: the carrier sandbox on its own port. */
export async function startSandbox(opts: { host: string; port: number; speed: number }): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false });
  registerSandbox(app, opts.speed);
  const url = await app.listen({ host: opts.host, port: opts.port });
  return { app, url };
}

export function sandboxBaseUrl(origin: string, provider: ProviderName): string {
  return `${origin}${SANDBOX_PREFIX}/${provider}`;
}
