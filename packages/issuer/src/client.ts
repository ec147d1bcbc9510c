import { SyncError } from './errors.ts';
import type { NotificationHandler } from './handler.ts';
import { apiError, baseUrl, CARD_ID, CORRELATION_ID, checkIssuerId, type FetchLike, type RetryOptions, type Sleep, sendWithRetry } from './http.ts';
import type { TokenProvider } from './token.ts';
import type { FeedPage, TrackingStatus, TrackRequest, TrackResponse } from './types.ts';

export interface TrackhubClientOptions extends RetryOptions {
  hubUrl: string;
  issuerId: string;
  tokens: TokenProvider;
  fetch?: FetchLike;
  sleep?: Sleep;
}

export interface RequestOptions {
  /** Sent as `x-correlation-id` (1–64 of [A-Za-z0-9_-]); the hub echoes it and carries it into its logs and notifications. */
  correlationId?: string;
}

export interface SyncOptions {
  /** The cursor a previous call returned; without it, from the oldest notification the hub keeps. */
  after?: string;
  /** Items per page, 1–500 (the hub's default is 100). */
  limit?: number;
}

export interface SyncResult {
  /** Where the next catch-up starts: keep it (e.g. beside the store) and pass it as `after`. */
  nextCursor: string;
  applied: number;
  duplicates: number;
  stale: number;
}

/**
 * The Issuer API of one issuer: track, trackingStatus and the catch-up feed. Each request carries a
 * token from `tokens`; a 401 (the hub no longer accepts the token: keys replaced, hub restarted on new
 * keys) gets one new token and one more try. 429 and 503 are retried after `Retry-After`. Every other
 * refusal is thrown as a TrackhubApiError.
 */
export class TrackhubClient {
  readonly hubUrl: string;
  readonly issuerId: string;
  readonly #opts: TrackhubClientOptions;
  readonly #fetch: FetchLike;

  constructor(opts: TrackhubClientOptions) {
    this.hubUrl = baseUrl(opts.hubUrl);
    this.issuerId = checkIssuerId(opts.issuerId);
    if (!opts.tokens || typeof opts.tokens.getToken !== 'function') throw new TypeError('tokens (a TokenProvider) is required');
    this.#opts = opts;
    this.#fetch = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Asks the hub to track a card; answers `{ operationId }` (the same one for the same body while the operation is open). */
  async track(cardId: string, body: TrackRequest, opts: RequestOptions = {}): Promise<TrackResponse> {
    return this.#call('POST', `${this.#cardPath(cardId)}/track`, opts, body) as Promise<TrackResponse>;
  }

  /** The card's operations, newest first, each with its whole checkpoint history (404 NOT_FOUND for a card never tracked). */
  async trackingStatus(cardId: string, opts: RequestOptions = {}): Promise<TrackingStatus> {
    return this.#call('GET', `${this.#cardPath(cardId)}/trackingStatus`, opts) as Promise<TrackingStatus>;
  }

  /** One page of the catch-up feed: the issuer's notifications in the order the hub committed them. */
  syncNotifications(opts?: SyncOptions): Promise<FeedPage>;
  /**
   * Applies every notification since `after` through `handler` (de-duplicated and ordered like a push),
   * page after page until the hub has no more. Throws SyncError carrying the cursor to resume from.
   */
  syncNotifications(opts: SyncOptions & { handler: NotificationHandler }): Promise<SyncResult>;
  async syncNotifications(opts: SyncOptions & { handler?: NotificationHandler } = {}): Promise<FeedPage | SyncResult> {
    if (!opts.handler) return this.#page(opts.after, opts.limit);
    const result: SyncResult = { nextCursor: opts.after ?? '', applied: 0, duplicates: 0, stale: 0 };
    let after = opts.after;
    for (;;) {
      let page: FeedPage;
      try {
        page = await this.#page(after, opts.limit);
        for (const item of page.notifications) {
          const r = await opts.handler.process(item.webhookId, item.body, { webhookId: item.webhookId, timestamp: new Date(item.createdAt), correlationId: undefined, source: 'sync' });
          if (r.outcome === 'duplicate') result.duplicates++;
          result.applied += r.applied;
          result.stale += r.stale;
        }
      } catch (err) {
        // The page's own start: items of it already applied come back as duplicates, so nothing is lost.
        throw new SyncError(after, err);
      }
      result.nextCursor = page.nextCursor;
      if (!page.hasMore || page.nextCursor === after) return result;
      after = page.nextCursor;
    }
  }

  async #page(after: string | undefined, limit: number | undefined): Promise<FeedPage> {
    const q = new URLSearchParams();
    if (after !== undefined) q.set('after', after);
    if (limit !== undefined) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new TypeError('limit must be an integer from 1 to 500');
      q.set('limit', String(limit));
    }
    const qs = q.toString();
    return this.#call('GET', `/banking/v1/issuers/${this.issuerId}/notifications${qs ? `?${qs}` : ''}`, {}) as Promise<FeedPage>;
  }

  #cardPath(cardId: string): string {
    if (typeof cardId !== 'string' || !CARD_ID.test(cardId)) throw new TypeError('cardId must be 1 to 48 of [A-Za-z0-9_-]');
    return `/banking/v1/issuers/${this.issuerId}/physicalCards/${cardId}`;
  }

  async #call(method: string, path: string, opts: RequestOptions, body?: unknown): Promise<unknown> {
    if (opts.correlationId !== undefined && !CORRELATION_ID.test(opts.correlationId)) throw new TypeError('correlationId must be 1 to 64 of [A-Za-z0-9_-]');
    const tokens = this.#opts.tokens;
    let res: Response | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      let used = '';
      res = await sendWithRetry(
        async () => {
          used = await tokens.getToken();
          const headers: Record<string, string> = { authorization: `Bearer ${used}`, accept: 'application/json' };
          if (body !== undefined) headers['content-type'] = 'application/json';
          if (opts.correlationId) headers['x-correlation-id'] = opts.correlationId;
          return { url: `${this.hubUrl}${path}`, init: { method, headers, body: body === undefined ? undefined : JSON.stringify(body) } };
        },
        this.#fetch,
        this.#opts,
      );
      if (res.status !== 401 || attempt > 0) break;
      // Once: a token refused twice in a row is not a stale cache but a configuration to fix.
      await res.body?.cancel().catch(() => {});
      tokens.invalidate(used);
    }
    if (!res?.ok) throw await apiError(res as Response);
    return res.json();
  }
}
