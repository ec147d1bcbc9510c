import { TrackhubApiError } from './errors.ts';

/** The `fetch` the SDK calls: Node 20's global one unless a test or a proxy setup passes its own. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RetryOptions {
  /** Retries of a 429 or 503 answer, after its `Retry-After` (default 3). */
  maxRetries?: number;
  /** The longest `Retry-After` waited for, in seconds (default 60); a longer one is thrown at once. */
  maxRetryWaitSeconds?: number;
  /** How long one request may take, in milliseconds (default 30,000); then it fails with a TimeoutError. */
  timeoutMs?: number;
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
 * and returns the last answer, good or bad, for the caller to read.
 */
export async function sendWithRetry(make: () => Promise<{ url: string; init: RequestInit }>, fetchFn: FetchLike, opts: RetryOptions & { sleep?: Sleep } = {}): Promise<Response> {
  const maxRetries = opts.maxRetries ?? 3;
  const maxWait = opts.maxRetryWaitSeconds ?? 60;
  const sleep = opts.sleep ?? realSleep;
  for (let attempt = 0; ; attempt++) {
    const { url, init } = await make();
    // A hub that never answers must not hold the caller for ever.
    const res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
    if ((res.status !== 429 && res.status !== 503) || attempt >= maxRetries) return res;
    // Without Retry-After, one second: the hub always sends it on these answers, a proxy may not.
    const wait = retryAfterSeconds(res.headers.get('retry-after')) ?? 1;
    if (wait > maxWait) return res;
    await res.body?.cancel().catch(() => {});
    await sleep(wait * 1000);
  }
}

/** Reads a refusal's `{ errorCode, error }` body (or whatever came) into a TrackhubApiError. */
export async function apiError(res: Response): Promise<TrackhubApiError> {
  const correlationId = res.headers.get('x-correlation-id') ?? undefined;
  const retryAfter = retryAfterSeconds(res.headers.get('retry-after'));
  const text = await res.text().catch(() => '');
  let errorCode = 'UNEXPECTED_RESPONSE';
  let errorMessage = `the hub answered ${res.status} without an error body`;
  try {
    const body = JSON.parse(text) as { errorCode?: unknown; error?: unknown };
    if (typeof body.errorCode === 'string') errorCode = body.errorCode;
    if (typeof body.error === 'string') errorMessage = body.error;
  } catch {
    // A proxy's HTML page or an empty body: keep the generic words, never echo a foreign page.
  }
  return new TrackhubApiError({ status: res.status, errorCode, errorMessage, correlationId, retryAfterSeconds: retryAfter });
}

/** The hub's base URL without a trailing slash; refused unless http(s). */
export function baseUrl(hubUrl: string): string {
  const u = new URL(hubUrl);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError(`hubUrl must be an http(s) URL, got ${u.protocol}`);
  return u.href.replace(/\/+$/, '');
}

/** An issuer id as the hub defines it (10 of [A-Za-z0-9_-]). */
export const ISSUER_ID = /^[A-Za-z0-9_-]{10}$/;
/** A card id as the hub defines it (1–48 of [A-Za-z0-9_-]). */
export const CARD_ID = /^[A-Za-z0-9_-]{1,48}$/;
/** A correlation id as the hub accepts it (1–64 of [A-Za-z0-9_-]). */
export const CORRELATION_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function checkIssuerId(issuerId: string): string {
  if (typeof issuerId !== 'string' || !ISSUER_ID.test(issuerId)) throw new TypeError('issuerId must be 10 of [A-Za-z0-9_-]');
  return issuerId;
}
