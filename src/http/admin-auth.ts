import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ApiError } from '../domain/errors.ts';
import { ADMIN_TOKEN_FORMAT, type AdminScope, ENV_TOKEN_NAME, hashAdminToken, listAdminTokens, scopeCovers, useAdminToken } from '../store/admin-tokens.ts';
import { recordAudit } from '../store/audit.ts';
import type { Db } from '../store/db.ts';
import { clientKey } from './client-address.ts';

/** What a refused request is told, without a token and with a wrong one. */
export interface Refusal {
  missing: string;
  wrong: string;
}
const ADMIN_REFUSAL: Refusal = {
  missing: 'admin bearer token required (Authorization: Bearer <token>)',
  wrong: 'the admin bearer token is unknown, revoked or malformed',
};

/**
 * What every refused admin request is told while no admin token exists at all (neither TRACKHUB_ADMIN_TOKEN
 * nor a named token): how to turn the Admin API on. It tells a caller no more than that nothing can get in.
 */
export const ADMIN_API_OFF =
  'the Admin API is off: no admin token is configured. Set TRACKHUB_ADMIN_TOKEN (at least 32 characters) when starting the hub, ' +
  'or create a named token with: trackhub admin-tokens create --name NAME --scope admin';

/** Who made an admin request: the token's name (`env` for TRACKHUB_ADMIN_TOKEN) and its scope. */
export interface AdminActor {
  name: string;
  scope: AdminScope;
}

/**
 * How long an instance trusts its cached answer for a named token: a token revoked through another
 * instance (or the CLI) stops working here within this time. Revoked through this instance, at once.
 */
export const ADMIN_TOKEN_CACHE_TTL_MS = 5_000;
/** Tokens in use are few; the bound only matters if something goes wrong. */
const TOKEN_CACHE_MAX = 1_000;
/** Failed authentications one client address may make in a window before it is refused with 429 (TRACKHUB_ADMIN_AUTH_FAILURES). */
export const AUTH_FAILURE_LIMIT = 10;
export const AUTH_FAILURE_WINDOW_MS = 5 * 60_000;
/** Addresses tracked at once; past it the one tracked longest is dropped. */
const FAILURE_CLIENTS_MAX = 10_000;

/**
 * The credentials of `Authorization: Bearer <token>`, for every caller of the hub (issuers, operators, the
 * metrics scraper); the scheme is case-insensitive (RFC 7235 §2.1),
 * so `bearer` and `BEARER` work too. Undefined when the header is missing, not a bearer credential, or
 * sent more than once: Node keeps only the first of two, so a valid token followed by another would
 * otherwise pass with the second never looked at.
 */
export function bearerToken(req: { headers: { authorization?: string }; raw: { rawHeaders: string[] } }): string | undefined {
  if (headerCount(req, 'authorization') > 1) return undefined;
  const m = /^bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** How many times a request sent a header (Node keeps the first `Authorization` and joins others with ", "). */
export function headerCount(req: { raw: { rawHeaders: string[] } }, lowerCaseName: string): number {
  const raw = req.raw.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === lowerCaseName.length && raw[i].toLowerCase() === lowerCaseName) seen++;
  return seen;
}

/**
 * A credential header sent twice is a client's (or its proxy's) mistake, not a guess: refused with a 400
 * that says so, before any check, and never counted as a failed authentication (a proxy that doubles the
 * header would otherwise lock every client behind it out).
 */
export function refuseRepeatedCredential(req: { raw: { rawHeaders: string[] } }, lowerCaseName: string): void {
  if (headerCount(req, lowerCaseName) > 1) throw new ApiError('FIELD_INVALID_FORMAT', `${lowerCaseName}: the header is sent more than once; send it once`);
}

/** The key failed authentications are counted under (src/http/client-address.ts). */
export const failureKey = clientKey;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * Authentication of operators: TRACKHUB_ADMIN_TOKEN (the bootstrap token, scope `admin`, named `env`)
 * and the named tokens in the store, with a per-address limit on failures.
 *
 * The failure limit is written here rather than taken from @fastify/rate-limit: that plugin counts
 * requests, and what must be counted is failed authentications only (an operator's own traffic must
 * never be slowed), keyed by address, with a refusal that holds even for a correct token.
 */
export class AdminAuth {
  /** The clock of the token cache and of the failure windows (tests move it). */
  now: () => number = Date.now;
  private readonly envHash: Buffer | undefined;
  private readonly cache = new Map<string, { actor: AdminActor; until: number }>();
  private readonly failures = new Map<string, { count: number; windowEnds: number }>();

