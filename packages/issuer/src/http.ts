import { TrackhubApiError, TrackhubNetworkError } from './errors.ts';
import { describe, optionalNumber } from './options.ts';

/** The `fetch` the SDK calls: Node 20's global one unless a test or a proxy setup passes its own. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RetryOptions {
  /** Retries of a 429 or 503 answer, after its `Retry-After` (default 3). */
  maxRetries?: number;
  /** The longest `Retry-After` waited for, in seconds (default 60); a longer one is thrown at once. */
  maxRetryWaitSeconds?: number;
  /** How long one request may take, answer read included, in milliseconds (default 30,000); then it fails with a TrackhubNetworkError (`timedOut`). */
  timeoutMs?: number;
}

/** RetryOptions checked once, in a constructor: a NaN or a string would otherwise disable a bound. */
export function checkRetryOptions(opts: RetryOptions): Required<RetryOptions> {
  return {
    maxRetries: optionalNumber(opts.maxRetries, 3, 'maxRetries', { min: 0, max: 100, integer: true }),
    maxRetryWaitSeconds: optionalNumber(opts.maxRetryWaitSeconds, 60, 'maxRetryWaitSeconds', { min: 0 }),
    timeoutMs: optionalNumber(opts.timeoutMs, 30_000, 'timeoutMs', { min: 1, max: 2_147_483_647, integer: true }),
  };
}

/** Waits `ms` (a seam so tests need not sleep). */
export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `Retry-After` as seconds: a number of seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * Sends a request made afresh by `make` for each attempt (a body stream cannot be sent twice), retrying
 * 429 and 503 after `Retry-After` — bounded in number and in wait, so a caller is never held for long —
 * and returns the last answer, good or bad, for the caller to read. The timeout covers reading the
 * answer's body too (the signal stays on the response). A network failure or a timeout is thrown as a
 * TrackhubNetworkError naming the URL.
 */
export async function sendWithRetry(make: () => Promise<{ url: string; init: RequestInit }>, fetchFn: FetchLike, opts: RetryOptions & { sleep?: Sleep } = {}): Promise<Response> {
  const { maxRetries, maxRetryWaitSeconds: maxWait, timeoutMs } = checkRetryOptions(opts);
  const sleep = opts.sleep ?? realSleep;
  for (let attempt = 0; ; attempt++) {
    const { url, init } = await make();
    let res: Response;
    try {
      // A hub that never answers must not hold the caller for ever.
      res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw networkError(url, err);
    }
    if ((res.status !== 429 && res.status !== 503) || attempt >= maxRetries) return res;
    // Without Retry-After, one second: the hub always sends it on these answers, a proxy may not.
    const wait = retryAfterSeconds(res.headers.get('retry-after')) ?? 1;
    if (wait > maxWait) return res;
    await res.body?.cancel().catch(() => {});
    await sleep(wait * 1000);
  }
}

