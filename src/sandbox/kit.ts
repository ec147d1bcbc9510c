import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ParcelClock } from './scenarios.ts';

/**
 * What every provider's sandbox (`src/carriers/<provider>/sandbox.ts`) is built from: the sandbox's
 * routes stay out of the hub's API document, and bearer tokens are issued and checked the same way.
 */

/** A provider's sandbox: mounts its API's routes under `prefix`, rendering the scripted parcels of `clock`. */
export type SandboxRenderer = (app: FastifyInstance, prefix: string, clock: ParcelClock) => void;

/** Route options that keep a sandbox route out of the OpenAPI document. */
export const hide = { schema: { hide: true } };

/** Tokens one sandbox token endpoint remembers; past this the oldest is forgotten (its holder gets a 401 and asks again). */
const MAX_TOKENS = 10_000;

/** Bearer tokens issued by one sandbox token endpoint. */
export class SandboxTokens {
  private readonly issued = new Set<string>();

  issue(): string {
    const token = randomBytes(24).toString('base64url');
    this.issued.add(token);
    if (this.issued.size > MAX_TOKENS) this.issued.delete(this.issued.values().next().value as string);
    return token;
  }

  valid(req: FastifyRequest): boolean {
    const token = req.headers.authorization?.replace(/^Bearer /i, '');
    return Boolean(token && this.issued.has(token));
  }
}
