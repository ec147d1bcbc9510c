import type { FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { ApiError } from '../domain/errors.ts';
import { clientKey } from './client-address.ts';
import { isRecord } from './schemas.ts';

/**
 * The hub's request budgets: one token bucket per key (an issuer, a production site, a client address),
 * shared by the Issuer API, the Site API and the token endpoint.
 *
 * Why not @fastify/rate-limit: its store counts requests (`incr(key)` adds one) in fixed windows, one
 * key per route. The Site API's budget is in events, so a 1,000-event batch must cost 1,000 and a single
 * event 1; the token endpoint needs two keys on one route (the caller's address and the assertion's
 * issuer), and the issuer's budget may be taken only once the assertion verified, or anyone could
 * spend a bank's budget by naming it. A token bucket with a cost and a bounded
 * map is the few lines below; the library would still need all of it around it.
 */

/** A bucket of `count` tokens refilled evenly over `perMs`: the same `count/window` as TRACKHUB_…_RATE_LIMIT. */
export interface Budget {
  count: number;
  perMs: number;
}

/** Keys a limiter remembers at most: they come from outside (addresses, claimed issuer ids). */
export const MAX_LIMITER_KEYS = 10_000;

export interface BucketOptions {
  maxKeys?: number;
  /** Milliseconds; Date.now by default, read at each call (tests fake Date). */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** How many of the least recently used keys are looked at to choose the one to forget. */
const EVICTION_CANDIDATES = 128;

/**
 * Token buckets keyed by caller. Memory is bounded: past `maxKeys` one key is forgotten, and a forgotten
 * key starts again with a full bucket (as a new key does). So the key forgotten is, among the
 * EVICTION_CANDIDATES least recently used, the one with the most tokens left: a full bucket is lost
 * for nothing, and a spent one (a caller being held back) is kept while any fuller one is there. A
 * flood of new keys, each with one token taken, cannot push a spent budget out and so refill it.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly tokensPerMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    readonly budget: Budget,
    opts: BucketOptions = {},
  ) {
    this.tokensPerMs = budget.count / budget.perMs;
    this.maxKeys = opts.maxKeys ?? MAX_LIMITER_KEYS;
    this.now = opts.now ?? (() => Date.now());
  }

  /** Tokens the key has now (refilled up to the burst). */
  available(key: string): number {
    return this.refill(key).tokens;
  }

  /**
   * Takes `cost` tokens: undefined when granted, else the whole seconds to wait until they are there
   * (for Retry-After; at least 1). A refused take takes nothing.
   */
  take(key: string, cost = 1): number | undefined {
    const bucket = this.refill(key);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return undefined;
    }
    return this.secondsUntil(bucket, cost);
  }

  /** Seconds until `cost` tokens are there, or undefined when they are there now. Takes nothing. */
  wait(key: string, cost = 1): number | undefined {
    const bucket = this.refill(key);
    return bucket.tokens >= cost ? undefined : this.secondsUntil(bucket, cost);
  }

  /** Keys remembered (for tests of the bound). */
  get size(): number {
    return this.buckets.size;
  }

  private forgetOne(now: number): void {
    let victim: string | undefined;
    let most = -1;
    let seen = 0;
    for (const [key, b] of this.buckets) {
      const tokens = Math.min(this.budget.count, b.tokens + Math.max(0, now - b.at) * this.tokensPerMs);
      if (tokens > most) {
        most = tokens;
        victim = key;
        if (tokens >= this.budget.count) break; // full: forgetting it loses nothing
      }
      if (++seen >= EVICTION_CANDIDATES) break;
    }
    if (victim !== undefined) this.buckets.delete(victim);
  }

  private secondsUntil(bucket: Bucket, cost: number): number {
    return Math.max(1, Math.ceil(((cost - bucket.tokens) * this.budget.perMs) / this.budget.count / 1000));
  }

  private refill(key: string): Bucket {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket) {
      // Re-inserted so the map's order is the order of last use, oldest first.
      this.buckets.delete(key);
      bucket.tokens = Math.min(this.budget.count, bucket.tokens + Math.max(0, now - bucket.at) * this.tokensPerMs);
      bucket.at = now;
    } else {
      bucket = { tokens: this.budget.count, at: now };
      if (this.buckets.size >= this.maxKeys) this.forgetOne(now);
    }
    this.buckets.set(key, bucket);
    return bucket;
  }
}