  constructor(
    private readonly db: Db,
    envToken: string | undefined,
    private readonly failureLimit: { count: number; perMs: number } = { count: AUTH_FAILURE_LIMIT, perMs: AUTH_FAILURE_WINDOW_MS },
  ) {
    this.envHash = envToken === undefined ? undefined : sha256(envToken);
  }

  /** The operator the request's admin token names; otherwise a 401, or a 429 once the address failed too often. */
  async authenticate(req: FastifyRequest): Promise<AdminActor> {
    try {
      return await this.guard(req, (token) => this.lookup(token));
    } catch (err) {
      // Asked only on a refusal: a hub with no token at all says how to configure one instead of "token required".
      if (err instanceof ApiError && err.errorCode === 'AUTHORIZER_UNAUTHORIZED' && !(await this.anyTokenConfigured())) {
        throw new ApiError('AUTHORIZER_UNAUTHORIZED', ADMIN_API_OFF, err.headers);
      }
      throw err;
    }
  }

  private tokensKnown: { any: boolean; until: number } | undefined;

  /** Whether any admin token can get in: TRACKHUB_ADMIN_TOKEN, or a named token not revoked (the store's answer cached like a token's). */
  private async anyTokenConfigured(): Promise<boolean> {
    if (this.envHash) return true;
    if (this.tokensKnown && this.tokensKnown.until > this.now()) return this.tokensKnown.any;
    const any = (await listAdminTokens(this.db)).some((t) => !t.revokedAt);
    this.tokensKnown = { any, until: this.now() + ADMIN_TOKEN_CACHE_TTL_MS };
    return any;
  }

  /**
   * Runs `verify` on the request's bearer token under the failure limit: an address that failed
   * `failureLimit.count` times in a window is refused (429, Retry-After) until the window ends, whatever
   * it sends. A failure is logged at info with the address and route, never with what was sent.
   */
  async guard<T>(req: FastifyRequest, verify: (token: string) => Promise<T | undefined> | T | undefined, refusal = ADMIN_REFUSAL): Promise<T> {
    const key = failureKey(req.ip);
    const now = this.now();
    const record = this.failures.get(key);
    if (record && record.windowEnds <= now) this.failures.delete(key);
    else if (record && record.count >= this.failureLimit.count) {
      const seconds = Math.max(1, Math.ceil((record.windowEnds - now) / 1000));
      throw new ApiError('RATE_LIMITED', `too many failed authentications from this address; retry in ${seconds} s`, { 'retry-after': String(seconds) });
    }
    refuseRepeatedCredential(req, 'authorization');
    const token = bearerToken(req);
    const found = token === undefined ? undefined : await verify(token);
    if (found !== undefined) {
      this.failures.delete(key);
      return found;
    }
    this.recordFailure(key, now);
    req.log.info({ ip: req.ip, method: req.method, route: req.routeOptions.url, reason: token === undefined ? 'no bearer token' : 'token refused' }, 'admin authentication failed');
    throw new ApiError(
      'AUTHORIZER_UNAUTHORIZED',
      token === undefined ? refusal.missing : refusal.wrong,
      { 'www-authenticate': 'Bearer realm="trackhub-admin"' },
    );
  }

  /** Client addresses (or IPv6 /64s) with failures counted; at most FAILURE_CLIENTS_MAX. */
  get trackedClients(): number {
    return this.failures.size;
  }

  /** This instance stops accepting the named token at once (it was revoked here). */
  forget(name: string): void {
    for (const [hash, entry] of this.cache) if (entry.actor.name === name) this.cache.delete(hash);
  }

  private recordFailure(key: string, now: number): void {
    const record = this.failures.get(key) ?? { count: 0, windowEnds: now + this.failureLimit.perMs };
    record.count += 1;
    // Re-inserted, so the map's first keys are the addresses that failed longest ago.
    this.failures.delete(key);
    this.failures.set(key, record);
    if (this.failures.size > FAILURE_CLIENTS_MAX) this.forgetOne(now);
  }

  /**
   * At the bound, one client is forgotten: among the 128 that failed longest ago, one whose window is
   * over, else the one with the fewest failures. A locked-out client is not re-inserted while it is
   * refused, so dropping simply the oldest would let 10,000 other addresses flush its lockout.
   */
  private forgetOne(now: number): void {
    let victim: string | undefined;
    let fewest = Number.POSITIVE_INFINITY;
    let seen = 0;
    for (const [key, r] of this.failures) {
      if (r.windowEnds <= now) {
        victim = key;
        break;
      }
      if (r.count < fewest) {
        fewest = r.count;
        victim = key;
      }
      if (++seen >= 128) break;
    }
    if (victim !== undefined) this.failures.delete(victim);
  }