/** fetch's error as a TrackhubNetworkError naming the URL without its query (a cursor, never a token: tokens go in headers). */
export function networkError(url: string, err: unknown): TrackhubNetworkError {
  if (err instanceof TrackhubNetworkError) return err;
  const name = (err as Error)?.name;
  return new TrackhubNetworkError(url.replace(/[?#].*$/, ''), name === 'TimeoutError' || name === 'AbortError', err);
}

/** The most of an error answer read: enough for any error body, and a hostile endless one stops here. */
export const MAX_ERROR_BODY = 64 * 1024;
/** The most of a good answer read (a feed page of 500 notifications is far smaller). */
export const MAX_BODY = 32 * 1024 * 1024;

/** An answer's body as text, at most `max` bytes (the rest is not read); under the request's timeout. */
export async function readText(res: Response, max: number, url: string): Promise<{ text: string; truncated: boolean }> {
  if (!res.body) return { text: '', truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        chunks.push(value.subarray(0, value.byteLength - (size - max)));
        return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
      }
      chunks.push(value);
    }
  } catch (err) {
    throw networkError(url, err);
  }
}

/** Reads a refusal's `{ errorCode, error }` body (or whatever came) into a TrackhubApiError. */
export async function apiError(res: Response, url: string): Promise<TrackhubApiError> {
  const correlationId = res.headers.get('x-correlation-id') ?? undefined;
  const retryAfter = retryAfterSeconds(res.headers.get('retry-after'));
  const { text } = await readText(res, MAX_ERROR_BODY, url).catch(() => ({ text: '' }));
  let errorCode = 'UNEXPECTED_RESPONSE';
  let errorMessage = `the hub answered ${res.status} without an error body`;
  try {
    const body = JSON.parse(text) as { errorCode?: unknown; error?: unknown };
    if (typeof body?.errorCode === 'string') errorCode = body.errorCode;
    if (typeof body?.error === 'string') errorMessage = body.error;
  } catch {
    // A proxy's HTML page or an empty body: keep the generic words, never echo a foreign page.
  }
  return new TrackhubApiError({ status: res.status, errorCode, errorMessage, correlationId, retryAfterSeconds: retryAfter });
}

/** A good answer's JSON body; an answer that is not JSON is a TrackhubApiError UNEXPECTED_RESPONSE that does not quote it. */
export async function jsonBody(res: Response, url: string): Promise<unknown> {
  const { text, truncated } = await readText(res, MAX_BODY, url);
  const unexpected = (why: string) =>
    new TrackhubApiError({ status: res.status, errorCode: 'UNEXPECTED_RESPONSE', errorMessage: why, correlationId: res.headers.get('x-correlation-id') ?? undefined });
  if (truncated) throw unexpected(`the hub's answer is larger than ${MAX_BODY} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: a proxy's page, or worse, must not land in logs.
    throw unexpected(`the hub answered ${res.status} with a body that is not JSON (${res.headers.get('content-type') ?? 'no content-type'})`);
  }
}

/**
 * The hub's base URL as given, less trailing slashes and with its scheme lower-case; refused unless an http(s) URL without query,
 * fragment or credentials. Otherwise kept as written, not normalised: the default audience is built from it and
 * the hub compares `aud` with its public URL as a string, so `http://host:80` must stay `http://host:80`.
 */
export function baseUrl(hubUrl: string): string {
  if (typeof hubUrl !== 'string') throw new TypeError(`hubUrl must be a string (got ${describe(hubUrl)})`);
  let u: URL;
  try {
    u = new URL(hubUrl);
  } catch {
    throw new TypeError('hubUrl is not a URL (e.g. https://hub.example.com)');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError(`hubUrl must be an http(s) URL, got ${u.protocol}`);
  if (u.search || u.hash || u.username || u.password || /[?#]/.test(hubUrl)) throw new TypeError('hubUrl must have no query, fragment or credentials');
  if (hubUrl.trim() !== hubUrl) throw new TypeError('hubUrl must have no surrounding spaces');
  // Kept as written (the hub compares the audience as a string), but for the scheme: schemes are
  // case-insensitive and a hub's public URL is written lower-case, so HTTPS://... would only fail there.
  return hubUrl.replace(/\/+$/, '').replace(/^[A-Za-z][A-Za-z0-9+.-]*:/, (scheme) => scheme.toLowerCase());
}

/** An issuer id as the hub defines it (10 of [A-Za-z0-9_-]). */
export const ISSUER_ID = /^[A-Za-z0-9_-]{10}$/;
/** A card id as the hub defines it (1–48 of [A-Za-z0-9_-]). */
export const CARD_ID = /^[A-Za-z0-9_-]{1,48}$/;
/** An access token as it may go into an authorization header: visible ASCII (RFC 6750), bounded. */
export const ACCESS_TOKEN = /^[\x21-\x7e]{1,8192}$/;
/** A correlation id as the hub accepts it (1–64 of [A-Za-z0-9_-]). */
export const CORRELATION_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function checkIssuerId(issuerId: string): string {
  if (typeof issuerId !== 'string' || !ISSUER_ID.test(issuerId)) throw new TypeError('issuerId must be 10 of [A-Za-z0-9_-]');
  return issuerId;
}