function rateLimited(wait: number, why: string): ApiError {
  return new ApiError('RATE_LIMITED', `${why}; retry after ${wait} s`, { 'retry-after': String(wait) });
}

/**
 * The Site API's budget, in events per site. Before the body is read, a site with no budget left is
 * refused (a flooding site does not get 4 MiB parsed per refusal); once it is read, the batch costs its
 * number of events, all or nothing. The key is the site the API key was checked against (the path's
 * siteId after the onRequest check), so only registered sites have buckets.
 */
export function siteEventLimits(budget: Budget, maxEventsPerCall: number, opts: BucketOptions = {}) {
  const buckets = new TokenBuckets(budget, opts);
  // The route's params and body are unknown to a hook written for any route: read by narrowing.
  const siteOf = (req: FastifyRequest) => String(field(req.params, 'siteId'));
  const why = `the site's event budget (${budget.count} events per ${budget.perMs / 1000} s) is spent`;
  return {
    buckets,
    beforeBody: async (req: FastifyRequest, _reply: FastifyReply, payload: RequestPayload): Promise<RequestPayload> => {
      const wait = buckets.wait(siteOf(req));
      if (wait !== undefined) throw rateLimited(wait, why);
      return payload;
    },
    charge: async (req: FastifyRequest): Promise<void> => {
      const events = field(req.body, 'events');
      // A batch the handler will refuse whole (not an array, empty, too long) costs one, like any request.
      const cost = Array.isArray(events) && events.length >= 1 && events.length <= maxEventsPerCall ? events.length : 1;
      const wait = buckets.take(siteOf(req), cost);
      if (wait !== undefined) throw rateLimited(wait, why);
    },
  };
}

/** The token endpoint's refusal: OAuth's form (RFC 6749 §5.2), `slow_down` (RFC 8628's "too often"). */
export function sendSlowDown(reply: FastifyReply, wait: number, description: string): FastifyReply {
  return reply.code(429).header('retry-after', String(wait)).header('cache-control', 'no-store').send({ error: 'slow_down', error_description: `${description}; retry after ${wait} s` });
}

/**
 * The token endpoint's budgets: every request costs its client address one (before the body is read);
 * a token costs its issuer one, taken once the assertion verified (takeForIssuer). So the issuer budget
 * counts tokens issued: forged assertions naming a bank never touch it nor learn whether it is spent
 * (they cost only their senders' address budgets), while a leaked key or a client that fetches a token
 * per call is held to it. The take is the check, so requests verified at the same moment cannot overshoot it.
 */
export function tokenEndpointLimits(perAddress: Budget, perIssuer: Budget, opts: BucketOptions = {}) {
  const byAddress = new TokenBuckets(perAddress, opts);
  const byIssuer = new TokenBuckets(perIssuer, opts);
  return {
    byAddress,
    byIssuer,
    perAddress: async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const wait = byAddress.take(clientKey(req.ip));
      return wait === undefined ? undefined : sendSlowDown(reply, wait, 'too many token requests from this address');
    },
    /** Takes one token of a verified issuer's budget: undefined, or the seconds to wait when it is spent. */
    takeForIssuer(issuerId: string): number | undefined {
      return byIssuer.take(issuerId);
    },
  };
}

/** `value[name]` when `value` is an object that has it, else undefined. */
function field(value: unknown, name: string): unknown {
  return isRecord(value) && Object.hasOwn(value, name) ? value[name] : undefined;
}