  private async lookup(token: string): Promise<AdminActor | undefined> {
    // Compared as SHA-256 digests: equal lengths, constant time, and the bootstrap token's length is not leaked.
    if (this.envHash && timingSafeEqual(sha256(token), this.envHash)) return { name: ENV_TOKEN_NAME, scope: 'admin' };
    // Only what the hub could have generated reaches the store.
    if (!ADMIN_TOKEN_FORMAT.test(token)) return undefined;
    const hash = hashAdminToken(token);
    const hit = this.cache.get(hash);
    if (hit && hit.until > this.now()) return hit.actor;
    this.cache.delete(hash);
    const actor = await useAdminToken(this.db, hash);
    if (!actor) return undefined;
    if (this.cache.size >= TOKEN_CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(hash, { actor, until: this.now() + ADMIN_TOKEN_CACHE_TTL_MS });
    return actor;
  }
}

interface AuthDeps {
  db: Db;
  log: Logger;
  config: { adminToken?: string; adminAuthFailures?: { count: number; perMs: number } };
}

// One AdminAuth per app: every admin route and /metrics share its token cache and failure counts.
const perApp = new WeakMap<FastifyInstance, AdminAuth>();

export function adminAuthFor(app: FastifyInstance, deps: AuthDeps): AdminAuth {
  let auth = perApp.get(app);
  if (!auth) {
    auth = new AdminAuth(deps.db, deps.config.adminToken, deps.config.adminAuthFailures);
    perApp.set(app, auth);
  }
  return auth;
}

/** For tests: the app's AdminAuth, to move its clock. */
export function adminAuthOf(app: FastifyInstance): AdminAuth | undefined {
  return perApp.get(app);
}

const actors = new WeakMap<FastifyRequest, AdminActor>();
const auditNotes = new WeakMap<FastifyRequest, { targetId?: string; before?: unknown; after?: unknown }>();

/** The operator behind an authenticated admin request. */
export function adminActor(req: FastifyRequest): AdminActor | undefined {
  return actors.get(req);
}

/** What a write handler tells the audit log: the target's state before and after (masked when written). */
export function noteAudit(req: FastifyRequest, note: { targetId?: string; before?: unknown; after?: unknown }): void {
  auditNotes.set(req, { ...auditNotes.get(req), ...note });
}

const TARGET_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/** The path parameter naming the target (issuerId, siteId, id, name) when it looks like an id. */
function targetFromParams(req: FastifyRequest): string | null {
  const params = (req.params ?? {}) as Record<string, unknown>;
  const value = Object.values(params).find((v) => typeof v === 'string');
  return typeof value === 'string' && TARGET_ID.test(value) ? value : null;
}

export interface AdminRouteHooks {
  onRequest: (req: FastifyRequest) => Promise<void>;
  onSend: (req: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown>;
}

/**
 * The hooks of an admin route: the token must name an operator whose scope covers `scope` (401, 403
 * FORBIDDEN), and every write (any method but GET and HEAD) by an authenticated operator is written to
 * the audit log with its outcome, refusals included.
 */
export function adminRoute(app: FastifyInstance, deps: AuthDeps, scope: AdminScope): AdminRouteHooks {
  const auth = adminAuthFor(app, deps);
  return {
    async onRequest(req) {
      const actor = await auth.authenticate(req);
      actors.set(req, actor);
      if (!scopeCovers(actor.scope, scope)) throw new ApiError('FORBIDDEN', `this needs a token with the ${scope} scope; ${actor.name} has ${actor.scope}`);
    },
    async onSend(req, reply, payload) {
      const actor = actors.get(req);
      if (!actor || req.method === 'GET' || req.method === 'HEAD') return payload;
      const note = auditNotes.get(req) ?? {};
      try {
        await recordAudit(deps.db, {
          tokenName: actor.name,
          method: req.method,
          route: req.routeOptions.url ?? req.url.split('?')[0],
          targetId: note.targetId ?? targetFromParams(req),
          status: reply.statusCode,
          before: note.before,
          after: note.after,
          correlationId: req.correlationId,
        });
      } catch (err) {
        // The change itself is committed; the missing row is what an operator must hear about.
        deps.log.error({ err, route: req.routeOptions.url, tokenName: actor.name, correlationId: req.correlationId }, 'audit entry not written');
      }
      return payload;
    },
  };
}
