import { SyncError, TrackhubApiError } from './errors.ts';
import type { NotificationHandler } from './handler.ts';
import { ACCESS_TOKEN, apiError, baseUrl, CARD_ID, CORRELATION_ID, checkIssuerId, checkRetryOptions, type FetchLike, jsonBody, type RetryOptions, type Sleep, sendWithRetry } from './http.ts';
import { optionalNumber } from './options.ts';
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
  /**
   * With a handler: the most pages read in one call (default 1,000); then the call returns with
   * `hasMore: true` and the cursor to go on from, so one call is bounded whatever the hub answers.
   */
  maxPages?: number;
}

export interface SyncResult {
  /** Where the next catch-up starts: keep it (e.g. beside the store) and pass it as `after`. */
  nextCursor: string;
  applied: number;
  duplicates: number;
  stale: number;
  /** True when the call stopped at `maxPages` with more to read: call again from `nextCursor`. */
  hasMore: boolean;
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
    if (!opts || typeof opts !== 'object') throw new TypeError('TrackhubClient needs its options: { hubUrl, issuerId, tokens }');
    if (!opts.tokens || typeof opts.tokens.getToken !== 'function') throw new TypeError('tokens (a TokenProvider) is required');
    checkRetryOptions(opts);
    this.hubUrl = baseUrl(opts.hubUrl);
    this.issuerId = checkIssuerId(opts.issuerId);
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
    const maxPages = optionalNumber(opts.maxPages, 1000, 'maxPages', { min: 1, integer: true });
    const result: SyncResult = { nextCursor: opts.after ?? '', applied: 0, duplicates: 0, stale: 0, hasMore: false };
    let after = opts.after;
    // Bounded by maxPages: one cursor per page.
    const seen = new Set<string>(after === undefined ? [] : [after]);
    for (let pages = 1; ; pages++) {
      let page: FeedPage;
      try {
        page = await this.#page(after, opts.limit);
        // A cursor handed out earlier in this call (A, B, A…) is a loop: read on, it would never end.
        if (page.nextCursor !== after && seen.has(page.nextCursor)) throw unexpected('the feed answered a cursor it had already handed out: no progress');
        seen.add(page.nextCursor);
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
      result.hasMore = page.hasMore;
      // The same cursor back with hasMore: an item the hub is still sending; the next call takes it. A last
      // page that brought items is followed by one more read from its cursor: the hub takes a read past a
      // notification as its acknowledgement, which releases the operation's later updates it held back.
      if (page.nextCursor === after || pages >= maxPages || (!page.hasMore && page.notifications.length === 0)) return result;
      after = page.nextCursor;
    }
  }

  async #page(after: string | undefined, limit: number | undefined): Promise<FeedPage> {
    const q = new URLSearchParams();
    if (after !== undefined) {
      if (typeof after !== 'string') throw new TypeError('after must be a cursor (a string) a previous call returned');
      q.set('after', after);
    }
    if (limit !== undefined) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new TypeError('limit must be an integer from 1 to 500');
      q.set('limit', String(limit));
    }
    const qs = q.toString();
    return checkPage(await this.#call('GET', `/banking/v1/issuers/${this.issuerId}/notifications${qs ? `?${qs}` : ''}`, {}));
  }

  #cardPath(cardId: string): string {
    if (typeof cardId !== 'string' || !CARD_ID.test(cardId)) throw new TypeError('cardId must be 1 to 48 of [A-Za-z0-9_-]');
    return `/banking/v1/issuers/${this.issuerId}/physicalCards/${cardId}`;
  }

  async #call(method: string, path: string, opts: RequestOptions, body?: unknown): Promise<unknown> {
    if (opts.correlationId !== undefined && !CORRELATION_ID.test(opts.correlationId)) throw new TypeError('correlationId must be 1 to 64 of [A-Za-z0-9_-]');
    const tokens = this.#opts.tokens;
    const url = `${this.hubUrl}${path}`;
    let res: Response | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      let used = '';
      res = await sendWithRetry(
        async () => {
          used = await tokens.getToken();
          // Any provider's token, checked before it goes into a header: fetch refuses a bad one quoting it.
          if (typeof used !== 'string' || !ACCESS_TOKEN.test(used)) {
            throw new TypeError('tokens.getToken() gave no usable access token (it must be 1 to 8192 visible ASCII characters, RFC 6750); it was not sent');
          }
          const headers: Record<string, string> = { authorization: `Bearer ${used}`, accept: 'application/json' };
          if (body !== undefined) headers['content-type'] = 'application/json';
          if (opts.correlationId) headers['x-correlation-id'] = opts.correlationId;
          return { url, init: { method, headers, body: body === undefined ? undefined : JSON.stringify(body) } };
        },
        this.#fetch,
        this.#opts,
      );
      if (res.status !== 401 || attempt > 0) break;
      // Once: a token refused twice in a row is not a stale cache but a configuration to fix.
      await res.body?.cancel().catch(() => {});
      tokens.invalidate(used);
    }
    if (!res?.ok) throw await apiError(res as Response, url);
    return jsonBody(res, url);
  }
}

function unexpected(why: string): TrackhubApiError {
  return new TrackhubApiError({ status: 200, errorCode: 'UNEXPECTED_RESPONSE', errorMessage: why });
}

/** A feed page as the contract has it, or UNEXPECTED_RESPONSE: a broken answer must not be half applied. */
function checkPage(value: unknown): FeedPage {
  const page = value as Partial<FeedPage> | null;
  if (typeof page !== 'object' || page === null || !Array.isArray(page.notifications) || typeof page.nextCursor !== 'string' || typeof page.hasMore !== 'boolean') {
    throw unexpected('the feed page is not { notifications: [...], nextCursor: string, hasMore: boolean }');
  }
  for (const [i, item] of page.notifications.entries()) {
    const it = item as { webhookId?: unknown; body?: unknown; createdAt?: unknown } | null;
    if (typeof it !== 'object' || it === null || typeof it.webhookId !== 'string' || typeof it.body !== 'object' || it.body === null || Array.isArray(it.body)) {
      throw unexpected(`the feed's notifications[${i}] is not { webhookId: string, body: object }`);
    }
  }
  return page as FeedPage;
}
